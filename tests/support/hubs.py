"""Answers and targets for the test hubs: the sshd rig's hub (``tests/rig/sshd.py``) and the demo sandbox."""

import contextlib
import hashlib
from pathlib import Path
from typing import Any, Iterator

from wizard.answers import Answers
from wizard.hub import connect
from wizard.hub.ssh import SSHTarget
from wizard.hub.target import HubTarget

CLIENT_SECRET = "SENTINEL-client-secret-apply-81c4"


def rig_documents(hub: Any, user: Any = None, auth: dict[str, Any] | None = None,
                  https: str = "letsencrypt") -> tuple[dict[str, Any], dict[str, Any]]:
    """(public, secret) answers documents for the rig's hub, connecting as ``user`` (default: its admin)."""
    user = user or hub.admin
    public = {
        "version": 1,
        "connection": {"host": hub.host, "port": hub.port, "user": user.name, "key_file": str(hub.client_key),
                       "host_key": hub.host_key_fingerprint, "tljh_prefix": str(hub.prefix)},
        "authenticator": auth or {"type": "github", "client_id": "gh-client-id",
                                  "allowed_organizations": ["example-org"], "admin_users": ["alice"]},
        "domain": {"name": "hub.example.edu", "reserved_ipv4": "203.0.113.10", "ip_reserved_confirmed": True},
        "https": {"mode": "letsencrypt", "email": "admin@example.edu"} if https == "letsencrypt" else {"mode": https},
        "limits": {"memory": "2G", "cpu": 1, "cull_timeout": 3600, "cull_every": 300},
        "environment": {"default_app": "jupyterlab"},
    }
    secret: dict[str, Any] = {"version": 1, "authenticator": {"client_secret": CLIENT_SECRET}}
    if user.sudo_password:
        secret["connection"] = {"sudo_password": user.sudo_password}
    return public, secret


def rig_answers(hub: Any, **options: Any) -> Answers:
    answers = Answers.from_documents(*rig_documents(hub, **options))
    answers.require_complete()
    return answers


def rig_target(hub: Any, answers: Answers) -> HubTarget:
    """The target the answers' connection section names, trusting the rig's known_hosts only."""
    target = connect.ssh_target(answers.section("connection"), known_hosts=[str(hub.known_hosts)], interactive=False)
    target.allow_agent = target.look_for_keys = False
    target.hub_api_url = hub.hub_api_url
    return target


def hub_target(hub: Any) -> SSHTarget:
    """The rig's hub as its admin, with the rig's client key only."""
    return SSHTarget(hub.host, port=hub.port, user=hub.admin.name, key_file=str(hub.client_key), allow_agent=False,
                     look_for_keys=False, known_hosts_files=[hub.known_hosts], prefix=str(hub.prefix))


def config_file(hub: Any) -> Path:
    return Path(hub.prefix) / "config" / "config.yaml"


def sandbox_documents() -> tuple[dict[str, Any], dict[str, Any]]:
    """Answers for the sandbox: no connection section is needed with --sandbox."""
    public = {
        "version": 1,
        "authenticator": {"type": "github", "client_id": "gh-client-id", "allowed_organizations": ["example-org"],
                          "admin_users": ["alice"]},
        "domain": {"name": "hub.example.edu", "reserved_ipv4": "203.0.113.10", "ip_reserved_confirmed": True},
        "https": {"mode": "letsencrypt", "email": "admin@example.edu"},
        "limits": {"memory": "2G", "cpu": 1},
    }
    return public, {"version": 1, "authenticator": {"client_secret": CLIENT_SECRET}}


def tljh_system_username(hub_user: str) -> str:
    """Stand-in of TLJH's ``tljh/normalize.py`` ``generate_system_username`` applied to ``"jupyter-" + name``
    (``tljh/user_creating_spawner.py``), written out independently of the engine's version."""
    full = "jupyter-" + hub_user
    if len(full) < 26:
        return full
    return full[:26] + "-" + hashlib.sha256(full.encode()).hexdigest()[:5]


@contextlib.contextmanager
def jupyter_server_renamed(prefix: Any) -> Iterator[None]:
    """The hub's user environment broken for the ``with`` block, as a bad ``conda update`` breaks it: its
    ``jupyter_server`` package dir renamed (the rig's user environment links its packages from
    ``PREFIX/user/lib/standin-packages``, ``wizard.hub.hubenv``), so its single-user server cannot start."""
    links = Path(prefix) / "user" / "lib" / "standin-packages"
    (links / "jupyter_server").rename(links / "jupyter_server.broken")
    try:
        yield
    finally:
        (links / "jupyter_server.broken").rename(links / "jupyter_server")
