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
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence

from wizard.diagnosis import Diagnosis, Status, worst
from wizard.fields import Field, ValidationError

if TYPE_CHECKING:
    from wizard.context import Mode, RunOptions

EXIT_DONE, EXIT_ERROR, EXIT_STOPPED, EXIT_INTERRUPTED = 0, 2, 3, 130


BACK_WORD = "<"  # typed at any question: go back to the previous step (answers kept)


class _Back:
    """What a prompter returns when the operator asks to go back a step."""

    def __repr__(self) -> str:
        return "BACK"


BACK = _Back()


class GoBack(Exception):
    """Raised inside a step when the operator answered ``<`` (or chose "back"): the walk goes to the previous step."""


class Prompter(Protocol):
    def ask(self, key: str, spec: Field, current: Any, has_secret: bool,
            judge: Callable[[Any], str | None]) -> Any:
        """One field's raw answer (``judge(raw)`` returns an error message or None), or ``BACK``; raises
        KeyboardInterrupt."""

    def confirm(self, question: str, default: bool = False, back: bool = False) -> bool | _Back:
        """Yes or no; ``back``: ``BACK`` may be answered too."""

    def choose(self, question: str, options: Sequence[tuple[str, str]], default: str) -> str:
        """One of ``options`` (value, label) by value."""

    def say(self, text: str = "") -> None: ...


class QuestionaryPrompter:
    """Prompts for people: questionary questions with inline validation; Ctrl-C propagates as KeyboardInterrupt.
    ``<`` then Enter at a text question, ``<`` at a yes/no question, or the "back" choice of a list goes back a
    step."""

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
            choices = [*spec.choices, q.Choice(f"{BACK_WORD} back to the previous step", value=BACK_WORD)]
            answer = _with_back(q.select(label, choices=choices, default=default)).unsafe_ask()
            return BACK if answer in (BACK_WORD, BACK) else answer
        if spec.kind == "bool":
            return self.confirm(label, default=bool(current), back=True)

        def validate(raw: str):  # questionary wants True or a message
            return True if raw.strip() == BACK_WORD else (judge(raw) or True)

        if spec.secret:
            hint = " (saved: press Enter to keep it)" if has_secret else ""
            answer = q.password(label + hint, validate=validate).unsafe_ask()
        else:
            answer = q.text(label, default=spec.format(current), validate=validate,
                            instruction=f"(e.g. {spec.example})" if spec.example and current in (None, "", [])
                            else None).unsafe_ask()
        return BACK if isinstance(answer, str) and answer.strip() == BACK_WORD else answer

    def confirm(self, question, default=False, back=False):
        question_ = self.q.confirm(question, default=default,
                                   instruction=f"({'Y/n' if default else 'y/N'}{', < back' if back else ''}) ")
        return (_with_back(question_) if back else question_).unsafe_ask()

    def choose(self, question, options, default):
        q = self.q
        choices = [q.Choice(label, value=value) for value, label in options]
        return q.select(question, choices=choices, default=next(c for c in choices if c.value == default)
                        ).unsafe_ask()


def _with_back(question):
    """A questionary question where the key ``<`` answers ``BACK`` at once (yes/no and list questions)."""
    from prompt_toolkit.key_binding import KeyBindings, merge_key_bindings

    extra = KeyBindings()

    @extra.add(BACK_WORD)
    def _back(event) -> None:
        event.app.exit(result=BACK)

    app = question.application
    app.key_bindings = merge_key_bindings([app.key_bindings, extra]) if app.key_bindings else extra
    return question


class InTurn(tuple):
    """Scripted answers for a field or question asked more than once: one element per time it is asked."""


