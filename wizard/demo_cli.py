"""``tljh-wizard demo [--plain]``: the whole wizard against a sandbox hub on this machine (no server needed).

The sandbox lives beside the demo session (``wizard.context.demo_prefix``) and is created on first use.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plain", action="store_true", help="plain prompts instead of the full-screen interface")


def run(args: argparse.Namespace) -> int:
    from wizard.wizard_cli import launch

    return launch(None, mode="sandbox", prefill={"connection.host": "localhost"}, plain=args.plain)
