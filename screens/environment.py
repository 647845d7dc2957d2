"""Step 6, Base environment: the user environment's summary, optional installs, a freeze, and a restore of the
newest snapshot (its plan shown in full and confirmed first)."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Button

from wizard import flow
from screens.modals import ConfirmModal
from screens.results import Confirmation
from screens.step import ChecksFinished, StepScreen


MODAL_LINES = 20


class RestorePlanned(Message):
    def __init__(self, plan) -> None:
        super().__init__()
        self.plan = plan


class EnvironmentScreen(StepScreen):
    step_id = "environment"
    intro = ("The conda environment every user shares (/opt/tljh/user). Freeze it to get an exact snapshot you can "
             "diff and restore after a bad install.")
    check = staticmethod(flow.environment_checks)

    def compose_extra(self) -> ComposeResult:
        from wizard.walk import action

        yield Button(action("environment", "restore").label, id="restore")

    @on(Button.Pressed, "#restore")
    def _restore_pressed(self) -> None:
        if self.busy:
            return
        self.set_busy(True)
        self.say("Base environment: planning a restore")
        self._plan_restore()

    @work(thread=True, exclusive=True, group="checks", name="restore-plan")
    def _plan_restore(self) -> None:
        from textual.worker import get_current_worker

        try:
            planned = flow.environment_restore_plan(self.ctx, self._progress_from_thread)
        except Exception as exc:  # shown as a failing check, never a crash
            from wizard.diagnosis import Diagnosis, Status

            planned = Diagnosis("environment.restore", Status.ERROR, self.ctx.redact(str(exc)))
        if not get_current_worker().is_cancelled:
            self.post_message(RestorePlanned(planned))

    @on(RestorePlanned)
    def _planned(self, event: RestorePlanned) -> None:
        from wizard.diagnosis import Diagnosis

        self.set_busy(False)
        if isinstance(event.plan, Diagnosis):
            self.show_diagnoses([event.plan])
            return
        if event.plan.empty:
            self.post_message(ChecksFinished(flow.environment_restore(self.ctx, event.plan), proceed=False))
            return
        text = event.plan.render()
        self.say(text)  # the whole plan, in the log panel
        lines = text.splitlines()
        body = "\n".join(lines[:MODAL_LINES] + ([f"… {len(lines) - MODAL_LINES} more lines in the log below"]
                                                 if len(lines) > MODAL_LINES else []))
        from wizard.walk import action

        asked = action("environment", "restore").confirmation(self.ctx, event.plan)
        self.app.push_screen(ConfirmModal(asked.title, body, yes=asked.yes, no=asked.no, danger=asked.danger),
                             lambda answer: self._confirmed(answer, event.plan))

    def _confirmed(self, decision: Confirmation | None, plan) -> None:
        from wizard.diagnosis import Diagnosis, Status

        if not (decision and decision.confirmed):
            self.show_diagnoses([Diagnosis("environment.restore", Status.SKIPPED,
                                           "restore not confirmed: nothing run")])
            return
        self.set_busy(True)
        self._run_restore(plan)

    @work(thread=True, exclusive=True, group="checks", name="restore")
    def _run_restore(self, plan) -> None:
        from textual.worker import get_current_worker

        diagnoses = flow.environment_restore(self.ctx, plan, self._progress_from_thread)
        if not get_current_worker().is_cancelled:
            self.post_message(ChecksFinished(diagnoses, proceed=False))