class ScriptedPrompter:
    """Answers from a program. ``answers`` maps ``section.field`` to a raw value, or to a tuple of values tried in
    turn (so a test can give an invalid value first), or to ``InTurn(...)``: one of those per time it is asked;
    ``"<"`` goes back a step. Unlisted fields keep their current/default value. ``confirms`` maps a fragment of a
    yes/no question to its answer (or a list of answers, used in turn; ``"<"`` goes back where offered);
    unmatched questions get their default. ``choices`` maps a fragment of a choice question to the value chosen
    (or a list, used in turn); unmatched ones get their default. ``interrupt_at``: raise KeyboardInterrupt when
    that field is asked, like Ctrl-C."""

    def __init__(self, answers: dict[str, Any] | None = None, confirms: dict[str, Any] | None = None,
                 interrupt_at: str | None = None, choices: dict[str, Any] | None = None) -> None:
        self.answers = dict(answers or {})
        self.confirms = {k: list(v) if isinstance(v, list) else v for k, v in (confirms or {}).items()}
        self.choices = {k: list(v) if isinstance(v, list) else v for k, v in (choices or {}).items()}
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
        if isinstance(scripted, InTurn):
            turn = self.asked.count(key) - 1
            scripted = scripted[turn] if turn < len(scripted) else _KEEP
        for raw in scripted if isinstance(scripted, tuple) else (scripted,):
            if raw is _KEEP:
                raw = "" if spec.secret else current
            if isinstance(raw, str) and raw.strip() == BACK_WORD:
                self.transcript.append(f"? {spec.label} <")
                return BACK
            message = judge(raw)
            if message is None:
                self.transcript.append(f"? {spec.label}")
                return raw
            self.rejected.setdefault(key, []).append(message)
        raise AssertionError(f"every scripted answer for {key} was refused: {self.rejected[key]}")

    @staticmethod
    def _scripted(table: dict, question: str, default):
        for fragment, answer in table.items():
            if fragment in question:
                if isinstance(answer, list):
                    return answer.pop(0) if answer else default
                return answer
        return default

    def confirm(self, question, default=False, back=False):
        self.transcript.append(f"? {question}")
        answer = self._scripted(self.confirms, question, default)
        if answer == BACK_WORD:
            if not back:
                raise AssertionError(f"back is not offered at {question!r}")
            return BACK
        return answer

    def choose(self, question, options, default):
        self.transcript.append(f"? {question} [{', '.join(value for value, _label in options)}]")
        answer = self._scripted(self.choices, question, default)
        if answer not in [value for value, _label in options]:
            raise AssertionError(f"{answer!r} is not offered at {question!r}")
        return answer


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


STOP = "stop"


