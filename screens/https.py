"""Step 4, HTTPS: how the hub gets its certificate; issuance is gated on the DNS checks and asked for explicitly."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.widgets import Button

from screens.modals import ConfirmModal
from screens.results import Confirmation
from screens.step import ChecksFinished, StepScreen
from wizard.steps import https as step_engine


class HttpsScreen(StepScreen):
    step_id = "https"
    intro = ("letsencrypt (default): TLJH's proxy gets the certificate, staging first. acme-dns: the wizard issues "
             "it with DNS-01 over RFC 2136. existing: your own certificate and key, checked before use.")
    check = staticmethod(step_engine.https_checks)

    def compose_extra(self) -> ComposeResult:
        from wizard.walk import action

        yield Button(action("https", "issue").label, id="issue")

    @on(Button.Pressed, "#issue")
    def _issue_pressed(self) -> None:
        if self.busy or not self.accept_answers():
            return
        from wizard.walk import action

        item = action("https", "issue")
        if not item.applies(self.ctx.answers):
            self.notify("Choose how the hub gets its certificate first.", severity="warning")
            return
        asked = item.confirmation(self.ctx, None)
        self.app.push_screen(ConfirmModal(asked.title, asked.body, yes=asked.yes, no=asked.no), self._confirmed)

    def _confirmed(self, decision: Confirmation | None) -> None:
        if decision and decision.confirmed:
            self.say("HTTPS: getting the certificate")
            self.run_engine(step_engine.https_issue,
                            done=lambda diagnoses: self.post_message(ChecksFinished(diagnoses, proceed=False)))
