"""The base of every step screen: a form rendered from the step's answer sections, live checks run in a thread
worker, Back / Skip / Next, and saving each accepted answer through the session before moving on.

A subclass names its step (``step_id``); the step's checks are ``wizard.steps.CHECKS[step_id]``, the ones the plain
prompts run, and which fields the form leaves out is ``wizard.steps.rules.hidden_fields``. It may add widgets
(``compose_extra``) and adjust what happens after the answers are accepted (``after_accept``).

Keys: Enter moves to the next field and, on the last one, is Next; Ctrl-N Next, Ctrl-B Back, Ctrl-S Skip (asks
first, saying what the hub keeps), Ctrl-R re-run checks, Escape cancels what runs (never leaves the step). No step
key shadows a text input's editing keys (Ctrl-K kills to the end of the line, Ctrl-U/W/A/E/D/X/V as in Textual).

Every engine call of a screen runs through one helper (``run_engine``): a Textual thread worker
(``exit_on_error=False``) that calls ``WizardApp.call_engine``: one call at a time per app, with a ``CancelToken``
that Escape, leaving the step and Quit set and every long engine call honours; any exception becomes a redacted
ERROR row (``wizard.context.call_engine``, the rule the plain prompts follow too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, ProgressBar, Static

from screens.results import Back, Next, Skip, StepResult
from screens.widgets import DiagnosisTable, FieldForm, FieldSwitch, LogPanel, StepIndicator
from wizard.context import WizardContext
from wizard.diagnosis import Diagnosis, Status, worst
from wizard.fields import ValidationError
from wizard.steps import STEPS, Step

if TYPE_CHECKING:
    from wizard.https.progress import CancelToken
    from wizard.steps import Check


class ChecksFinished(Message):
    """Posted from the worker thread when a step's checks are done."""

    def __init__(self, diagnoses: list[Diagnosis], proceed: bool) -> None:
        super().__init__()
        self.diagnoses = diagnoses
        self.proceed = proceed


class EngineDone(Message):
    """An engine call started by ``run_engine`` finished (or failed, or was cancelled)."""

    def __init__(self, result: Any, done: Callable[[Any], None], token: Any) -> None:
        super().__init__()
        self.result = result
        self.done = done
        self.token = token


class ProgressNote(Message):
    """A progress line from a worker thread."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


def step_states(ctx: WizardContext, current: str) -> dict[str, str]:
    session = ctx.session
    skipped = set(session.skipped_steps)
    states = {}
    for item in STEPS:
        if item.id == current:
            states[item.id] = "current"
        elif item.id in session.state["failed_steps"]:
            states[item.id] = "failed"
        elif item.id in skipped:
            states[item.id] = "skipped"
        elif item.id in session.state["finished_steps"]:
            states[item.id] = "done"
        else:
            states[item.id] = "pending"
    return states


def check_summary(diagnoses: list[Diagnosis]) -> str:
    """One line that stays on screen at any size (one row at 80 columns): "Checks: 1 warning, 1 not run, 2 ok —
    Tab, ↑↓: details" (Tab reaches the table)."""
    counts = {status: sum(d.status is status for d in diagnoses) for status in Status}
    parts = [f"{counts[Status.ERROR]} failed"] if counts[Status.ERROR] else []
    if counts[Status.WARNING]:
        parts.append(f"{counts[Status.WARNING]} warning" + ("s" if counts[Status.WARNING] > 1 else ""))
    if counts[Status.SKIPPED]:
        parts.append(f"{counts[Status.SKIPPED]} not run")
    if counts[Status.OK] or not parts:
        parts.append(f"{counts[Status.OK]} ok")
    return "Checks: " + ", ".join(parts) + " — Tab, ↑↓: details"