class PlainWizard:
    """Walks the steps (``wizard.walk``) with a ``Prompter`` over an open session and its hub context.

    A step asks its sections' fields, runs its checks, offers its extra actions, and stops on warnings (and on
    checks that did not run) with continue / re-check / change the answers / back / stop. ``<`` at any question goes
    back a step with every saved answer kept; Review sends the operator straight to the step of a refused answer
    and, once it is fixed, straight back to Review."""

    def __init__(self, ctx, prompter: Prompter) -> None:
        self.ctx = ctx
        self.prompter = prompter
        self.step_id: str | None = None
        self.return_to: str | None = None  # Review, while the operator fixes an answer it refused

    @property
    def session(self):
        return self.ctx.session

    def say(self, text: str = "") -> None:
        self.prompter.say(self.ctx.redact(text))

    def confirm(self, question: str, default: bool = False) -> bool:
        """A step-level yes/no question, where ``<`` goes back a step."""
        answer = self.prompter.confirm(question, default=default, back=True)
        if answer is BACK:
            raise GoBack
        return bool(answer)

    def run(self) -> int:
        from wizard.steps import STEP_IDS
        from wizard.walk import Outcome, advance, first_step, resume_question

        self.ctx.host_key_prompt = self.ask_host_key
        question = resume_question(self.ctx)
        resume = question is not None and self.prompter.confirm(question, default=True) is True
        step_id: str | None = first_step(self.session, resume)
        self.say(f"Answer {BACK_WORD} at any question to go back a step; Ctrl-C stops (the session keeps every "
                 "accepted answer).")
        while step_id is not None:
            self.step_id = step_id
            try:
                outcome = self.run_step(step_id)
            except GoBack:
                outcome = Outcome.BACK
            if outcome == STOP:
                self.say(f"Stopped at {self.title()}. The session keeps every accepted answer: run the same "
                         "command again to resume.")
                return EXIT_STOPPED
            if isinstance(outcome, tuple):  # ("fix", step): Review sent the operator to the step of an answer
                self.return_to, step_id = step_id, outcome[1]
                self.session.go_to(step_id)
                continue
            if outcome is Outcome.BACK and step_id == STEP_IDS[0]:
                self.say("This is the first step.")
            failed = outcome == "failed"
            if failed:
                outcome = Outcome.NEXT
            step_id = advance(self.session, step_id, outcome, failed=failed,
                              return_to=self.return_to if outcome is Outcome.NEXT else None)
            if step_id == self.return_to:
                self.return_to = None
        self.ctx.log("plain wizard finished")
        return EXIT_DONE

    def title(self) -> str:
        from wizard.steps import step

        return step(self.step_id).title if self.step_id else "the start"

    # -- steps -------------------------------------------------------------------------------------------------

    def run_step(self, step_id: str):
        """One step: ``Outcome.NEXT``, "failed" (continued despite a failed check), ``Outcome.SKIP``,
        ``Outcome.BACK``, ("fix", step id) from Review, or STOP. ``GoBack`` raised by a question means BACK."""
        from wizard.steps import STEP_IDS, step
        from wizard.walk import Outcome

        item = step(step_id)
        self.say(f"\n== Step {STEP_IDS.index(step_id) + 1}/{len(STEP_IDS)}: {item.title} ==")
        self.ctx.log(f"step {step_id}: shown")
        if item.skippable:
            if not self.confirm(f"Set up {item.title} now?", default=True):
                if item.keeps:
                    self.say(f"Skipped: the hub keeps {item.keeps}.")
                return Outcome.SKIP
        if step_id == "review":
            return self.review()
        if step_id == "done":
            return self.done()
        for section in item.sections:
            self.ask_section(section)
        if step_id == "authenticator" and not self.confirm_insecure():
            return self.run_step(step_id)
        for section in item.sections:  # the step is confirmed: answers the chosen type does not use go now
            self.clear_inapplicable(section)
        return self.run_checks(step_id)

    def ask_section(self, name: str) -> None:
        """Ask every applicable field in order, saving each answer; then re-ask what the cross-field rules refuse.
        Answers the current choices do not use stay saved until the step is confirmed (a type switch can be
        undone without losing them)."""
        from wizard.answers import SECTIONS
        from wizard.steps.rules import hidden_fields, section_errors

        spec = SECTIONS[name]
        hidden = hidden_fields(self.ctx, name)
        for item in spec.fields:
            if item.name not in hidden and item.applies(self.session.answers.section(name)):
                self.ask_field(f"{name}.{item.name}", item)
        for _attempt in range(3):
            errors = section_errors(self.ctx, name)
            if not errors:
                return
            for error in errors:
                self.say(f"  ✘ {error}")
                self.ask_field(error.key, spec.field(error.key.partition(".")[2]))

    def clear_inapplicable(self, name: str) -> None:
        from wizard.answers import SECTIONS

        for item in SECTIONS[name].fields:
            key = f"{name}.{item.name}"
            if self.session.answers.answered(key) and not item.applies(self.session.answers.section(name)
                                                                           | self.session.answers.data[name]):
                self.session.accept(key, None)

    def ask_field(self, key: str, spec: Field) -> None:
        from wizard.walk import suggestions

        answers = self.session.answers
        has_secret = spec.secret and answers.answered(key)

        def judge(raw: Any) -> str | None:
            if spec.secret and raw in ("", None) and (has_secret or not spec.required):
                return None
            try:
                value = spec.check(raw, key)
            except ValidationError as exc:
                return exc.message
            from wizard.steps.rules import entry_error

            refused = entry_error(self.ctx, key, value)  # what the hub's facts tell (TLJH 2.0.0: whole CPUs)
            return refused.message if refused else None

        current = None if spec.secret else answers.get(key)
        if current in (None, "", []) and not answers.answered(key):
            current = suggestions(self.ctx, self.step_id or "").get(key, current)
        raw = self.prompter.ask(key, spec, current, has_secret, judge)
        if raw is BACK:
            raise GoBack
        if spec.secret and raw in ("", None):
            return  # keep the saved secret (or leave it unset)
        self.session.accept(key, raw)
        from wizard.steps.rules import accepted_notes

        for note in accepted_notes(self.ctx, [key]):
            self.prompter.say(f"  note: {note}")

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
        if self.prompter.confirm("I understand this is insecure. Use it anyway?", default=False) is True:
            self.session.accept("authenticator.insecure_confirmed", True)
            return True
        self.say("Choose an authenticator fit for production (the answers of the previous type are kept).")
        return False

    def run_checks(self, step_id: str):
        """The step's checks, then its extra actions; a result that needs reading stops for a decision."""
        from wizard.steps import CHECKS
        from wizard.walk import Outcome, pauses

        check = CHECKS.get(step_id)
        while True:
            diagnoses: list[Diagnosis] = []
            if check is not None:
                self.say("  checking …")
                diagnoses = self.call(check)
                self.say(diagnosis_table(diagnoses))
            if step_id == "connect" and worst(diagnoses) is Status.ERROR:
                # nothing goes on without a connection: change the answers, check again, or stop
                decision = self.prompter.choose("The connection failed.", [
                    ("edit", "change the answers"), ("re-check", "check again"), (STOP, "stop")], default="edit")
                if decision == "edit":
                    self.ask_section("connection")
                if decision == STOP:
                    return STOP
                continue
            diagnoses += self.offer_actions(step_id)
            if not pauses(diagnoses):
                return Outcome.NEXT
            status = worst(diagnoses)
            failed = status is Status.ERROR
            question = {Status.ERROR: "A check failed.", Status.WARNING: "Some checks warn."}.get(
                status, "Some checks were not run.")
            options = [("continue", "continue anyway" if failed else "continue"), ("re-check", "check again"),
                       ("edit", "change this step's answers"), ("back", "back to the previous step"),
                       (STOP, "stop here")]
            decision = self.prompter.choose(question + " Read the table above, then:", options,
                                            default=STOP if failed else "continue")
            if decision == "continue":
                return "failed" if failed else Outcome.NEXT
            if decision == "back":
                return Outcome.BACK
            if decision == STOP:
                return STOP
            if decision == "edit":
                from wizard.steps import step

                for section in step(step_id).sections:
                    self.ask_section(section)
                    self.clear_inapplicable(section)

    def offer_actions(self, step_id: str) -> list[Diagnosis]:
        """The step's extra actions (``wizard.walk.ACTIONS``), each asked first (default no), its confirmation
        texts the ones the full-screen wizard shows. Returns what they reported."""
        from wizard.walk import actions, run_action

        out: list[Diagnosis] = []
        for item in actions(step_id, self.session.answers):
            if item.prepare is not None and not self.confirm(f"{item.label.rstrip('…')}?", default=False):
                continue

            went_back: list[GoBack] = []

            def confirm(asked, item=item, went_back=went_back) -> bool:
                try:
                    if item.prepare is None:
                        return self.confirm(asked.body, default=False)
                    self.say(asked.body)
                    return self.prompter.confirm(f"{asked.title} ({asked.yes})", default=False) is True
                except GoBack as exc:  # "<" at the question: carried out of the engine call, raised below
                    went_back.append(exc)
                    return False

            found = self.call(lambda ctx, progress, item=item, confirm=confirm: run_action(ctx, item, confirm,
                                                                                         progress))
            if went_back:
                raise went_back[0]
            self.say(diagnosis_table(found))
            out += found
        return out

    def progress(self, phase: str, message: str) -> None:
        self.say(f"  … {message}")

    def call(self, engine_call: Callable[..., Any], *args: Any) -> Any:
        """One engine call by the rule both front-ends follow (``wizard.context.call_engine``): an exception is an
        ERROR row, never a traceback; Ctrl-C stops the wizard."""
        from wizard.context import call_engine
        from wizard.https.progress import CancelToken

        return call_engine(self.ctx, engine_call, *args, token=CancelToken(), progress=self.progress,
                           step_id=self.step_id or "wizard")

    def ask_host_key(self, host: str, key_type: str, fingerprint: str) -> bool:
        self.say(f"The authenticity of host {host} can't be established.\n{key_type} key fingerprint is "
                 f"{fingerprint}.\nCompare it with the fingerprint your provider shows for this VM.")
        return self.prompter.confirm("Accept and remember this host key?", default=False) is True

    def review(self):
        from wizard.context import describe_target
        from wizard.diagnosis import Status as S
        from wizard.steps import review, step
        from wizard.walk import Outcome, steps_to_fix

        reviewed = self.call(review.plan)
        if isinstance(reviewed, list):  # the plan call failed: its ERROR row
            self.say(diagnosis_table(reviewed))
            reviewed = review.Plan("", [], [d.summary for d in reviewed])
        if reviewed.problems:
            self.say("Not ready to apply — these answers are missing or wrong:")
            for problem in reviewed.problems:
                self.say(f"  ✘ {problem}")
            options = [(f"fix:{item}", f"go to {step(item).title} to fix it, then straight back here")
                       for item in steps_to_fix(reviewed.problems)]
            options += [("back", "back to the previous step"), (STOP, "stop here")]
            decision = self.prompter.choose("What now?", options, default=options[0][0])
            if decision.startswith("fix:"):
                return ("fix", decision.partition(":")[2])
            return Outcome.BACK if decision == "back" else STOP
        self.say(reviewed.diff.rstrip("\n") or "config.yaml is already as the answers want it.")
        self.say("Actions:\n" + "\n".join(f"  {n}. {a}" for n, a in enumerate(reviewed.actions, 1)))
        if reviewed.actions and reviewed.engine is not None:
            self.say("\n".join(reviewed.engine.rollback_lines()))
        if reviewed.access:
            self.say(reviewed.access)
        if not reviewed.actions:
            return Outcome.NEXT
        if not self.confirm(f"Apply these changes to {describe_target(self.ctx)}?", default=False):
            return STOP
        outcomes = self.call(review.apply)
        self.say(diagnosis_table(outcomes))
        return Outcome.NEXT if worst(outcomes) is not S.ERROR else STOP

    def done(self):
        from wizard.context import describe_target
        from wizard.steps import done
        from wizard.steps.ssh import ssh_done_lines
        from wizard.walk import EXPORT_DIR, EXPORTS, Outcome, write_export

        self.say(f"The hub {describe_target(self.ctx)} is set up.")
        try:  # what the hub holds now, read again (as the full-screen Done step shows it)
            state = done.hub_config_state(self.ctx)
            self.say(f"  {state.status.value.upper()}: {state.summary}")
        except Exception as exc:  # shown, never a traceback
            self.say(f"  config.yaml on the hub could not be read again: {exc}")
        directory = Path(EXPORT_DIR)
        offered = [item for item in EXPORTS if item.available()]
        if self.confirm(f"Write the exports ({', '.join(item.label for item in offered)}) to ./{directory}?",
                        default=True):
            for item in offered:
                try:
                    self.say("  wrote " + " and ".join(str(path) for path in write_export(self.ctx, item.kind,
                                                                                         directory)))
                except Exception as exc:  # a refused export is a message, never a traceback
                    self.say(f"  ✘ {item.label}: {exc}")
        self.say("SSH access:\n" + "\n".join(f"  {line}" for line in ssh_done_lines(self.ctx)))
        self.say(f"Replay this setup without prompts:\n  {done.replay_line(str(directory), self.ctx)}")
        if self.ctx.mode != "sandbox":
            self.say("Audit the hub every morning (cron):\n  " + done.cron_line(self.ctx))
        return Outcome.NEXT


def run_plain(name: str | None, *, mode: Mode, prefill: dict[str, object], sandbox_prefix: Path | None = None,
              prompter: Prompter | None = None, options: RunOptions | None = None) -> int:
    """The plain wizard over session ``name``. Ctrl-C stops with one line saying where, never a traceback."""
    from wizard.context import open_context

    if prompter is None and not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("tljh-wizard --plain asks questions on a terminal; without one, replay an answers file: "
              "tljh-wizard apply answers.yaml --secrets secrets.yaml", file=sys.stderr)
        return EXIT_ERROR
    ctx = open_context(name, mode=mode, prefill=prefill, sandbox_prefix=sandbox_prefix, options=options)
    wizard = PlainWizard(ctx, prompter or QuestionaryPrompter())
    try:
        code = wizard.run()
        from wizard.walk import exit_summary

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
