"""``tljh-wizard demo [--plain]``: the whole wizard against a sandbox hub on this machine (no server needed)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plain", action="store_true", help="plain prompts instead of the full-screen interface")


def sandbox_prefix():
    """Where the demo's TLJH-shaped tree lives: beside the demo session, so it survives a resume."""
    from wizard.session import state_dir

    return state_dir() / "demo-hub" / "opt" / "tljh"


def run(args: argparse.Namespace) -> int:
    from screens.wizard_cli import launch

    prefix = sandbox_prefix()
    prefill = {"connection.host": "localhost", "connection.tljh_prefix": str(prefix)}
    return launch("demo", mode="sandbox", prefill=prefill, plain=args.plain, sandbox_prefix=prefix)
