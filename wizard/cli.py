"""The command line: ``tljh-wizard [--plain] [USER@]HOST[:PORT]`` and its subcommands.

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and ``run(args) -> int``. Only the module
of the command being run is imported, so ``--help`` and quick commands stay fast and never load Textual, paramiko or
the ACME stack. A command whose module is not built yet says so and exits 2 — never a fake success.

Exit codes (``EXIT_CODES``, printed by ``--help`` and listed in the README): 0 success; 1 warnings (check,
dns-check); 2 errors, refused input or a failed action; 3 the wizard stopped part-way (resumable), or apply's rollback
failed too; 130 interrupted.

A word that is neither a command nor a hub address (a dotted name, ``localhost`` or an IP, optionally with
``USER@`` and ``:PORT``) is refused with "unknown command — did you mean …", so a mistyped command never opens a
session for a host of that name.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from wizard import __version__
from wizard.context import engine_available

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("wizard.demo_cli", "run the whole wizard against a sandbox hub on this machine"),
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
WIZARD_MODULE = "wizard.wizard_cli"

# code -> meaning; --help prints these lines and the README's table must list the same codes (tests/test_cli.py).
EXIT_CODES: dict[int, str] = {
    0: "success; check and dns-check: everything ok",
    1: "check and dns-check: warnings only",
    2: "errors, refused input, a failed action, an unknown command",
    3: "the wizard stopped part-way (run it again to resume); apply: config.yaml is neither the old nor the new",
    130: "interrupted (Ctrl-C); the session can be resumed",
}

EPILOG = "commands:\n" + "\n".join(f"  {name:15} {text}" for name, (_, text) in COMMANDS.items()) + """

Run `tljh-wizard COMMAND --help` for a command's options.

exit codes:
""" + "\n".join(f"  {code:<5} {text}" for code, text in EXIT_CODES.items())


def _parser(prog: str, description: str, module: str | None) -> tuple[argparse.ArgumentParser, object | None]:
    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    loaded = None
    if module and engine_available(module):
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
    word = _first_word(argv)
    if word is not None and word > 0 and argv[word] in COMMANDS:
        argv.insert(0, argv.pop(word))  # `tljh-wizard --plain demo` is `tljh-wizard demo --plain`
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
    if name == "wizard" and word is not None:
        refusal = unknown_command(argv[word])
        if refusal:
            print(f"tljh-wizard: {refusal}", file=sys.stderr)
            return 2
    args = parser.parse_args(argv)
    if loaded is None:
        print(f"tljh-wizard {name}: not available yet in this version", file=sys.stderr)
        return 2
    return _run(loaded, args, name)


# Wizard options that take a value: the word after them is not the HOST argument.
_VALUED = {"--hub-api-url", "--metadata-base", "--known-hosts"}


def _first_word(argv: list[str]) -> int | None:
    """The index of the first positional word in ``argv`` (the command, or the wizard's HOST), or None."""
    index = 0
    while index < len(argv):
        item = argv[index]
        if item == "--":
            return index + 1 if index + 1 < len(argv) else None
        if not item.startswith("-") or item == "-":
            return index
        index += 2 if item in _VALUED else 1
    return None


def unknown_command(word: str) -> str | None:
    """Why ``word`` is neither a command nor a hub to set up, or None when it is a hub address.

    A hub is ``[USER@]HOST[:PORT]`` whose host is a dotted name, ``localhost`` or an IP address; a single word
    such as ``sesions`` is taken for a mistyped command, never for a host (with ``USER@`` or ``:PORT`` written out
    it is clearly an address, and accepted)."""
    import difflib
    import ipaddress

    from wizard.fields import ValidationError, hub_address

    close = difflib.get_close_matches(word, list(COMMANDS), n=1, cutoff=0.6)
    try:
        user, host, port = hub_address(word)
    except ValidationError as exc:
        if close:
            return f"unknown command {word[:80]!r} — did you mean {close[0]!r}? (see tljh-wizard --help)"
        return f"{exc.message}; or a command (see tljh-wizard --help)"
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    if "." in host or host == "localhost" or user is not None or port is not None:
        return None
    hint = f"did you mean {close[0]!r}?" if close else "commands: " + ", ".join(COMMANDS)
    return f"unknown command {word[:80]!r} — {hint} (a hub needs a dotted name, localhost or an IP)"


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
