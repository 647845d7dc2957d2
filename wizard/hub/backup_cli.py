"""``tljh-wizard backup [USER@]HOST[:PORT] [-o DIR]``: pull a bundle of TLJH's config/ and state/ from the hub.

The bundle (``tljh-backup-NAME-TIME.tar.gz``) and its ``.sha256`` are written 0600 into a 0700 folder (default: the
hub's session folder). Exit codes: 0 pulled; 2 connection or command error.
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from wizard.hub.connect import add_target_arguments

    add_target_arguments(parser, host=True)
    parser.add_argument("-o", "--output", metavar="DIR", help="folder for the bundle (default: the session's)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from wizard.hub import backup
    from wizard.hub.connect import target_from_args
    from wizard.hub.target import HubError
    from wizard.session import sessions_dir

    try:
        target = target_from_args(args)
    except (ValueError, HubError) as exc:
        print(f"tljh-wizard backup: {exc}", file=sys.stderr)
        return 2
    try:
        with target:
            folder = Path(args.output).expanduser() if args.output else sessions_dir() / target.name / "backups"
            bundle = backup.pull(target, folder)
    except HubError as exc:
        print(f"tljh-wizard backup: {exc}", file=sys.stderr)
        return 2
    print(f"{bundle.path}\nsha256 {bundle.sha256} (recorded in {bundle.checksum_path.name})")
    return 0
