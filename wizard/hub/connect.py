"""Building a ``HubTarget`` from answers or command-line options, shared by ``apply``, ``backup`` and
``restore-backup`` (and usable by any front-end)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from wizard.fields import hub_address
from wizard.hub.target import HubTarget

if TYPE_CHECKING:
    from wizard.answers import Answers
    from wizard.hub.ssh import SSHTarget


def add_target_arguments(parser: argparse.ArgumentParser, host: bool) -> None:
    """Options that say which hub to talk to. ``host``: take ``[USER@]HOST[:PORT]`` as a positional argument."""
    if host:
        parser.add_argument("host", nargs="?", metavar="[USER@]HOST[:PORT]",
                            help="the hub to reach over SSH (not with --local or --sandbox)")
        add_ssh_options(parser)
        parser.add_argument("--secrets", metavar="FILE",
                            help="a secrets.yaml holding connection.sudo_password / connection.key_passphrase")
    else:
        add_known_hosts_option(parser)
    parser.add_argument("--local", action="store_true", help="the hub is this machine (run on the hub itself)")
    parser.add_argument("--sandbox", metavar="DIR", help="the demo sandbox hub in DIR (created if missing)")


def add_ssh_options(parser: argparse._ActionsContainer) -> None:
    """How to reach a hub over SSH, as the answers' connection section says it: ``--key`` (key_file), ``--prefix``
    (tljh_prefix), ``--host-key`` (host_key), ``--known-hosts``."""
    parser.add_argument("--key", metavar="FILE", help="SSH private key (default: the agent and ~/.ssh keys)")
    parser.add_argument("--prefix", metavar="DIR", help="TLJH's install prefix on the hub (default /opt/tljh)")
    parser.add_argument("--host-key", metavar="SHA256:...",
                        help="accept only this host key fingerprint (as OpenSSH prints it)")
    add_known_hosts_option(parser)


def add_known_hosts_option(parser: argparse._ActionsContainer) -> None:
    parser.add_argument("--known-hosts", metavar="FILE", action="append", default=None,
                        help="known_hosts file to trust (repeatable; default ~/.ssh/known_hosts) besides the "
                             "wizard's own")


def ask_host_key(label: str, key_type: str, fingerprint: str) -> bool:
    """The command line's host-key question: only on a terminal, and only an explicit "yes" accepts."""
    if not sys.stdin.isatty():
        return False
    print(f"The host key of {label} is not known:\n  {key_type} {fingerprint}\n"
          "Compare it with the key your provider's console shows.", file=sys.stderr)
    try:
        return input("Accept and remember it? Type yes to accept: ").strip().lower() == "yes"
    except EOFError:
        return False


def ssh_target(connection: Mapping[str, Any], *, known_hosts: list[str] | None = None, interactive: bool = True,
               accept_host_key: Callable[[str, str, str], bool] | None = None) -> SSHTarget:
    """An ``SSHTarget`` from a connection section (``wizard.answers`` field names).

    An unknown host key goes to ``accept_host_key(host, key_type, fingerprint) -> bool`` (a front-end's question);
    without one, ``interactive`` asks on the terminal, else the key is refused."""
    from wizard.hub.ssh import SSHTarget

    return SSHTarget(
        connection["host"], port=int(connection.get("port") or 22), user=connection.get("user") or "root",
        key_file=connection.get("key_file") or None, key_passphrase=connection.get("key_passphrase") or None,
        sudo_password=connection.get("sudo_password") or None, pinned_host_key=connection.get("host_key") or None,
        accept_host_key=accept_host_key or (ask_host_key if interactive else None),
        known_hosts_files=[Path(p) for p in known_hosts] if known_hosts else None,
        prefix=connection.get("tljh_prefix") or "/opt/tljh")


DEMO = "demo"  # the demo's session name; as a hub, the sandbox `tljh-wizard demo` made on this machine


def demo_target() -> HubTarget:
    """The demo's sandbox hub (``wizard.context.demo_prefix``), never a host called "demo"; ``ValueError`` when the demo
    has not made it yet."""
    from wizard.context import demo_prefix
    from wizard.hub.local import SandboxTarget

    prefix = demo_prefix()
    if not (prefix / "config" / "config.yaml").is_file():
        raise ValueError("no demo hub on this machine yet: run `tljh-wizard demo` first")
    return SandboxTarget(prefix, create=False)


def target_from_args(args: argparse.Namespace, answers: Answers | None = None) -> HubTarget:
    """The target the options name: --sandbox, --local, a HOST argument (``demo``: the demo's sandbox hub), or the
    answers' connection section."""
    from wizard.answers import field_for
    from wizard.hub.local import LocalTarget, SandboxTarget

    if getattr(args, "sandbox", None):
        return SandboxTarget(Path(args.sandbox).expanduser())
    if getattr(args, "host", None) == DEMO and not getattr(args, "local", False):
        return demo_target()
    connection = dict(answers.section("connection")) if answers is not None else {}
    if getattr(args, "secrets", None):
        connection.update({k: v for k, v in _secrets(args.secrets).items() if v})
    if getattr(args, "local", False):
        return LocalTarget(prefix=getattr(args, "prefix", None) or connection.get("tljh_prefix") or "/opt/tljh",
                           sudo_password=connection.get("sudo_password"))
    if getattr(args, "host", None):
        user, host, port = hub_address(args.host)
        connection.update(host=host, **({"user": user} if user else {}), **({"port": port} if port else {}))
    for option, key in (("key", "key_file"), ("prefix", "tljh_prefix"), ("host_key", "host_key")):
        if getattr(args, option, None):
            flag = "--" + option.replace("_", "-")
            connection[key] = field_for(f"connection.{key}").check(getattr(args, option), flag)
    if not connection.get("host"):
        raise ValueError("no hub given: name a HOST, or use --local or --sandbox DIR")
    return ssh_target(connection, known_hosts=getattr(args, "known_hosts", None))


def _secrets(path: str) -> dict[str, Any]:
    """The connection secrets of a secrets.yaml (sudo password, key passphrase)."""
    from wizard import yamlio
    from wizard.answers import field_for
    from wizard.fields import ValidationError

    document = yamlio.load_file(path) or {}
    if not isinstance(document, dict):
        raise ValidationError(f"{path}: expected a mapping")
    connection = document.get("connection") or {}
    if not isinstance(connection, dict):
        raise ValidationError(f"{path}: expected a mapping of answers", "connection")
    return {key: field_for(f"connection.{key}").check(connection.get(key), f"connection.{key}")
            for key in ("sudo_password", "key_passphrase")}
