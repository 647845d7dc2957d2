"""Step 1, Connect: how to reach the hub; connecting (with host-key acceptance) and gathering the host facts."""

from __future__ import annotations

from screens.step import StepScreen
from wizard import flow


class ConnectScreen(StepScreen):
    step_id = "connect"
    intro = ("How to reach the hub over SSH. Host keys are checked against known_hosts; an unknown key is shown "
             "for you to compare before anything is sent.")
    hard_gate = True
    pause_after_checks = True  # the host facts are worth a look before going on
    check = staticmethod(flow.connect)

    def hidden(self, section: str) -> set[str]:
        ssh_only = {"host", "port", "user", "key_file", "key_passphrase", "host_key"}
        if self.ctx.mode == "sandbox":  # the demo's hub is a tree the wizard made itself
            return ssh_only | {"sudo_password", "tljh_prefix"}
        if self.ctx.mode == "local":
            return ssh_only
        return set()

    def on_mount(self) -> None:
        super().on_mount()
        if self.ctx.mode != "ssh":
            self.query_one("#step-intro").update(f"This run talks to {flow.describe_target(self.ctx)}.")
