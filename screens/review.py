"""Step 9, Review & apply: the masked diff of config.yaml and the action list; apply with progress and outcome."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Button, Static

from wizard import flow
from screens.modals import ConfirmModal
from screens.results import Confirmation, Next
from screens.step import ChecksFinished, StepScreen
from wizard.diagnosis import Status, worst


class PlanReady(Message):
    def __init__(self, plan: flow.Plan | None, error: str = "") -> None:
        super().__init__()
        self.plan = plan
        self.error = error


class ReviewScreen(StepScreen):
    step_id = "review"
    intro = "What will change on the hub. Secrets are masked. Nothing is written until you apply."
    check = staticmethod(flow.apply)

    def __init__(self, ctx: flow.WizardContext) -> None:
        super().__init__(ctx)
        self.plan: flow.Plan | None = None
        self.applied = False

    def compose_extra(self) -> ComposeResult:
        yield Static("", id="plan-problems", markup=False)
        yield Static("Working out the plan…", id="diff")
        yield Static("", id="actions", markup=False)

    def next_label(self) -> str:
        return "Apply"

    def on_mount(self) -> None:
        super().on_mount()
        self.action_rerun()

    def action_rerun(self) -> None:
        """Re-read the hub's config.yaml and plan again (never applies: that needs Apply and a confirmation)."""
        if self.busy:
            return
        self.set_busy(True)
        self.applied = False
        self.query_one("#next", Button).label = self.next_label()
        self._plan_worker()

    @work(thread=True, exclusive=True, group="checks", name="plan")
    def _plan_worker(self) -> None:
        try:
            plan = flow.plan(self.ctx)
        except Exception as exc:  # shown, never a crash
            self.post_message(PlanReady(None, self.ctx.redact(f"{type(exc).__name__}: {exc}")))
            return
        self.post_message(PlanReady(plan))

    @on(PlanReady)
    def _plan_ready(self, event: PlanReady) -> None:
        self.set_busy(False)
        self.plan = event.plan
        problems = self.query_one("#plan-problems", Static)
        if event.plan is None:
            problems.update(f"The plan could not be made: {event.error}")
            self.query_one("#diff", Static).display = False
            return
        diff = self.query_one("#diff", Static)
        if event.plan.problems:
            problems.update("Not ready to apply — these answers are missing or wrong (go Back to fix them):\n"
                            + "\n".join(f"  ✘ {item}" for item in event.plan.problems))
            problems.display, diff.display = True, False
            return
        problems.display, diff.display = False, True
        if not event.plan.actions:  # the hub already has this configuration
            self.applied = True
            self.query_one("#next", Button).label = "Next"
        self.query_one("#diff", Static).update(diff_renderable(event.plan.diff))
        self.query_one("#actions", Static).update(
            "Actions:\n" + "\n".join(f"  {n}. {a}" for n, a in enumerate(event.plan.actions, 1))
            + (f"\n\n{event.plan.access}" if event.plan.access else ""))

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
            f"Apply these changes to {flow.describe_target(self.ctx)}? config.yaml is backed up first and "
            "restored automatically if the hub does not come back.", yes="Apply", no="Not yet"), self._confirmed)

    def _confirmed(self, decision: Confirmation | None) -> None:
        if decision and decision.confirmed:
            self.run_checks(proceed=False)

    @on(ChecksFinished)
    def _applied(self, event: ChecksFinished) -> None:
        if worst(event.diagnoses) is not Status.ERROR and any(d.status is Status.OK for d in event.diagnoses):
            self.applied = True
            self.query_one("#next", Button).label = "Next"
            self.notify("Applied.")


def diff_renderable(diff: str):
    """The unified diff, syntax highlighted."""
    from rich.syntax import Syntax

    if not diff:
        return "config.yaml is already as the answers want it: nothing to change."
    return Syntax(diff, "diff", theme="ansi_dark", background_color="default", word_wrap=True)
