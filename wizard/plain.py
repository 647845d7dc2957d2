"""The plain-prompt wizard (``tljh-wizard --plain``): the same steps as the full-screen one, one question at a time.

Questions are built from the same ``Field`` declarations and judged by the same validators; each accepted answer is
saved at once, so a run stopped anywhere (Ctrl-C, a lost terminal, a kill) resumes at the same step. Check results
print as a table. Nothing here imports Textual; questionary is imported only when the prompts start.

The prompts go through a ``Prompter``: ``QuestionaryPrompter`` for people, ``ScriptedPrompter`` for programs and
tests (answers by key, in order).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

from wizard.diagnosis import Diagnosis, Status, worst
from wizard.fields import Field, ValidationError

EXIT_DONE, EXIT_ERROR, EXIT_STOPPED, EXIT_INTERRUPTED = 0, 2, 3, 130


class Prompter(Protocol):
    def ask(self, key: str, spec: Field, current: Any, has_secret: bool,
            judge: Callable[[Any], str | None]) -> Any:
        """One field's raw answer (``judge(raw)`` returns an error message or None); raises KeyboardInterrupt."""

    def confirm(self, question: str, default: bool = False) -> bool: ...

    def say(self, text: str = "") -> None: ...


class QuestionaryPrompter:
    """Prompts for people: questionary questions with inline validation; Ctrl-C propagates as KeyboardInterrupt."""

    def __init__(self, output=None) -> None:
        import questionary

        self.q = questionary
        self.output = output or sys.stdout

    def say(self, text: str = "") -> None:
        print(text, file=self.output, flush=True)

    def ask(self, key, spec, current, has_secret, judge):
        q = self.q
        self.say(f"  {spec.help}")
        label = spec.label + (" *" if spec.required else "")
        if spec.kind == "choice":
            default = current if current in spec.choices else None
            return q.select(label, choices=list(spec.choices), default=default).unsafe_ask()
        if spec.kind == "bool":
            return q.confirm(label, default=bool(current)).unsafe_ask()
        validate = lambda raw: judge(raw) or True  # noqa: E731 (questionary wants True or a message)
        if spec.secret:
            hint = " (saved: press Enter to keep it)" if has_secret else ""
            return q.password(label + hint, validate=validate).unsafe_ask()
        return q.text(label, default=spec.format(current), validate=validate,
                      instruction=f"(e.g. {spec.example})" if spec.example and current in (None, "", []) else None
                      ).unsafe_ask()

    def confirm(self, question, default=False):
        return self.q.confirm(question, default=default).unsafe_ask()


class ScriptedPrompter:
    """Answers from a program. ``answers`` maps ``section.field`` to a raw value, or to a tuple of values tried in
    turn (so a test can give an invalid value first); unlisted fields keep their current/default value. ``confirms``
    maps a fragment of a yes/no question to its answer (or a list of answers, used in turn); unmatched questions
    get their default. ``interrupt_at``: raise KeyboardInterrupt when that field is asked, like Ctrl-C."""

    def __init__(self, answers: dict[str, Any] | None = None, confirms: dict[str, bool | list[bool]] | None = None,
                 interrupt_at: str | None = None) -> None:
        self.answers = dict(answers or {})
        self.confirms = {k: list(v) if isinstance(v, list) else v for k, v in (confirms or {}).items()}
        self.interrupt_at = interrupt_at
        self.transcript: list[str] = []
        self.asked: list[str] = []
        self.rejected: dict[str, list[str]] = {}

    def say(self, text: str = "") -> None:
        self.transcript.append(text)

    def ask(self, key, spec, current, has_secret, judge):
        self.asked.append(key)
        if key == self.interrupt_at:
            raise KeyboardInterrupt
        scripted = self.answers.get(key, _KEEP)
        for raw in scripted if isinstance(scripted, tuple) else (scripted,):
            if raw is _KEEP:
                raw = "" if spec.secret else current
            message = judge(raw)
            if message is None:
                self.transcript.append(f"? {spec.label}")
                return raw
            self.rejected.setdefault(key, []).append(message)
        raise AssertionError(f"every scripted answer for {key} was refused: {self.rejected[key]}")

    def confirm(self, question, default=False):
        self.transcript.append(f"? {question}")
        for fragment, answer in self.confirms.items():
            if fragment in question:
                if isinstance(answer, list):
                    return answer.pop(0) if answer else default
                return answer
        return default


