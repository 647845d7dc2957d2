"""Step 3, Domain & DNS: the hub's name and reserved IP, checked at every authoritative server and public resolver."""

from __future__ import annotations

from wizard import flow
from screens.step import StepScreen


class DomainScreen(StepScreen):
    step_id = "domain"
    intro = ("The name people will use and the VM's reserved (static) IP. The checks ask every authoritative "
             "nameserver and the public resolvers, the way Let's Encrypt will see the name.")
    check = staticmethod(flow.domain_checks)

    def on_mount(self) -> None:
        super().on_mount()
        public_ip = self.ctx.facts.public_ip if self.ctx.facts is not None else None
        known = public_ip and public_ip != "unknown" and ":" not in public_ip
        if known and not self.ctx.answers.answered("domain.reserved_ipv4"):
            from textual.widgets import Input

            self.query_one("#field-domain-reserved-ipv4", Input).value = str(public_ip)
