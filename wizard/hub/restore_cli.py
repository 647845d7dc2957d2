"""``tljh-wizard restore-backup [USER@]HOST[:PORT] BUNDLE [--yes]``: put a backup bundle's config/ and state/ back.

The bundle must match its ``.sha256``; the hub's current config/ and state/ are replaced (swapped in by rename). Run
``tljh-config reload proxy`` and ``reload hub`` afterwards (``--reload`` does it). Exit codes: 0 restored; 2 a damaged
bundle, a refused confirmation, or a connection/command error.
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from wizard.hub.connect import add_target_arguments

    add_target_arguments(parser, host=True)
    parser.add_argument("bundle", metavar="BUNDLE", help="a tljh-backup-*.tar.gz pulled by `tljh-wizard backup`")
    parser.add_argument("--yes", action="store_true", help="restore without asking for confirmation")
    parser.add_argument("--reload", action="store_true", help="reload the proxy and the hub afterwards")


def run(args: argparse.Namespace) -> int:
    from wizard.hub import backup
    from wizard.hub.connect import target_from_args
    from wizard.hub.target import HubError

    try:
        backup.verify(args.bundle)
        target = target_from_args(args)
    except (ValueError, HubError) as exc:
        print(f"tljh-wizard restore-backup: {exc}", file=sys.stderr)
        return 2
    if not args.yes:
        if not sys.stdin.isatty():
            print("tljh-wizard restore-backup: not restored: confirm on a terminal, or pass --yes", file=sys.stderr)
            return 2
        answer = input(f"Replace config/ and state/ under {target.prefix} on {target.name}? Type yes: ")
        if answer.strip().lower() != "yes":
            print(f"tljh-wizard restore-backup: not restored: the answer was not 'yes'; nothing on {target.name} "
                  "was changed", file=sys.stderr)
            return 2
    try:
        with target:
            backup.restore(target, args.bundle)
            if args.reload:
                for component in ("proxy", "hub"):
                    target.run([target.tljh_config, "reload", component], sudo=True, timeout=180, check=True)
    except HubError as exc:
        print(f"tljh-wizard restore-backup: {exc}", file=sys.stderr)
        return 2
    print(f"restored {args.bundle} on {target.name}" + (" and reloaded the proxy and the hub" if args.reload else ""))
    return 0
