"""Step 6, Base environment: the user environment's summary, a dry run of the installs asked for, and a restore of
the newest snapshot (its plan shown in full and confirmed first). Read-only: installs, the freeze and a restore are
actions of the reviewed plan, run by apply."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Button

from screens.modals import ConfirmModal
from screens.results import Confirmation
from screens.step import ChecksFinished, StepScreen
from wizard.steps import environment as step_engine

MODAL_LINES = 20


class RestorePlanned(Message):
    def __init__(self, plan) -> None:
        super().__init__()
        self.plan = plan


class EnvironmentScreen(StepScreen):
    step_id = "environment"
    intro = ("The conda environment every user shares (/opt/tljh/user). Freeze it to get an exact snapshot you can "
             "diff and restore after a bad install. Installs, the freeze and a restore run when you apply, after "
             "Review; this step only reads the hub.")
    check = staticmethod(step_engine.environment_checks)

    def compose_extra(self) -> ComposeResult:
        from wizard.walk import action

        yield Button(action("environment", "restore").label, id="restore")

    @on(Button.Pressed, "#restore")
    def _restore_pressed(self) -> None:
        if self.busy:
            return
        self.say("Base environment: planning a restore")
        self.run_engine(step_engine.environment_restore_plan, done=lambda plan: self.post_message(RestorePlanned(plan)))

    @on(RestorePlanned)
    def _planned(self, event: RestorePlanned) -> None:
        from wizard.diagnosis import Diagnosis

        plan = event.plan
        if isinstance(plan, list):  # the engine call failed or was cancelled: its diagnoses
            self.show_diagnoses(plan)
            return
        if isinstance(plan, Diagnosis):
            self.show_diagnoses([plan])
            return
        if plan.empty:
            self._restore(plan)
            return
        text = plan.render()
        self.say(text)  # the whole plan, in the log panel
        lines = text.splitlines()
        body = "\n".join(lines[:MODAL_LINES] + ([f"… {len(lines) - MODAL_LINES} more lines in the log below"]
                                                 if len(lines) > MODAL_LINES else []))
        from wizard.walk import action

        asked = action("environment", "restore").confirmation(self.ctx, plan)
        self.app.push_screen(ConfirmModal(asked.title, body, yes=asked.yes, no=asked.no, danger=asked.danger),
                             lambda answer: self._confirmed(answer, plan))

    def _confirmed(self, decision: Confirmation | None, plan) -> None:
        from wizard.diagnosis import Diagnosis, Status

        if not (decision and decision.confirmed):
            self.show_diagnoses([Diagnosis("environment.restore", Status.SKIPPED,
                                           "restore not confirmed: nothing run")])
            return
        self._restore(plan)

    def _restore(self, plan) -> None:
        """Put the confirmed restore into the answers (apply runs it after Review; nothing changes now) and show it
        in the form; an engine exception is an ERROR row, never a crash of the app."""
        def done(diagnoses) -> None:
            from textual.widgets import Input

            chosen = self.ctx.answers.get("environment.restore")
            if chosen:
                self.query_one("#field-environment-restore", Input).value = str(chosen)
            self.post_message(ChecksFinished(diagnoses, proceed=False))

        self.run_engine(step_engine.environment_restore, plan, done=done)
