"""The wizard's modal questions, each a ``ModalScreen[T]`` returning a typed result: host-key acceptance, resume,
and yes/no confirmations (insecure authenticator, apply, restore, production certificate)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from screens.results import Confirmation, HostKeyDecision, ResumeDecision

_MODAL_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 72; height: auto; padding: 1 2; border: thick $warning; background: $surface; }}
{name} .modal-title {{ text-style: bold; margin-bottom: 1; }}
{name} .modal-body {{ margin-bottom: 1; }}
{name} Horizontal {{ height: auto; align: right middle; }}
{name} Button {{ margin-left: 2; }}
"""


class HostKeyModal(ModalScreen[HostKeyDecision]):
    """An unknown SSH host key: shown as OpenSSH shows it; accepted only by an explicit choice."""

    DEFAULT_CSS = _MODAL_CSS.format(name="HostKeyModal")
    BINDINGS = [Binding("escape", "reject", "Reject")]

    def __init__(self, host: str, fingerprint: str, key_type: str = "") -> None:
        super().__init__()
        self.host = host
        self.fingerprint = fingerprint
        self.key_type = key_type

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Unknown host key", classes="modal-title")
            yield Static(
                f"The authenticity of host {self.host} can't be established.\n"
                f"{self.key_type + ' ' if self.key_type else ''}key fingerprint is {self.fingerprint}.\n\n"
                "Compare it with the fingerprint your provider shows for this VM (or `ssh-keygen -lf "
                "/etc/ssh/ssh_host_ed25519_key.pub` on its console) before you accept.",
                classes="modal-body", markup=False)
            with Horizontal():
                yield Button("Reject", id="reject")
                yield Button("Accept and remember", id="accept", variant="warning")

    @on(Button.Pressed, "#accept")
    def _accept(self) -> None:
        self.dismiss(HostKeyDecision(True, self.fingerprint))

    @on(Button.Pressed, "#reject")
    def action_reject(self) -> None:
        self.dismiss(HostKeyDecision(False, self.fingerprint))


class ResumeModal(ModalScreen[ResumeDecision]):
    """A halted session exists for this hub: resume where it stopped, or start from the first step. Escape is the
    safe choice, as everywhere: resume (nothing is re-walked or reset)."""

    DEFAULT_CSS = _MODAL_CSS.format(name="ResumeModal")
    BINDINGS = [Binding("escape", "resume", "Resume")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Resume?", classes="modal-title")
            yield Static(self.question + "\n\nEvery accepted answer is kept either way; time-sensitive checks "
                         "(DNS, certificates) are run again.", classes="modal-body", markup=False)
            with Horizontal():
                yield Button("Start from step 1", id="restart")
                yield Button("Resume", id="resume", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#resume", Button).focus()

    @on(Button.Pressed, "#resume")
    def action_resume(self) -> None:
        self.dismiss(ResumeDecision(True))

    @on(Button.Pressed, "#restart")
    def _restart(self) -> None:
        self.dismiss(ResumeDecision(False))


class ConfirmModal(ModalScreen[Confirmation]):
    """A yes/no question before something consequential; the safe answer is the default."""

    DEFAULT_CSS = _MODAL_CSS.format(name="ConfirmModal")
    BINDINGS = [Binding("escape", "decline", "No")]

    def __init__(self, title: str, body: str, yes: str = "Yes", no: str = "Cancel", danger: bool = False) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.yes = yes
        self.no = no
        self.danger = danger

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="modal-title")
            yield Static(self.body, classes="modal-body", markup=False)
            with Horizontal():
                yield Button(self.no, id="no")
                yield Button(self.yes, id="yes", variant="error" if self.danger else "primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed, "#yes")
    def _yes(self) -> None:
        self.dismiss(Confirmation(True))

    @on(Button.Pressed, "#no")
    def action_decline(self) -> None:
        self.dismiss(Confirmation(False))
