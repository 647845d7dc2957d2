"""The full-screen wizard in a real pseudo-terminal (`tljh-wizard demo`): killed with SIGKILL mid-flow, started
again, it offers to resume at the same step with every accepted answer."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from pathlib import Path

import pexpect
import pytest

WIZARD = str(Path(sys.executable).with_name("tljh-wizard"))
# CSI (colours, cursor moves, modes), OSC (titles, colours) and two-character escapes.
_ESCAPES = re.compile(r"\x1b\[[0-9;?<>=!]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]")
CTRL_N, CTRL_Q, TAB, ENTER = "\x0e", "\x11", "\t", "\r"


class Terminal:
    """A wizard in a pty, with the text it drew (escape sequences removed) searchable."""

    def __init__(self, argv: list[str], cwd: Path):
        env = dict(os.environ, TERM="xterm-256color", COLUMNS="120", LINES="40")
        self.child = pexpect.spawn(argv[0], argv[1:], cwd=str(cwd), env=env, encoding="utf-8",
                                   dimensions=(40, 120), timeout=30)
        self.seen = ""

    def wait_text(self, text: str, limit: float = 60.0) -> None:
        """Read the terminal until ``text`` has been drawn (the limit only stops a hung test)."""
        deadline = time.monotonic() + limit
        while text not in self.seen:
            if time.monotonic() > deadline:
                pytest.fail(f"{text!r} never appeared; the screen showed:\n{self.seen[-3000:]}")
            try:
                chunk = self.child.read_nonblocking(65536, timeout=0.5)
            except pexpect.TIMEOUT:
                continue
            self.seen += _ESCAPES.sub("", chunk)
        self.seen = self.seen[self.seen.index(text) + len(text):]

    def send(self, keys: str) -> None:
        self.child.send(keys)


def test_full_screen_wizard_resumes_after_sigkill(tmp_path, _isolated_state):
    terminal = Terminal([WIZARD, "demo"], tmp_path)
    terminal.wait_text("tljh-wizard")
    terminal.send(ENTER)  # Start
    terminal.wait_text("This run talks to the demo sandbox hub")
    terminal.send(CTRL_N)
    terminal.wait_text("connect.facts")  # connected: the host facts stay on screen until Next
    terminal.send(CTRL_N)
    terminal.wait_text("Authenticator: How people log in")  # the help line of the focused field (the type)
    for field, text, drawn in (("OAuth client ID:", "killed-client", "killed-client"),
                               ("OAuth client secret:", "killed-Secret-0a1b", "•" * 18),
                               ("Allowed GitHub organizations:", "", ""), ("Admin users:", "alice", "alice"),
                               ("Allowed users:", "bob", "bob")):
        terminal.send(TAB)
        terminal.wait_text(field)  # the focus moved: that field's help line is drawn
        if text:
            terminal.send(text)
            terminal.wait_text(drawn)
    terminal.send(CTRL_N)
    terminal.wait_text("The name people will use")  # Domain & DNS: typed, not accepted yet, when the kill comes
    terminal.send("hub.example.edu")
    terminal.child.kill(signal.SIGKILL)
    terminal.child.close()
    assert terminal.child.signalstatus == signal.SIGKILL

    state = json.loads((_isolated_state / "sessions" / "demo" / "state.json").read_text())
    assert state["current_step"] == "domain"
    assert state["answers"]["authenticator"] == {"type": "github", "client_id": "killed-client",
                                                 "admin_users": ["alice"], "allowed_users": ["bob"],
                                                 "allow_all": False}

    again = Terminal([WIZARD, "demo"], tmp_path)
    again.wait_text("Resume the demo hub at Domain & DNS, stopped")
    again.send(ENTER)  # Resume has the focus
    again.wait_text("The name people will use")
    again.send(CTRL_Q)  # quit: the session stays resumable
    again.child.expect(pexpect.EOF)
    again.child.close()
    assert again.child.exitstatus == 3
    from wizard.session import Session

    with Session.open("demo", lock=False) as session:
        assert session.current_step == "domain"
        assert session.answers.get("authenticator.client_secret") == "killed-Secret-0a1b"
        assert session.answers.get("authenticator.client_id") == "killed-client"
