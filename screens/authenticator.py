"""Step 2, Authenticator: who may log in. FirstUse and Dummy need an explicit "I understand this is insecure"."""

from __future__ import annotations

from screens.modals import ConfirmModal
from screens.results import Confirmation
from screens.step import StepScreen
from wizard.answers import INSECURE_TYPES


class AuthenticatorScreen(StepScreen):
    step_id = "authenticator"
    intro = ("How people log in, and who may. Every real authenticator needs an access policy: allowed users, "
             "organizations, domains or groups — or an explicitly confirmed allow-all.")

    def compose_extra(self):
        from textual.widgets import Static

        yield Static("", id="callback", markup=False)

    def on_mount(self) -> None:
        super().on_mount()
        self._show_callback()

    def on_select_changed(self, event) -> None:
        self._show_callback()

    def _show_callback(self) -> None:
        """The exact callback URL to register in the OAuth app, before the operator goes to create it."""
        from textual.widgets import Static

        from wizard.tljh.config import callback_url

        line = self.query_one("#callback", Static)
        kind = self._chosen_type()
        line.display = kind in ("github", "google", "generic")
        domain = self.ctx.answers.get("domain.name")
        url = callback_url(domain) if domain else "https://YOUR-DOMAIN/hub/oauth_callback"
        line.update(f"Register this callback URL in the OAuth app: {url}"
                    + ("" if domain else " (YOUR-DOMAIN: the name you give at Domain & DNS)"))

    def action_next(self) -> None:
        """An insecure type is confirmed *before* any answer is saved: "Choose another" keeps every saved answer
        (the OAuth client secret GitHub shows only once, the client id, the org list)."""
        kind = self._chosen_type()
        answers = self.ctx.session.answers
        confirmed = answers.get("authenticator.insecure_confirmed") and answers.get("authenticator.type") == kind
        if self.busy or kind not in INSECURE_TYPES or confirmed:
            super().action_next()
            return
        if not all([form.judge()[1] for form in self.forms()]):
            self.notify("Some answers need fixing (see the messages under the fields).", severity="error")
            return
        self._ask_insecure(kind)

    def _chosen_type(self):
        from textual.widgets import Select

        widget = self.query_one("#field-authenticator-type", Select)
        return None if widget.value is Select.NULL else widget.value

    def after_accept(self) -> None:
        session = self.ctx.session
        kind = session.answers.get("authenticator.type")
        if kind not in INSECURE_TYPES:
            if session.answers.answered("authenticator.insecure_confirmed"):
                session.accept("authenticator.insecure_confirmed", None)
            super().after_accept()
            return
        if session.answers.get("authenticator.insecure_confirmed"):
            super().after_accept()
            return
        self._ask_insecure(kind)

    def _ask_insecure(self, kind: str) -> None:
        """The insecure authenticator's confirmation; its answer goes to ``_insecure_answered``."""
        self.app.push_screen(ConfirmModal(
            f"{kind}: insecure authenticator",
            f"{kind} lets anyone who can reach the hub log in (or choose a password on first login). Use it only "
            "for a throw-away hub.\n\nI understand this is insecure.",
            yes="I understand, use it", no="Choose another", danger=True), self._insecure_answered)

    def _insecure_answered(self, decision: Confirmation | None) -> None:
        if decision and decision.confirmed:
            if not self.accept_answers():  # saved only now: the switch is confirmed
                return
            self.ctx.session.accept("authenticator.insecure_confirmed", True)
            super().after_accept()
        else:
            self.notify("Choose an authenticator fit for production.", severity="warning")
