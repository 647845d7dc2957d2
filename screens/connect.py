"""Step 1, Connect: how to reach the hub; connecting (with host-key acceptance) and gathering the host facts."""

from __future__ import annotations

import threading

from screens import engines
from screens.modals import HostKeyModal
from screens.step import StepScreen


class ConnectScreen(StepScreen):
    step_id = "connect"
    intro = ("How to reach the hub over SSH. Host keys are checked against known_hosts; an unknown key is shown "
             "for you to compare before anything is sent.")
    hard_gate = True
    check = staticmethod(engines.connect)

    def __init__(self, ctx: engines.WizardContext) -> None:
        super().__init__(ctx)
        ctx.host_key_prompt = self.ask_host_key

    def hidden(self, section: str) -> set[str]:
        if self.ctx.mode != "ssh":  # the sandbox and --local need no SSH settings
            return {"host", "port", "user", "key_file", "key_passphrase", "sudo_password", "host_key"}
        return set()

    def on_mount(self) -> None:
        super().on_mount()
        if self.ctx.mode != "ssh":
            self.query_one("#step-intro").update(f"This run talks to {engines.describe_target(self.ctx)}.")

    def ask_host_key(self, host: str, fingerprint: str) -> bool:
        """Called from the connect worker thread: show the modal and block until the operator decides."""
        decided = threading.Event()
        answer: dict = {}

        def record(decision) -> None:
            answer["accepted"] = bool(decision and decision.accepted)
            decided.set()

        self.app.call_from_thread(self.app.push_screen, HostKeyModal(host, fingerprint), record)
        decided.wait()
        return answer["accepted"]