class StepScreen(Screen[StepResult]):
    """One step of the wizard."""

    step_id: ClassVar[str] = ""
    intro: ClassVar[str] = ""
    # Checks with an error stop Next until fixed (connect), or need a second Next to continue anyway.
    hard_gate: ClassVar[bool] = False
    # Stay on the step after checks that all passed, so their results can be read (connect: the host facts).
    pause_after_checks: ClassVar[bool] = False

    BINDINGS = [
        Binding("ctrl+n", "next", "Next", priority=True),
        Binding("ctrl+b", "back", "Back", priority=True),
        Binding("ctrl+s", "skip", "Skip", priority=True),
        Binding("ctrl+r", "rerun", "Re-run checks", priority=True),
        Binding("escape", "cancel", "Cancel", show=False),
    ]

    def __init__(self, ctx: WizardContext) -> None:
        super().__init__(name=self.step_id)
        self.ctx = ctx
        self.step: Step = next(item for item in STEPS if item.id == self.step_id)
        # (answers, status) of check results shown to the operator: Next with the same answers goes on without
        # running the checks again (no second bundle, freeze or connection).
        self._reviewed: tuple[str, Status] | None = None
        self.diagnoses: list[Diagnosis] = []
        self.busy = False
        self.cancel_token: CancelToken | None = None  # the running engine call's

    # -- layout -------------------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="body"):
            yield StepIndicator([(s.id, s.title) for s in STEPS], step_states(self.ctx, self.step_id),
                                id="steps")
            with Vertical(id="main"):
                yield Static(self.step.title, id="step-title")
                if self.intro:
                    yield Static(self.intro, id="step-intro")
                with VerticalScroll(id="content"):
                    if self.intro:  # shown instead of the one above when that one would be cut (``_fit``)
                        yield Static(self.intro, id="step-intro-inline")
                    for section in self.step.sections:
                        from wizard.answers import SECTIONS

                        yield FieldForm(SECTIONS[section], self.ctx.answers,
                                        skip=self.hidden(section), id=f"form-{section}")
                    yield from self.compose_extra()
                    yield DiagnosisTable(id="checks")
                yield Static("", id="check-summary", markup=False)
                yield Static("", id="field-help")
                yield ProgressBar(total=None, show_eta=False, show_percentage=False, id="progress")
                yield LogPanel(self.ctx.redact, id="log")
                with Horizontal(id="buttons"):
                    yield Button("Back", id="back", disabled=self.step_id == STEPS[0].id)
                    if self.step.skippable:
                        yield Button("Skip", id="skip")
                    yield Button(self.next_label(), id="next", variant="primary")
        yield Footer()

    def hidden(self, section: str) -> set[str]:
        """Fields the form does not show: asked by other means (a modal), or not at all in this run's mode
        (``wizard.steps.rules.hidden_fields``, which the plain prompts read too)."""
        from wizard.steps.rules import hidden_fields

        return set(hidden_fields(self.ctx, section))

    def compose_extra(self) -> ComposeResult:
        yield from ()

    def next_label(self) -> str:
        return "Next"

    def on_resize(self, event) -> None:
        self._fit()

    def _fit(self) -> None:
        """At 80x24 the step list shrinks to numbers, labels narrow, and the log takes fewer lines, so the fields
        and the check results fit without scrolling. The intro keeps two lines above the fields; an intro longer
        than that moves to the top of the scrolling content instead, whole (never cut mid-sentence)."""
        size = self.app.size
        narrow, short = size.width < 100, size.height < 32
        self.set_class(narrow, "-narrow")
        self.set_class(short, "-short")
        self.query_one("#steps", StepIndicator).set_class(narrow, "-narrow")
        self.query_one("#steps", StepIndicator).refresh()
        self._place_intro()

    def _place_intro(self) -> None:
        intro = self.intro_text()
        if not intro:
            return
        from rich.text import Text

        # the main column: the screen less the step list (24 columns, 7 narrow, and its border) and main's padding;
        # -narrow and -short are _fit's verdicts on the screen's size
        width = max(20, self.app.size.width - (7 if self.has_class("-narrow") else 24) - 1 - 2)
        inline = self.has_class("-short") and len(Text(intro).wrap(self.app.console, width)) > 2
        self.query_one("#step-intro").display = not inline
        self.query_one("#step-intro-inline").display = inline

    def intro_text(self) -> str:
        """The intro as shown now (a step may replace its class text, e.g. the demo's Connect)."""
        return getattr(self, "_intro_text", self.intro)

    def set_intro(self, text: str) -> None:
        self._intro_text = text
        for widget in self.query("#step-intro, #step-intro-inline"):
            widget.update(text)  # type: ignore[attr-defined]
        self._place_intro()

    def on_mount(self) -> None:
        self._fit()  # a screen pushed after the terminal's last resize gets no Resize event of its own
        self.query_one("#check-summary").display = False
        self.query_one("#progress").display = False
        self.query_one("#checks").display = False
        self.query_one("#log").display = False
        self.sub_title = self.step.title
        self.focus_first_field()

    def field_widgets(self) -> list:
        """The inputs of the fields shown now, in order."""
        return [w for w in self.query("FieldRow Input, FieldRow Select, FieldRow Switch")
                if w.parent.parent.display and w.parent.parent.parent.display]

    def focus_first_field(self) -> None:
        """The first field; on a step without fields (the demo's Connect), Next, so Enter goes on."""
        fields = self.field_widgets()
        if fields:
            fields[0].focus()
        elif not self.query_one("#next", Button).disabled:
            self.query_one("#next", Button).focus()

    def focus_first_error(self) -> None:
        """After a refused Next: the first refused field, scrolled into view, so the fix starts where the problem is."""
        for row in self.query("FieldRow.-invalid"):
            if row.display and row.parent.display:
                widget = row.query_one("Input, Select, Switch")
                widget.focus()
                self.call_after_refresh(row.scroll_visible)
                return

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """Hide Skip and Re-run from the footer on steps that have no such thing."""
        if action == "skip":
            return self.step.skippable
        if action == "rerun":
            return self.checks() is not None
        if action == "back":
            return self.step_id != STEPS[0].id
        return True

    @on(FieldForm.HelpChanged)
    def _help(self, event: FieldForm.HelpChanged) -> None:
        self.query_one("#field-help", Static).update(event.text)

    # -- navigation --------------------------------------------------------------------------------------------

    @on(Button.Pressed, "#next")
    def _next_pressed(self) -> None:
        self.action_next()

    @on(Button.Pressed, "#back")
    def _back_pressed(self) -> None:
        self.action_back()

    @on(Button.Pressed, "#skip")
    def _skip_pressed(self) -> None:
        self.action_skip()

    def action_back(self) -> None:
        if self.step_id != STEPS[0].id:
            self.cancel_work()
            self.dismiss(Back())

    def action_skip(self) -> None:
        """Skipping asks first (safe default: stay), saying what the hub keeps."""
        if not self.step.skippable:
            return
        from screens.modals import ConfirmModal

        self.app.push_screen(ConfirmModal(
            f"Skip {self.step.title}?",
            f"Nothing from this step is applied: the hub keeps {self.step.keeps}.\n\nThe answers given here stay "
            "saved; come back with Back, or run the wizard again.", yes="Skip it", no="Stay"), self._skip_answered)

    def _skip_answered(self, decision) -> None:
        if decision and decision.confirmed:
            self.cancel_work()
            self.dismiss(Skip())

    def action_cancel(self) -> None:
        """Escape: cancel the running engine call (it stops at its next step); never leaves the step."""
        if self.busy and self.cancel_token is not None and not self.cancel_token.cancellable:
            self.notify("This change cannot stop half-way: it runs to its end.", severity="warning")
        elif self.busy and self.cancel_token is not None and not self.cancel_token.cancelled:
            self.stop_engine_call()
            self.say("cancelling — the running call stops at its next step")

    def stop_engine_call(self) -> bool:
        """Cancel this screen's engine call, and give up on the hub command it is waiting for. False when none runs,
        or it must not stop half-way."""
        token = self.cancel_token
        if token is None or not token.cancellable:
            return False
        token.cancel()
        if self.ctx.cancel is token:
            self.ctx.cancel_running()
        return True

    @on(Input.Submitted)
    @on(FieldSwitch.Submitted)
    def _enter_in_field(self, event: Input.Submitted | FieldSwitch.Submitted) -> None:
        """Enter in a field (a switch too: Space toggles it) moves to the next visible field; on the last one it is
        Next."""
        widget = event.control
        if not widget.id or not widget.id.startswith("field-"):
            return
        event.stop()
        fields = self.field_widgets()
        if widget in fields and fields.index(widget) + 1 < len(fields):
            fields[fields.index(widget) + 1].focus()
        else:
            self.action_next()

    def action_rerun(self) -> None:
        if self.checks() is not None and not self.busy:
            self.run_checks(proceed=False)

    def action_next(self) -> None:
        if self.busy:
            self.notify("Still working — wait, or press Escape to cancel.", severity="warning")
            return
        if not self.accept_answers():
            return
        self.after_accept()

    # -- answers -----------------------------------------------------------------------------------------------

    def forms(self) -> list[FieldForm]:
        return list(self.query(FieldForm))

    def accept_answers(self) -> bool:
        """Judge every field with its validator, then the section's cross-field rules; save what is accepted."""
        session = self.ctx.session
        judged: dict[str, Any] = {}
        ok = True
        for form in self.forms():
            values, valid = form.judge()
            judged |= values
            ok = ok and valid
        if not ok:
            self.notify("Some answers need fixing (see the messages under the fields).", severity="error")
            self.focus_first_error()
            return False
        for key, raw in judged.items():
            if raw is None and not session.answers.answered(key):
                continue
            try:
                session.accept(key, raw)
            except ValidationError as exc:
                for form in self.forms():
                    form.show_errors([exc])
                self.focus_first_error()
                return False
        errors = self.section_errors()
        if errors:
            leftover = errors
            for form in self.forms():
                leftover = form.show_errors(leftover)
            for error in leftover:
                self.notify(str(error), severity="error")
            self.focus_first_error()
            return False
        self.ctx.log(f"step {self.step_id}: answers accepted")
        from wizard.steps.rules import accepted_notes

        for note in accepted_notes(self.ctx, judged):
            self.notify(note)
        return True

    def section_errors(self) -> list[ValidationError]:
        """What stops this step's answers being accepted (``wizard.steps.rules.section_errors``, the same judgement
        the plain prompts make)."""
        from wizard.steps.rules import section_errors

        return [error for name in self.step.sections for error in section_errors(self.ctx, name)]

    def after_accept(self) -> None:
        """By default: run the step's checks, then go on when they all pass; otherwise show them first."""
        if self.checks() is None:
            self.dismiss(Next())
        elif self._reviewed is not None and self._reviewed[0] == self.answers_snapshot():
            self.dismiss(Next(failed=self._reviewed[1] is Status.ERROR))
        else:
            self.run_checks(proceed=True)

    def answers_snapshot(self) -> str:
        import json

        return json.dumps({name: self.ctx.answers.data[name] for name in self.step.sections}, sort_keys=True,
                          default=str)

    # -- checks ------------------------------------------------------------------------------------------------

    def checks(self) -> Check | None:
        """This step's checks: ``wizard.steps.CHECKS``, the ones the plain prompts run (None: the step has none)."""
        from wizard.steps import CHECKS

        return CHECKS.get(self.step_id)

    def run_checks(self, proceed: bool) -> None:
        check = self.checks()
        if check is None:
            return
        self.say(f"{self.step.title}: running checks")
        self.run_engine(check, done=lambda diagnoses: self.post_message(ChecksFinished(diagnoses, proceed)))

    def run_engine(self, call: Callable[..., Any], *args: Any, done: Callable[[Any], None],
                   cancellable: bool = True) -> None:
        """Run ``call(ctx, *args, progress)`` off the UI thread; ``done(result)`` runs on the UI thread after, with
        the call's result — or, when it raised or was cancelled, a one-row diagnosis list (ERROR, redacted, or
        SKIPPED). ``cancellable`` False: a change that must not stop half-way (an environment restore, an apply)
        runs to its end; Escape then says so."""
        from wizard.https.progress import CancelToken

        self.set_busy(True)
        self.cancel_token = token = CancelToken(cancellable=cancellable)
        self._engine_worker(call, args, done, token)

    @work(thread=True, group="engine", name="engine", exit_on_error=False)
    def _engine_worker(self, call: Callable[..., Any], args: tuple[Any, ...], done: Callable[[Any], None],
                       token: CancelToken) -> None:
        result = self.app.call_engine(self.ctx, call, args, token, self._progress_from_thread, self.step_id)
        self.post_message(EngineDone(result, done, token))

    @on(EngineDone)
    def _engine_done(self, event: EngineDone) -> None:
        if event.token is not self.cancel_token:
            return  # a call this screen has since left behind
        self.cancel_token = None
        self.set_busy(False)
        event.done(event.result)

    def _progress_from_thread(self, phase: str, message: str) -> None:
        self.post_message(ProgressNote(f"{phase}: {message}" if phase else message))

    @on(ProgressNote)
    def _progress_note(self, event: ProgressNote) -> None:
        self.say(event.text)

    @on(ChecksFinished)
    def _checks_finished(self, event: ChecksFinished) -> None:
        self.set_busy(False)
        self.show_diagnoses(event.diagnoses)
        status = worst(event.diagnoses)
        skipped = sum(d.status is Status.SKIPPED for d in event.diagnoses)
        self.say(f"{self.step.title}: checks finished ({status.value}"
                 + (f", {skipped} not run" if skipped else "") + ")")
        if status is Status.ERROR and self.hard_gate:
            self._reviewed = None
            if event.proceed:
                self.notify("A check failed: fix it and press Next again.", severity="error")
            return
        self._reviewed = (self.answers_snapshot(), status)
        if not event.proceed:
            return
        if status is Status.ERROR:
            self.notify("A check failed: fix it, or press Next to continue anyway.", severity="error")
        elif status is Status.WARNING:
            self.notify("Some checks warn: read them (select a row for details), then press Next to continue.",
                        severity="warning")
        elif skipped:  # a check that did not run never counts as passed
            self.notify("Some checks were not run (–): read why, then press Next to continue.", severity="warning")
        elif self.pause_after_checks:
            self.notify("Checked: review the results, then press Next to continue.")
        else:
            self.dismiss(Next())

    def show_diagnoses(self, diagnoses: list[Diagnosis]) -> None:
        self.diagnoses = list(diagnoses)
        table = self.query_one("#checks", DiagnosisTable)
        table.display = True
        table.show(self.diagnoses)
        summary = self.query_one("#check-summary", Static)
        summary.update(check_summary(self.diagnoses))
        summary.display = bool(self.diagnoses)
        summary.set_class(worst(self.diagnoses) is Status.ERROR, "-error")
        summary.set_class(worst(self.diagnoses) is Status.WARNING or any(
            d.status is Status.SKIPPED for d in self.diagnoses), "-warning")
        self.call_after_refresh(table.scroll_visible, top=True)  # the results, not the fields above them

    # -- busy state & log --------------------------------------------------------------------------------------

    def set_busy(self, busy: bool) -> None:
        """Next is disabled while an engine call runs; the focus it had (Enter pressed on it) comes back after, so
        the next Enter goes on instead of falling on nothing."""
        next_button = self.query_one("#next", Button)
        if busy and self.app.focused is next_button:
            self._refocus_next = True
        self.busy = busy
        self.query_one("#progress").display = busy
        next_button.disabled = busy
        if not busy and (getattr(self, "_refocus_next", False) or self.app.focused is None):
            self._refocus_next = False
            if self.is_current:
                next_button.focus()

    def cancel_work(self) -> None:
        """Leaving the step: its running engine call is cancelled (one that must not stop half-way runs on)."""
        self.stop_engine_call()
        self.cancel_token = None
        self.set_busy(False)

    def say(self, message: str) -> None:
        log = self.query_one("#log", LogPanel)
        log.display = True
        log.say(message)
        self.ctx.log(message)
