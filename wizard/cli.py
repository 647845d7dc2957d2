"""The command line: ``tljh-wizard [--plain] [USER@]HOST[:PORT]`` and its subcommands.

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and ``run(args) -> int``. Only the module
of the command being run is imported, so ``--help`` and quick commands stay fast and never load Textual, paramiko or
the ACME stack. A command whose module is not built yet says so and exits 2 — never a fake success.

Exit codes: 0 success; 1 warnings (check, dns-check); 2 errors, refused input or a failed action; 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

from wizard import __version__

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("screens.demo_cli", "run the whole wizard against a sandbox hub on this machine"),
    "apply": ("wizard.hub.apply_cli", "apply an answers file to a hub without prompts"),
    "export": ("wizard.export", "export answers as answers.yaml, TLJH config.yaml or Z2JH Helm values"),
    "sessions": ("wizard.sessions_cli", "list saved sessions, or forget one"),
    "dns-check": ("wizard.dns.cli", "check that a domain points at the hub's reserved IP"),
    "access": ("wizard.access.cli", "who can log in: sample identities judged by the authenticator's own code"),
    "check": ("wizard.audit.cli", "audit a running hub (DNS, certificate, config and environment drift)"),
    "renew": ("wizard.https.cli", "renew a certificate the wizard issued, when due"),
    "backup": ("wizard.hub.backup_cli", "pull a backup bundle of TLJH's config and state"),
    "restore-backup": ("wizard.hub.restore_cli", "put a backup bundle back on the hub"),
    "env": ("wizard.environment.cli", "freeze, list, diff or restore the user environment"),
}
WIZARD_MODULE = "screens.wizard_cli"

EPILOG = "commands:\n" + "\n".join(f"  {name:15} {text}" for name, (_, text) in COMMANDS.items()) + """

Run `tljh-wizard COMMAND --help` for a command's options.
exit codes: 0 success, 1 warnings, 2 errors or refused input, 130 interrupted."""


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _parser(prog: str, description: str, module: str | None) -> tuple[argparse.ArgumentParser, object | None]:
    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    loaded = None
    if module and _available(module):
        loaded = importlib.import_module(module)
        loaded.add_arguments(parser)
    else:
        parser.description = f"{description} (not available yet)"
        parser.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser, loaded


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--version":
        print(f"tljh-wizard {__version__}")
        return 0
    if argv and argv[0] in COMMANDS:
        name = argv.pop(0)
        module, text = COMMANDS[name]
        parser, loaded = _parser(f"tljh-wizard {name}", text[0].upper() + text[1:] + ".", module)
    else:
        name = "wizard"
        parser, loaded = _parser("tljh-wizard", "A terminal wizard that takes a fresh The Littlest JupyterHub "
                                 "server to production over SSH.", WIZARD_MODULE)
        parser.epilog = EPILOG
        parser.add_argument("--version", action="version", version=f"tljh-wizard {__version__}")
        if not argv:
            parser.print_help()
            return 2
    args = parser.parse_args(argv)
    if loaded is None:
        print(f"tljh-wizard {name}: not available yet in this version", file=sys.stderr)
        return 2
    return _run(loaded, args, name)


def _run(module, args: argparse.Namespace, name: str) -> int:
    from wizard.fields import ValidationError

    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print(f"\ntljh-wizard {name}: interrupted", file=sys.stderr)
        return 130
    except ValidationError as exc:
        print(f"tljh-wizard {name}: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        from wizard.session import SessionError

        if isinstance(exc, (SessionError, OSError)):
            print(f"tljh-wizard {name}: error: {exc}", file=sys.stderr)
            return 2
        raise
