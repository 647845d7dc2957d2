"""The welcome screen: what the wizard will do and to which hub; the resume prompt when a halted session exists."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Static

from screens.results import ResumeDecision, Start

WELCOME = (
    "TLJH's install is not production-ready by itself. This wizard walks through the checklist that makes it so — "
    "a real authenticator, a domain on a reserved IP, HTTPS, per-user limits sized to the VM, a frozen base "
    "environment and backups — checks each step against the real world, shows exactly what it will change, and "
    "applies it safely. Stop at any point: every accepted answer is saved and the wizard resumes where it stopped."
)

HAVE_READY = (
    "Have ready:\n"
    "  • the domain name, and access to its DNS records\n"
    "  • the login: an OAuth app's client id and secret, or the LDAP details\n"
    "  • the VM provider's console: reserved IP, disk snapshots, host key"
)


class WelcomeScreen(Screen[Start]):
    BINDINGS = [
        Binding("enter", "start", "Start", priority=True),
    ]

    def __init__(self, target: str) -> None:
        import asyncio

        super().__init__(name="welcome")
        self.target = target
        self.painted = asyncio.Event()  # set once the screen is on the terminal

    def compose(self) -> ComposeResult:
        with Vertical(id="welcome"):
            yield Static("tljh-wizard", id="welcome-title")
            yield Static(WELCOME, id="welcome-text")
            yield Static(HAVE_READY, id="welcome-ready", markup=False)
            yield Static(f"Hub: {self.target}", id="welcome-target", markup=False)
            with Horizontal(id="welcome-buttons"):
                yield Button("Start", id="start", variant="primary")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#start", Button).focus()
        self.call_after_refresh(self.painted.set)

    def on_unmount(self) -> None:
        self.painted.set()  # dismissed before its first paint (a quick Enter): nothing to wait for

    def offer_resume(self, question: str) -> None:
        """A halted session exists: ask whether to resume it (the answer ends this screen)."""
        from screens.modals import ResumeModal

        self.app.push_screen(ResumeModal(question), self._resume_answered)

    def _resume_answered(self, decision: ResumeDecision | None) -> None:
        self.dismiss(Start(resume=bool(decision and decision.resume)))

    @on(Button.Pressed, "#start")
    def action_start(self) -> None:
        self.dismiss(Start(resume=False, asked=False))
