"""Step 1, Connect: how to reach the hub; connecting (with host-key acceptance) and gathering the host facts."""

from __future__ import annotations

from screens.step import StepScreen
from wizard.context import describe_target


class ConnectScreen(StepScreen):
    step_id = "connect"
    intro = ("How to reach the hub over SSH. Host keys are checked against known_hosts; an unknown key is shown "
             "for you to compare before anything is sent.")
    hard_gate = True
    pause_after_checks = True  # the host facts are worth a look before going on

    def on_mount(self) -> None:
        super().on_mount()
        if self.ctx.mode != "ssh":
            self.set_intro(f"This run talks to {describe_target(self.ctx)}.")
