"""Step 3, Domain & DNS: the hub's name and reserved IP, checked at every authoritative server and public resolver."""

from __future__ import annotations

from screens.step import StepScreen
from wizard.steps import domain as step_engine


class DomainScreen(StepScreen):
    step_id = "domain"
    intro = ("The name people will use and the VM's reserved (static) IP. The checks ask every authoritative "
             "nameserver and the public resolvers, the way Let's Encrypt will see the name.")
    check = staticmethod(step_engine.domain_checks)

    def on_mount(self) -> None:
        super().on_mount()
        from textual.widgets import Input

        from screens.widgets import widget_id
        from wizard.walk import suggestions

        for key, value in suggestions(self.ctx, self.step_id).items():  # from the host facts, until answered
            self.query_one("#" + widget_id(key), Input).value = str(value)
