"""``tljh-wizard env summary|freeze|list|diff|restore|install HUB ...``: the hub's user environment from the shell.

HUB is a session name or ``[USER@]HOST[:PORT]``. With a session, its connection answers are used; otherwise the
options below (host keys are checked strictly either way: an unknown key is refused, never accepted here). Snapshots
are kept on the hub (root-only, under TLJH's state dir) and in the session directory (``snapshots/``).

Exit codes: 0 ok; 1 warnings (unreadable records; ``diff``: differences found); 2 errors, or a restore refused
because it was not confirmed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wizard.answers import Answers
    from wizard.environment.restore import RestorePlan
    from wizard.hub.target import HubTarget



def add_arguments(parser: argparse.ArgumentParser) -> None:
    from wizard.hub.connect import add_ssh_options

    commands = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        sub.add_argument("hub", metavar="HUB", help="a session name or [USER@]HOST[:PORT]")
        connection = sub.add_argument_group("connection (when HUB is not a saved session)")
        add_ssh_options(connection)
        connection.add_argument("--ask-sudo-password", action="store_true",
                                help="prompt for the sudo password (it is sent on sudo's stdin, never in argv)")
        connection.add_argument("--local", action="store_true", help="the wizard runs on the hub itself")
        sub.add_argument("--json", action="store_true", help="print one JSON document")
        return sub

    command("summary", "show the user environment: Python, conda and pip-only packages, conda revision")
    command("freeze", "snapshot the user environment on the hub and locally")
    command("list", "list the snapshots on the hub and kept locally")
    diff = command("diff", "compare a snapshot with the live environment, or two snapshots")
    diff.add_argument("old", metavar="SNAPSHOT")
    diff.add_argument("new", metavar="SNAPSHOT", nargs="?", help="default: the live environment")
    restore = command("restore", "bring the environment back to a snapshot (shows the plan, asks before running)")
    restore.add_argument("snapshot", metavar="SNAPSHOT")
    restore.add_argument("--no-smoke", action="store_true",
                         help="skip the smoke test after the restore (a temporary user's server runs one cell)")
    restore.add_argument("--yes", action="store_true", help="run the plan without asking")
    restore.add_argument("--dry-run", action="store_true", help="show the plan only")
    install = command("install", "install packages into the user environment (frozen first)")
    install.add_argument("packages", metavar="PACKAGE", nargs="+")
    install.add_argument("--no-smoke", action="store_true",
                         help="skip the smoke test after the install (a temporary user's server runs one cell)")
    manager = install.add_mutually_exclusive_group()
    manager.add_argument("--conda", dest="manager", action="store_const", const="conda", help="with conda (default)")
    manager.add_argument("--pip", dest="manager", action="store_const", const="pip", help="with pip")
    install.add_argument("--freeze-after", action="store_true",
                         help="freeze again after a successful install (asked when on a terminal)")
    install.set_defaults(manager="conda")


class Hub:
    """A connected hub with its display name and the local directory for its snapshots."""

    def __init__(self, target: HubTarget, host: str, local_dir: Path) -> None:
        self.target, self.host, self.local_dir = target, host, local_dir


def open_hub(args: argparse.Namespace) -> Hub:
    """The hub named by ``args.hub``: a saved session's connection answers, overridden by the options given.

    A hub met for the first time gets a session holding its connection answers, so later commands (and
    ``tljh-wizard check``) find it by name.
    """
    from wizard.audit.cli import find_session
    from wizard.session import Session, SessionError, session_name

    if args.local:
        from wizard.hub.local import LocalTarget

        with Session.open("local", create=True) as local_session:
            directory = local_session.dir
        return Hub(LocalTarget(args.prefix or "/opt/tljh"), "local", directory / "snapshots")
    session: Session | None
    try:
        session = find_session(args.hub)
    except SessionError:
        session = None
    if session is not None and session.name == "demo":  # the demo's hub is its sandbox on this machine
        from wizard.hub.local import SandboxTarget

        with session:
            prefix = session.answers.get("connection.tljh_prefix")
            directory = session.dir
        if prefix:
            return Hub(SandboxTarget(Path(prefix)), "demo", directory / "snapshots")
        session = None
    if session is not None:
        with session:
            answers = session.answers
            if answers.get("connection.host"):
                return _ssh_hub(args, session.dir, answers.get("connection.host"), answers.get("connection.port")
                                or 22, answers.get("connection.user") or "root", answers)

    from wizard.fields import hub_address

    user, host, port = hub_address(args.hub)
    user, port = user or "root", port or 22
    with Session.open(session_name(host, user, port), create=True, host=host) as session:
        for key, value in (("host", host), ("port", port), ("user", user), ("key_file", args.key),
                           ("tljh_prefix", args.prefix), ("host_key", args.host_key)):
            if value is not None:  # the session's name is user@host:port: those three always match it
                session.accept(f"connection.{key}", value)
        return _ssh_hub(args, session.dir, host, port, user, session.answers)


def _ssh_hub(args: argparse.Namespace, session_dir: Path, host: str, port: int, user: str, answers: Answers) -> Hub:
    from wizard.hub.ssh import SSHTarget

    password = answers.get("connection.sudo_password")
    if args.ask_sudo_password:
        import getpass

        password = getpass.getpass(f"sudo password for {user}@{host}: ")
    target = SSHTarget(host, port=port, user=user, key_file=args.key or answers.get("connection.key_file"),
                       key_passphrase=answers.get("connection.key_passphrase"), sudo_password=password,
                       known_hosts_files=args.known_hosts,
                       pinned_host_key=args.host_key or answers.get("connection.host_key"),
                       prefix=args.prefix or answers.get("connection.tljh_prefix") or "/opt/tljh")
    return Hub(target, host, session_dir / "snapshots")


def run(args: argparse.Namespace) -> int:
    from wizard.environment.snapshot import SnapshotError
    from wizard.environment.summary import StreamError
    from wizard.hub.target import HubError

    try:
        hub = open_hub(args)
    except HubError as exc:
        print(f"tljh-wizard env: error: {exc}", file=sys.stderr)
        return 2
    try:
        with hub.target:
            return ACTIONS[args.action](hub, args)
    except (HubError, SnapshotError, StreamError) as exc:
        print(f"tljh-wizard env {args.action}: error: {exc}", file=sys.stderr)
        return 2


def _emit(args: argparse.Namespace, document: dict[str, Any], lines: list[str]) -> None:
    if args.json:
        json.dump(document, sys.stdout, indent=1, sort_keys=True, default=str)
        sys.stdout.write("\n")
    else:
        print("\n".join(lines))


def summary(hub: Hub, args: argparse.Namespace) -> int:
    from wizard.environment.summary import gather

    environment = gather(hub.target)
    _emit(args, {
        "prefix": environment.prefix, "platform": environment.platform, "python": environment.python,
        "conda_revision": environment.revision, "tljh_version": environment.tljh_version,
        "conda": {name: p.spec for name, p in sorted(environment.conda.items())},
        "pip": {p.name: p.version for p in sorted(environment.pip.values(), key=lambda p: p.key)},
        "problems": [problem.to_json() for problem in environment.problems],
    }, environment.summary_lines())
    return 1 if environment.problems else 0


def freeze(hub: Hub, args: argparse.Namespace) -> int:
    from wizard.environment.snapshot import freeze_hub, hub_dir

    snapshot, environment = freeze_hub(hub.target, hub.local_dir, host=hub.host)
    where = f"{hub_dir(hub.target.prefix)}/{snapshot.id}.json"
    lines = [f"snapshot {snapshot.id}: {len(snapshot.conda)} conda packages, {len(snapshot.pip)} pip-only "
             f"packages, conda revision {snapshot.conda_revision}",
             f"  on the hub: {where}", f"  locally:    {hub.local_dir / (snapshot.id + '.json')}",
             f"  checksum:   {snapshot.checksum}"]
    lines += [f"  not locked (no URL or hash): {name}" for name in snapshot.unlocked]
    lines += [f"  problem: {problem.summary}" for problem in environment.problems]
    _emit(args, {"id": snapshot.id, "hub_path": where, "local_path": str(hub.local_dir / f"{snapshot.id}.json"),
                 "checksum": snapshot.checksum, "conda": len(snapshot.conda), "pip": len(snapshot.pip),
                 "conda_revision": snapshot.conda_revision, "unlocked": snapshot.unlocked,
                 "problems": [problem.summary for problem in environment.problems]}, lines)
    return 1 if environment.problems or snapshot.unlocked else 0


def listing(hub: Hub, args: argparse.Namespace) -> int:
    from wizard.environment.snapshot import SnapshotError, hub_snapshots, load_local, local_ids

    on_hub, errors = hub_snapshots(hub.target)
    rows = {s.id: (s, ["hub"]) for s in on_hub}
    for snapshot_id in local_ids(hub.local_dir):
        try:
            snapshot = load_local(hub.local_dir, snapshot_id)
        except SnapshotError as exc:
            errors.append(str(exc))
            continue
        rows.setdefault(snapshot_id, (snapshot, []))[1].append("local")
    ordered = [rows[key] for key in sorted(rows)]
    lines = [f"{'SNAPSHOT':18} {'CREATED':23} {'CONDA':>5} {'PIP':>4} {'REV':>4}  WHERE"] if ordered else \
        ["no snapshots yet: tljh-wizard env freeze " + args.hub]
    for snapshot, where in ordered:
        revision = "-" if snapshot.conda_revision is None else str(snapshot.conda_revision)
        lines.append(f"{snapshot.id:18} {snapshot.created_text:23} {len(snapshot.conda):5} {len(snapshot.pip):4} "
                     f"{revision:>4}  {'+'.join(where)}")
    lines += [f"damaged: {error}" for error in errors]
    _emit(args, {"snapshots": [{"id": s.id, "created": s.created, "host": s.host, "conda": len(s.conda),
                                "pip": len(s.pip), "conda_revision": s.conda_revision, "where": where,
                                "checksum": s.checksum} for s, where in ordered], "damaged": errors}, lines)
    return 1 if errors else 0


def diff(hub: Hub, args: argparse.Namespace) -> int:
    from wizard.environment import diff as envdiff
    from wizard.environment.snapshot import find_snapshot
    from wizard.environment.summary import gather

    old = envdiff.PackageSet.of_snapshot(find_snapshot(hub.target, hub.local_dir, args.old))
    if args.new:
        new = envdiff.PackageSet.of_snapshot(find_snapshot(hub.target, hub.local_dir, args.new))
    else:
        new = envdiff.PackageSet.of_environment(gather(hub.target))
    changes = envdiff.diff(old, new)
    _emit(args, {"from": old.label, "to": new.label, "changes": [change.__dict__ for change in changes]},
          [envdiff.render(changes, old, new).rstrip("\n")])
    return 1 if changes else 0


def restore(hub: Hub, args: argparse.Namespace) -> int:
    from wizard.environment.restore import execute, plan_restore
    from wizard.environment.snapshot import find_snapshot, freeze_hub
    from wizard.environment.summary import gather

    snapshot = find_snapshot(hub.target, hub.local_dir, args.snapshot)
    if args.dry_run:
        plan = plan_restore(snapshot, gather(hub.target))
        print(plan.render(), end="")
        return 1 if plan.empty and plan.changes else 0
    # Freezing first gives both the live state the plan is made from and a way back from the restore.
    before, live = freeze_hub(hub.target, hub.local_dir, host=hub.host)
    plan = plan_restore(snapshot, live)
    print(plan.render(), end="")
    if plan.empty:
        return 1 if plan.changes else 0
    print(f"The current state is kept as snapshot {before.id} (restore it to undo this).")

    def confirm(_plan: RestorePlan) -> bool:
        if args.yes:
            return True
        if not sys.stdin.isatty():
            print("tljh-wizard env restore: not confirmed (no terminal): rerun with --yes to run the plan",
                  file=sys.stderr)
            return False
        return input("Run this plan on the hub? [y/N] ").strip().lower() in ("y", "yes")

    outcome = execute(plan, hub.target, confirm, on_output=_show_output)
    print(outcome.diagnosis.summary)
    if outcome.diagnosis.details:
        print(outcome.diagnosis.details)
    if outcome.diagnosis.status.value != "ok":
        return 2
    return smoke_after(hub, args, before.id)


def install(hub: Hub, args: argparse.Namespace) -> int:
    from wizard.environment.install import install_packages

    outcome = install_packages(hub.target, args.manager, args.packages, hub.local_dir, host=hub.host,
                               on_output=_show_output)
    print(outcome.diagnosis.summary)
    if outcome.diagnosis.status.value != "ok":
        print(outcome.diagnosis.fix)
        return 2
    print(f"The environment before the install is snapshot {outcome.before.id}.")
    if smoke_after(hub, args, outcome.before.id):
        return 2  # a broken environment is not frozen as a known-good state
    again = args.freeze_after or (sys.stdin.isatty() and input("Freeze the new state now? [Y/n] ").strip().lower()
                                  in ("", "y", "yes"))
    return freeze(hub, args) if again else 0


def smoke_after(hub: Hub, args: argparse.Namespace, undo: str) -> int:
    """The smoke test (``wizard.hub.smoke``) after the environment changed, when the session holds its credential
    (an apply installs it); 0 passed or not run, 2 failed (the way back, snapshot ``undo``, is named)."""
    from wizard.diagnosis import Status, render_line
    from wizard.hub import apply, smoke

    if getattr(args, "no_smoke", False):
        return 0
    token_file = hub.local_dir.parent / "store" / smoke.SECRET_NAME
    token = token_file.read_text().strip() if token_file.is_file() else ""
    if not token:
        print("(no smoke test: this hub's session holds no smoke-test credential; an apply installs one)")
        return 0
    diagnoses, _ = smoke.run(hub.target, apply.read_config(hub.target), token)
    for diagnosis in diagnoses:
        print(render_line(diagnosis))
    failed = [d for d in diagnoses if d.status is Status.ERROR]
    if not failed:
        return 0
    tail = next((d.details for d in failed if d.details), "")
    if tail:
        print("".join(f"         | {line}\n" for line in tail.strip().splitlines()[-15:]), end="")
    print(f"The user environment no longer runs a server: restore the snapshot taken before the change with "
          f"`tljh-wizard env restore {args.hub} {undo}`.")
    return 2


def _show_output(stream: str, line: str) -> None:
    if stream == "progress":
        print(f"==> {line}", flush=True)
    else:
        print(f"    {line}", flush=True)


ACTIONS = {"summary": summary, "freeze": freeze, "list": listing, "diff": diff, "restore": restore,
           "install": install}
