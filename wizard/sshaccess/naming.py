"""Hub user names -> the system accounts TLJH gives them.

Upstream, The Littlest JupyterHub:
- ``tljh/user_creating_spawner.py`` ``CustomSpawner.start``: the account is
  ``generate_system_username("jupyter-" + hub_user_name)``; it is created on the user's first spawn and put in the
  group ``jupyterhub-users``, admins also in ``jupyterhub-admins`` (and taken out of it when no longer admin).
- ``tljh/normalize.py`` ``generate_system_username``: a name shorter than 26 characters is used as is; otherwise the
  first 26 characters, ``-`` and the first 5 hex digits of the SHA-256 of the whole name — at most 32 characters,
  useradd's limit.
- ``tljh/user.py`` ``ensure_user``: ``useradd --create-home NAME`` (home, shell and group from useradd's defaults),
  then ``chmod o-rwx ~NAME``.
- ``tljh/installer.py`` ``ensure_usergroups``: both groups, and ``/etc/sudoers.d/jupyterhub-admins`` granting
  ``%jupyterhub-admins ALL = (ALL) NOPASSWD: ALL`` — an admin's account is root on the hub.

Hub user names reach TLJH lower-cased: JupyterHub's ``Authenticator.normalize_username`` (jupyterhub/auth.py)
lower-cases every name before the spawner sees it. A name whose account ``useradd`` refuses (Debian/Ubuntu shadow
``is_valid_user_name``: no ``:`` or ``,``, no blanks; checked against the real ``useradd`` in the tests) would make
the user's every spawn fail; the wizard refuses it up front.
"""

from __future__ import annotations

import hashlib
from typing import Any

from wizard.fields import ValidationError, hub_username

PREFIX = "jupyter-"
USERS_GROUP = "jupyterhub-users"
ADMINS_GROUP = "jupyterhub-admins"
SUDOERS_FILE = "/etc/sudoers.d/jupyterhub-admins"
_TRUNCATE_AT = 26
_REFUSED = set(":,") | {" ", "\t", "/"}


def system_username(hub_user: str) -> str:
    """The account TLJH runs ``hub_user``'s server as: ``jupyter-alice``; long names truncated with a hash."""
    name = PREFIX + normalize(hub_user)
    if len(name) < _TRUNCATE_AT:
        return name
    return f"{name[:_TRUNCATE_AT]}-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:5]}"


def normalize(hub_user: str) -> str:
    """The name as JupyterHub hands it on (``Authenticator.normalize_username``: lower-cased)."""
    return hub_user.lower()


def check_hub_user(raw: Any) -> str:
    """Validator for a hub user name that will get an account: normalised, and one TLJH's useradd accepts."""
    value = normalize(hub_username(raw))
    bad = sorted(set(value) & _REFUSED)
    if bad:
        raise ValidationError(f"{value[:40]!r}: TLJH could not create its account {PREFIX}{value[:30]} (useradd "
                              f"refuses {' '.join(repr(c) for c in bad)} in user names)")
    return value
