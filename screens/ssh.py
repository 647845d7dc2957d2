"""Step 8, SSH access: public keys into the admins' (and any user's) ``jupyter-<name>`` accounts, sshd checked for
what would stop the login, password login turned off only with a proven key login. The checks only read the hub;
the changes are actions of the reviewed plan."""

from __future__ import annotations

from screens.step import StepScreen
from wizard.steps import ssh as step_engine


class SshAccessScreen(StepScreen):
    step_id = "ssh"
    intro = ("Every hub user is a system account jupyter-<name>; a public key in its ~/.ssh/authorized_keys lets "
             "that person in with ssh jupyter-<name>@hub. Admins' accounts have passwordless sudo, so an admin key "
             "is root on the hub: a way in that does not depend on the web login. Keys are installed on Apply; "
             "password login is turned off only after a new key login is proven.")
    check = staticmethod(step_engine.ssh_checks)
