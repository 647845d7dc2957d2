"""``tljh-wizard [--plain] [--local] [USER@]HOST[:PORT]``: the wizard for one hub, full-screen or as plain prompts.

``--plain`` runs the questionary front-end (``wizard.plain``) and never imports Textual; without it ``launch``
imports the Textual front-end (``screens.app``) only then. This module and ``wizard.demo_cli`` are the launchers:
the one place the engine hands a run to a front-end (``tests/test_contracts.py`` allows exactly that lazy import).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from wizard.context import Mode, RunOptions
from wizard.fields import ValidationError, hub_address


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", nargs="?", metavar="[USER@]HOST[:PORT]",
                        help="the hub to set up over SSH (IPv6 as [2001:db8::1]:22)")
    parser.add_argument("--plain", action="store_true",
                        help="plain prompts instead of the full-screen interface (screen readers, simple terminals)")
    parser.add_argument("--local", action="store_true", help="run on the hub itself, without SSH")
    add_rig_arguments(parser)


def add_rig_arguments(parser: argparse.ArgumentParser) -> None:
    """Hidden options that point the wizard at test rigs instead of the real internet (never for operators)."""
    parser.add_argument("--hub-api-url", help=argparse.SUPPRESS)  # the rig's /hub/api stand-in
    parser.add_argument("--metadata-base", help=argparse.SUPPRESS)  # a loopback stand-in for cloud metadata
    parser.add_argument("--known-hosts", action="append", help=argparse.SUPPRESS)
    parser.add_argument("--skip-reachability", action="store_true", help=argparse.SUPPRESS)


def rig_options(args: argparse.Namespace) -> RunOptions:
    """The run's options from the hidden rig arguments (all unset: the real world's defaults)."""
    return RunOptions(hub_api_url=args.hub_api_url, metadata_base=args.metadata_base, known_hosts=args.known_hosts,
                      skip_reachability=bool(args.skip_reachability))


def run(args: argparse.Namespace) -> int:
    mode: Mode
    prefill: dict[str, object]
    if args.local:
        mode, prefill = "local", {"connection.host": "localhost"}
    else:
        if not args.target:
            raise ValidationError("name the hub: tljh-wizard [USER@]HOST[:PORT] (or --local on the hub itself)")
        user, host, port = hub_address(args.target)
        mode, prefill = "ssh", {"connection.host": host, "connection.user": user, "connection.port": port}
    return launch(None, mode=mode, prefill=prefill, plain=args.plain, options=rig_options(args))


def launch(name: str | None, *, mode: Mode, prefill: dict[str, object], plain: bool,
           sandbox_prefix: Path | None = None, options: RunOptions | None = None) -> int:
    """Run one front-end over the session ``name`` (None: the mode's own, see ``open_context``); the session is
    closed (unlocked) however it ends. Nothing heavy is imported before the first screen shows."""
    if plain:
        from wizard.plain import run_plain

        return run_plain(name, mode=mode, prefill=prefill, sandbox_prefix=sandbox_prefix, options=options)
    import sys

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("tljh-wizard: the full-screen wizard needs a terminal: use --plain on a simple terminal, or replay an "
              "answers file without prompts: tljh-wizard apply answers.yaml --secrets secrets.yaml", file=sys.stderr)
        return 2
    from screens.app import build_app  # the Textual front-end, only now
    from wizard.context import WizardContext, describe, open_context

    def opener() -> WizardContext:
        return open_context(name, mode=mode, prefill=prefill, sandbox_prefix=sandbox_prefix, options=options)

    # The welcome screen shows at once; the session is opened behind it.
    app = build_app(opener=opener, target=describe(mode, sandbox_prefix, prefill.get))
    try:
        code = app.run()
        code = 0 if code is None else int(code)
        if app.ctx is not None and code in (0, 3):  # what was applied, what is pending, what to run next
            from wizard.walk import exit_summary

            print(app.ctx.redact(exit_summary(app.ctx, finished=code == 0)))
    finally:
        if app.ctx is not None:
            app.ctx.close()
            app.ctx.session.close()
    return code