_KEEP = object()


# ---------------------------------------------------------------------------------------------------------------
# the flow


def diagnosis_table(diagnoses: Sequence[Diagnosis]) -> str:
    """Diagnoses as a readable plain-text table: status, check, summary; details and fix hints indented below."""
    if not diagnoses:
        return "  (no checks)"
    width = max(len(d.id) for d in diagnoses)
    lines = [f"  {'STATUS':8} {'CHECK':{width}}  SUMMARY"]
    for item in diagnoses:
        lines.append(f"  {item.status.value.upper():8} {item.id:{width}}  {item.summary}")
        pad = " " * (12 + width)
        if item.details and item.status in (Status.WARNING, Status.ERROR):
            lines += [pad + line for line in item.details.splitlines()]
        if item.fix and item.status in (Status.WARNING, Status.ERROR):
            lines.append(f"{pad}fix: {item.fix}")
    return "\n".join(lines)


class PlainWizard:
    """Walks the steps with a ``Prompter`` over an open session and its hub context."""

    def __init__(self, ctx, prompter: Prompter) -> None:
        self.ctx = ctx
        self.prompter = prompter
        self.step_id: str | None = None

    @property
    def session(self):
        return self.ctx.session

    def say(self, text: str = "") -> None:
        self.prompter.say(self.ctx.redact(text))

    def run(self) -> int:
        from wizard.flow import resume_question
        from wizard.steps import STEP_IDS, next_step

        self.ctx.host_key_prompt = self.ask_host_key
        question = resume_question(self.ctx)
        if question is not None and self.prompter.confirm(question, default=True):
            step_id = self.session.current_step
        else:
            step_id = STEP_IDS[0]
            self.session.go_to(step_id)
        while step_id is not None:
            self.step_id = step_id
            outcome = self.run_step(step_id)
            if outcome == "stop":
                self.say(f"Stopped at {self.title()}. The session keeps every accepted answer: run the same "
                         "command again to resume.")
                return EXIT_STOPPED
            following = next_step(step_id)
            if outcome == "skip":
                self.session.skip_step(step_id)
                self.session.go_to(following or step_id)
                step_id = following
                continue
            if step_id in self.session.skipped_steps:
                self.session.skip_step(step_id, skipped=False)
            if following is None:
                self.session.go_to(step_id, finished=step_id)
            else:
                failed = outcome == "failed"
                self.session.go_to(following, finished=None if failed else step_id,
                                   failed=step_id if failed else None)
            step_id = following
        self.ctx.log("plain wizard finished")
        return EXIT_DONE

    def title(self) -> str:
        from wizard.steps import step

        return step(self.step_id).title if self.step_id else "the start"

    # -- steps -------------------------------------------------------------------------------------------------

    def run_step(self, step_id: str) -> str:
        """One step: 'next', 'failed' (continued despite a failed check), 'skip' or 'stop'."""
        from wizard.steps import STEP_IDS, step

        item = step(step_id)
        self.say(f"\n== Step {STEP_IDS.index(step_id) + 1}/{len(STEP_IDS)}: {item.title} ==")
        self.ctx.log(f"step {step_id}: shown")
        if item.skippable and not self.prompter.confirm(f"Set up {item.title} now?", default=True):
            return "skip"
        if step_id == "review":
            return self.review()
        if step_id == "done":
            return self.done()
        for section in item.sections:
            self.ask_section(section)
        if step_id == "authenticator" and not self.confirm_insecure():
            return self.run_step(step_id)
        return self.run_checks(step_id)

    def hidden(self, section: str) -> set[str]:
        hidden = {"insecure_confirmed"} if section == "authenticator" else set()
        if section == "connection" and self.ctx.mode != "ssh":
            hidden |= {"host", "port", "user", "key_file", "key_passphrase", "host_key"}
            if self.ctx.mode == "sandbox":
                hidden |= {"sudo_password", "tljh_prefix"}
        return hidden

    def ask_section(self, name: str) -> None:
        """Ask every applicable field in order, saving each answer; then re-ask what the cross-field rules refuse."""
        from wizard.answers import SECTIONS

        spec = SECTIONS[name]
        hidden = self.hidden(name)
        for item in spec.fields:
            if item.name not in hidden and item.applies(self.session.answers.section(name)):
                self.ask_field(f"{name}.{item.name}", item)
        self.clear_inapplicable(name)
        for _attempt in range(3):
            errors = self.section_errors(name, hidden)
            if not errors:
                return
            for error in errors:
                self.say(f"  ✘ {error}")
                self.ask_field(error.key, spec.field(error.key.partition(".")[2]))
            self.clear_inapplicable(name)

    def section_errors(self, name: str, hidden: set[str]) -> list[ValidationError]:
        from wizard.answers import SECTIONS

        spec = SECTIONS[name]
        answers = self.session.answers
        values = answers.section(name)
        errors = [ValidationError("a value is required", f"{name}.{f.name}") for f in spec.fields
                  if f.required and f.applies(values) and values.get(f.name) in (None, "", [])]
        errors += [e for e in spec.rules(values, answers)
                   if e.key.startswith(name + ".") and e.key.partition(".")[2] not in hidden]
        from wizard.flow import entry_errors

        errors += entry_errors(self.ctx, name)  # what only the hub's facts tell (TLJH 2.0.0: whole CPUs)
        return errors

    def clear_inapplicable(self, name: str) -> None:
        from wizard.answers import SECTIONS

        for item in SECTIONS[name].fields:
            key = f"{name}.{item.name}"
            if self.session.answers.answered(key) and not item.applies(self.session.answers.section(name)
                                                                           | self.session.answers.data[name]):
                self.session.accept(key, None)

    def ask_field(self, key: str, spec: Field) -> None:
        answers = self.session.answers
        has_secret = spec.secret and answers.answered(key)

        def judge(raw: Any) -> str | None:
            if spec.secret and raw in ("", None) and (has_secret or not spec.required):
                return None
            try:
                value = spec.check(raw, key)
            except ValidationError as exc:
                return exc.message
            from wizard.flow import entry_error

            refused = entry_error(self.ctx, key, value)  # what the hub's facts tell (TLJH 2.0.0: whole CPUs)
            return refused.message if refused else None

        current = None if spec.secret else answers.get(key)
        raw = self.prompter.ask(key, spec, current, has_secret, judge)
        if spec.secret and raw in ("", None):
            return  # keep the saved secret (or leave it unset)
        self.session.accept(key, raw)

    def confirm_insecure(self) -> bool:
        from wizard.answers import INSECURE_TYPES

        answers = self.session.answers
        kind = answers.get("authenticator.type")
        if kind not in INSECURE_TYPES:
            if answers.answered("authenticator.insecure_confirmed"):
                self.session.accept("authenticator.insecure_confirmed", None)
            return True
        if answers.get("authenticator.insecure_confirmed"):
            return True
        self.say(f"{kind} lets anyone who can reach the hub log in. Use it only for a throw-away hub.")
        if self.prompter.confirm("I understand this is insecure. Use it anyway?", default=False):
            self.session.accept("authenticator.insecure_confirmed", True)
            return True
        self.say("Choose an authenticator fit for production.")
        return False

    def run_checks(self, step_id: str) -> str:
        from wizard.flow import CHECKS

        check = CHECKS.get(step_id)
        if check is None:
            return "next"
        while True:
            self.say("  checking …")
            diagnoses = check(self.ctx, self.progress)
            self.say(diagnosis_table(diagnoses))
            if worst(diagnoses) is not Status.ERROR:
                return "next"
            if step_id == "connect":
                if not self.prompter.confirm("The connection failed. Change the answers and try again?",
                                             default=True):
                    return "stop"
                self.ask_section("connection")
                continue
            if self.prompter.confirm("A check failed. Run the checks again?", default=False):
                continue
            return "failed" if self.prompter.confirm("Continue anyway?", default=False) else "stop"

    def progress(self, phase: str, message: str) -> None:
        self.say(f"  … {message}")

    def ask_host_key(self, host: str, key_type: str, fingerprint: str) -> bool:
        self.say(f"The authenticity of host {host} can't be established.\n{key_type} key fingerprint is "
                 f"{fingerprint}.\nCompare it with the fingerprint your provider shows for this VM.")
        return self.prompter.confirm("Accept and remember this host key?", default=False)

    def review(self) -> str:
        from wizard import flow
        from wizard.diagnosis import Status as S

        reviewed = flow.plan(self.ctx, self.progress)
        if reviewed.problems:
            self.say("Not ready to apply — these answers are missing or wrong:")
            for problem in reviewed.problems:
                self.say(f"  ✘ {problem}")
            return "stop"
        self.say(reviewed.diff.rstrip("\n") or "config.yaml is already as the answers want it.")
        self.say("Actions:\n" + "\n".join(f"  {n}. {a}" for n, a in enumerate(reviewed.actions, 1)))
        if reviewed.access:
            self.say(reviewed.access)
        if not reviewed.actions:
            return "next"
        if not self.prompter.confirm(f"Apply these changes to {flow.describe_target(self.ctx)}?", default=False):
            return "stop"
        outcomes = flow.apply(self.ctx, self.progress)
        self.say(diagnosis_table(outcomes))
        return "next" if worst(outcomes) is not S.ERROR else "stop"

    def done(self) -> str:
        from wizard import flow

        self.say(f"The hub {flow.describe_target(self.ctx)} is set up.")
        directory = Path("tljh-wizard-exports")
        if self.prompter.confirm(f"Write the exports (answers, secrets 0600, TLJH config) to ./{directory}?",
                                 default=True):
            for kind in ("answers", "secrets", "tljh"):
                try:
                    self.say(f"  wrote {flow.export(self.ctx, kind, directory)}")
                except Exception as exc:  # a refused export is a message, never a traceback
                    self.say(f"  ✘ {kind}: {exc}")
        self.say("SSH access:\n" + "\n".join(f"  {line}" for line in flow.ssh_done_lines(self.ctx)))
        self.say(f"Replay this setup without prompts:\n  {flow.replay_line(str(directory))}")
        if self.ctx.mode != "sandbox":
            self.say("Audit the hub every morning (cron):\n  " + flow.cron_line(self.ctx))
        return "next"


def run_plain(name: str | None, *, mode: str, prefill: dict, sandbox_prefix=None, prompter: Prompter | None = None,
              extras: dict | None = None) -> int:
    """The plain wizard over session ``name``. Ctrl-C stops with one line saying where, never a traceback."""
    from wizard.flow import open_context

    if prompter is None and not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("tljh-wizard --plain asks questions on a terminal; without one, replay an answers file: "
              "tljh-wizard apply answers.yaml --secrets secrets.yaml", file=sys.stderr)
        return EXIT_ERROR
    ctx = open_context(name, mode=mode, prefill=prefill, sandbox_prefix=sandbox_prefix)
    ctx.extras.update(extras or {})
    wizard = PlainWizard(ctx, prompter or QuestionaryPrompter())
    try:
        code = wizard.run()
        from wizard.flow import exit_summary

        wizard.say(exit_summary(ctx, finished=code == EXIT_DONE))
        return code
    except (KeyboardInterrupt, EOFError):
        ctx.log(f"interrupted at {wizard.title()}")
        print(f"\nStopped at {wizard.title()}; every accepted answer is saved — run the same command again to "
              "resume.", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        ctx.close()
        ctx.session.close()
