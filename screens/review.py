"""Step 9, Review & apply: the masked diff of config.yaml and the action list; apply with progress and outcome.

An apply that has started cannot be left half-way from the screen: while it runs, Back, Skip, Escape, Re-run, a
second Apply and Quit are refused with a note; the one way out is "Stop and roll back", which asks the engine to stop
(the command running is given up on), waits for the rollback and shows which config.yaml the hub holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Button, Static

from screens.modals import ConfirmModal
from screens.results import Confirmation, Fix, Next
from screens.step import ChecksFinished, StepScreen
from wizard.context import Progress, WizardContext, describe_target
from wizard.diagnosis import Diagnosis, Status, worst
from wizard.steps import review as step_engine

if TYPE_CHECKING:
    from wizard.steps import Check


class ReviewScreen(StepScreen):
    step_id = "review"
    intro = "What will change on the hub. Secrets are masked. Nothing is written until you apply."
    BINDINGS = [Binding("ctrl+x", "stop_apply", "Stop and roll back", priority=True)]

    def __init__(self, ctx: WizardContext) -> None:
        super().__init__(ctx)
        self.plan: step_engine.Plan | None = None
        self.applied = False
        self.applying = False  # an apply is running: the screen cannot be left
        self._applier = None
        self._stop_requested = False

    def compose_extra(self) -> ComposeResult:
        from textual.containers import Horizontal

        yield Static("", id="plan-problems", markup=False)
        yield Horizontal(id="fix-steps")
        yield Static("Working out the plan…", id="diff")
        yield Static("", id="actions", markup=False)

    def on_mount(self) -> None:
        super().on_mount()
        stop = Button("Stop and roll back", id="stop-apply", variant="error")
        stop.display = False
        self.query_one("#buttons").mount(stop, before=self.query_one("#next"))
        self.action_rerun()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "stop_apply":
            return self.applying
        return super().check_action(action, parameters)

    def checks(self) -> Check | None:
        """Review's check is its plan: Ctrl-R reads the hub's config.yaml again and plans again."""
        return step_engine.plan

    # -- an apply cannot be abandoned ---------------------------------------------------------------------------

    def _refuse_while_applying(self) -> bool:
        if self.applying:
            self.notify("The apply is running and cannot be left half-way: wait for it, or press "
                        "“Stop and roll back”.", severity="warning")
        return self.applying

    def action_back(self) -> None:
        if not self._refuse_while_applying():
            super().action_back()

    def action_skip(self) -> None:
        if not self._refuse_while_applying():
            super().action_skip()

    def action_cancel(self) -> None:
        if not self._refuse_while_applying():
            super().action_cancel()

    def action_next(self) -> None:
        if not self._refuse_while_applying():
            super().action_next()

    @on(Button.Pressed, "#stop-apply")
    def _stop_pressed(self) -> None:
        self.action_stop_apply()

    def action_stop_apply(self) -> None:
        """Ask the running apply to stop and roll back; the screen stays locked until the rollback has finished."""
        if not self.applying or self._stop_requested:
            return
        self._stop_requested = True
        button = self.query_one("#stop-apply", Button)
        button.disabled, button.label = True, "Stopping — rolling back…"
        self.say("stop requested: giving up on the running action, then rolling back")
        if self._applier is not None:
            self._applier.stop()

    def _started(self, applier) -> None:  # from the worker thread
        self._applier = applier
        if self._stop_requested:
            applier.stop()

    def set_applying(self, applying: bool) -> None:
        self.applying = applying
        self.set_busy(applying)
        for selector in ("#back", "#skip"):
            for button in self.query(selector):
                button.disabled = applying
        stop = self.query_one("#stop-apply", Button)
        stop.display, stop.disabled, stop.label = applying, False, "Stop and roll back"
        self.refresh_bindings()
        if not applying:
            self._applier, self._stop_requested = None, False

    def next_label(self) -> str:
        return "Apply"

    def action_rerun(self) -> None:
        """Re-read the hub's config.yaml and plan again (never applies: that needs Apply and a confirmation)."""
        if self._refuse_while_applying() or self.busy:
            return
        self.applied = False
        self.query_one("#next", Button).label = self.next_label()
        self.query_one("#fix-steps").display = False
        # The plan's own progress lines are not logged here: the diff and the action list are what Review shows.
        self.run_engine(lambda ctx, progress: step_engine.plan(ctx), done=self._plan_ready)

    def _plan_ready(self, plan: step_engine.Plan | list[Diagnosis]) -> None:
        problems = self.query_one("#plan-problems", Static)
        diff = self.query_one("#diff", Static)
        if isinstance(plan, list):  # the plan call failed (an ERROR row) or was cancelled
            self.plan = None
            problems.display, diff.display = False, False
            self.show_diagnoses(plan)
            return
        self.plan = plan
        if plan.problems:
            problems.update("Not ready to apply — these answers are missing or wrong (fix them at their step, "
                            "then you come straight back here):\n"
                            + "\n".join(f"  ✘ {item}" for item in plan.problems))
            problems.display, diff.display = True, False
            self._offer_fixes(plan.problems)
            return
        problems.display, diff.display = False, True
        if not plan.actions:  # the hub already has this configuration
            self.applied = True
            self.query_one("#next", Button).label = "Next"
        diff.update(diff_renderable(plan.diff))
        self.query_one("#actions", Static).update(
            "Actions:\n" + "\n".join(f"  {n}. {a}" for n, a in enumerate(plan.actions, 1))
            + ("\n" + "\n".join(plan.engine.rollback_lines()) if plan.actions and plan.engine is not None else "")
            + (f"\n\n{plan.access}" if plan.access else ""))

    def _offer_fixes(self, problems: list[str]) -> None:
        """One button per step that asks a refused answer (``wizard.walk.steps_to_fix``, as the plain prompts offer)."""
        from wizard.steps import step
        from wizard.walk import steps_to_fix

        row = self.query_one("#fix-steps")
        row.remove_children()
        row.mount_all([Button(f"Fix at {step(item).title}", id=f"fix-{item}") for item in steps_to_fix(problems)])
        row.display = True
        for button in row.query(Button)[:1]:
            button.focus()

    @on(Button.Pressed, "#fix-steps Button")
    def _fix_pressed(self, event: Button.Pressed) -> None:
        if not self._refuse_while_applying() and event.button.id:
            self.cancel_work()
            self.dismiss(Fix(event.button.id.removeprefix("fix-")))

    def after_accept(self) -> None:
        if self.applied:
            self.dismiss(Next())
            return
        if self.plan is None or self.plan.problems:
            self.notify("Nothing to apply yet: fix the answers listed above.", severity="error")
            return
        if self.ctx.last_plan is not self.plan:  # applied (or failed) since it was made: plan again first
            self.notify("Planning again against the hub's current config.yaml.")
            self.action_rerun()
            return
        self.app.push_screen(ConfirmModal(
            "Apply to the hub?",
            f"Apply these changes to {describe_target(self.ctx)}? Every action listed runs now, in order; if "
            "one fails (or you stop), everything done is undone and config.yaml restored.", yes="Apply",
            no="Not yet"), self._confirmed)

    def _confirmed(self, decision: Confirmation | None) -> None:
        if decision and decision.confirmed and not self.applying:
            self.set_applying(True)
            self.say("Review & apply: applying")
            self.run_engine(self._apply, done=lambda diagnoses: self.post_message(ChecksFinished(diagnoses, False)),
                            cancellable=False)

    def _apply(self, ctx: WizardContext, progress: Progress) -> list[Diagnosis]:
        """(worker thread) The apply runs to its end whatever the screen does; only "Stop and roll back" stops it."""
        return step_engine.apply(ctx, progress, started=self._started)

    @on(ChecksFinished)
    def _applied(self, event: ChecksFinished) -> None:
        if self.applying:
            self.set_applying(False)
        if worst(event.diagnoses) is not Status.ERROR and any(d.status is Status.OK for d in event.diagnoses):
            self.applied = True
            self.query_one("#next", Button).label = "Next"
            self.query_one("#next", Button).focus()  # Enter goes on to Done
            self.notify("Applied.")


def diff_renderable(diff: str):
    """The unified diff, syntax highlighted."""
    from rich.syntax import Syntax

    if not diff:
        return "config.yaml is already as the answers want it: nothing to change."
    return Syntax(diff, "diff", theme="ansi_dark", background_color="default", word_wrap=True)
