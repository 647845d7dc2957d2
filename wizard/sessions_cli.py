"""``tljh-wizard sessions``: list saved sessions, or forget one."""

from __future__ import annotations

import argparse
import json
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--forget", metavar="NAME", help="delete this session (its answers, journal and secrets)")
    parser.add_argument("--json", action="store_true", help="print the sessions as JSON")


def ago(timestamp: float, now: float | None = None) -> str:
    seconds = max(0, int((now or time.time()) - timestamp))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now"


def run(args: argparse.Namespace) -> int:
    from wizard import session as sessions
    from wizard.steps import step

    if args.forget:
        sessions.forget(args.forget)
        print(f"forgot session {args.forget}")
        return 0
    infos = sessions.list_sessions()
    if args.json:
        print(json.dumps([info.to_json() for info in infos], indent=1))
        return 0
    if not infos:
        print(f"no sessions under {sessions.sessions_dir()}")
        return 0
    rows = [("SESSION", "HOST", "STOPPED AT", "LAST CHANGE", "")]
    for info in infos:
        try:
            where = step(info.current_step).title
        except KeyError:
            where = info.current_step
        rows.append((info.name, info.host, where, ago(info.updated),
                     f"in use (pid {info.locked_by})" if info.locked_by else ""))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0
