"""``tljh-wizard apply ANSWERS [--secrets FILE] [--dry-run] [--yes]``: apply an answers file without prompts.

The hub is the answers' ``connection`` section (over SSH), or this machine (``--local``), or the demo sandbox
(``--sandbox DIR``). ``--dry-run`` prints the plan (masked diff and actions) and changes nothing.

Exit codes: 0 applied (or nothing to do, or a dry run); 2 refused input (a missing or invalid answer, named by its
key; an unknown host key; no --yes without a terminal), a connection error, or an apply that failed and was rolled
back to the previous config.yaml; 3 an apply that failed AND could not restore the previous file (see the message).
"""

from __future__ import annotations

import argparse
import sys

EXIT_OK, EXIT_ERROR, EXIT_RESTORE_FAILED = 0, 2, 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from wizard.hub.connect import add_target_arguments

    parser.epilog = ("exit codes: 0 applied / nothing to do / dry run; 2 refused input, connection error, or a "
                     "failed apply that was rolled back; 3 a failed apply whose rollback failed too")
    parser.add_argument("answers", metavar="ANSWERS", help="answers.yaml (version 1)")
    parser.add_argument("--secrets", metavar="FILE", help="secrets.yaml with the secret answers")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and diff; change nothing")
    parser.add_argument("--yes", action="store_true", help="apply without asking for confirmation")
    parser.add_argument("--no-preflight", action="store_true",
                        help="skip the who-can-log-in preflight (the authenticator constructed with the new config "
                             "by the hub's own Python); its errors otherwise block the apply")
    parser.add_argument("--tljh-version", choices=("2.0.0", "main"), default="2.0.0",
                        help="the TLJH schema to validate against (default 2.0.0)")
    parser.add_argument("--reload-timeout", type=float, default=180.0, metavar="SECONDS",
                        help="stop a tljh-config reload that takes longer (default 180)")
    parser.add_argument("--hub-api-url", metavar="URL", help=argparse.SUPPRESS)  # test rigs' /hub/api stand-in
    add_target_arguments(parser, host=False)


def _fail(message: str, code: int = EXIT_ERROR) -> int:
    print(f"tljh-wizard apply: {message}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    from wizard.answers import Answers, AnswersError
    from wizard.hub import apply
    from wizard.hub.connect import target_from_args
    from wizard.hub.target import ConnectError, HubError
    from wizard.session import Session, SessionError

    try:
        answers = Answers.load(args.answers, args.secrets)
    except AnswersError as exc:
        return _fail("the answers cannot be used:\n" + "\n".join(f"  {e}" for e in exc.errors))
    secrets = sorted((v for v in answers.secret_values() if isinstance(v, str) and v), key=len, reverse=True)

    def mask(text: str) -> str:
        """The hub's output can quote config values back: the answers' secrets never reach the terminal."""
        for secret in secrets:
            text = text.replace(secret, "********")
        return text

    elsewhere = bool(args.local or args.sandbox)
    problems = [p for p in answers.problems() if not (elsewhere and p.key.startswith("connection."))]
    if problems:
        return _fail("missing or invalid answers:\n" + "\n".join(f"  {p}" for p in problems))
    if args.sandbox and args.dry_run:
        from pathlib import Path

        if not (Path(args.sandbox).expanduser() / "config" / "config.yaml").exists():
            return _fail(f"no sandbox hub in {args.sandbox} (a dry run creates nothing)")
    try:
        target = target_from_args(args, answers)
    except (ValueError, HubError) as exc:
        return _fail(str(exc))
    if args.hub_api_url:
        target.hub_api_url = args.hub_api_url
    try:
        with target:
            old_text = apply.read_config(target)
            existing = _existing_session(target.name)
            try:
                current = apply.plan(answers, old_text, tljh_version=args.tljh_version, session=existing)
            finally:
                if existing is not None:
                    existing.close()
            print(f"Hub: {target.name} (TLJH prefix {target.prefix})")
            print(current.render())
            blocked = False
            if (args.dry_run or current.actions) and not args.no_preflight:
                blocked = _preflight(target, answers, current.new_text)
            if blocked and not args.dry_run:
                return _fail("not applied: the who-can-log-in preflight found errors (see above); fix the answers, "
                             "or pass --no-preflight to apply anyway")
            if args.dry_run or not current.actions:
                return EXIT_ERROR if blocked else EXIT_OK
            if not args.yes and not _confirm():
                return _fail("not applied: confirm on a terminal, or pass --yes")
            with Session.open(target.name, host=target.name) as session:
                session.redact_also.update(secrets)
                applier = apply.Applier(target, session, reload_timeout=args.reload_timeout,
                                        on_progress=lambda *report: _progress(*report, mask=mask))
                result = applier.execute(current)
    except ConnectError as exc:
        return _fail(str(exc))
    except (HubError, SessionError) as exc:
        return _fail(mask(str(exc)))
    print(mask(result.summary()))
    if result.ok:
        return EXIT_OK
    return EXIT_ERROR if result.rolled_back and not result.rollback_errors else EXIT_RESTORE_FAILED


def _preflight(target, answers, new_text: str) -> bool:
    """Print who can log in with the new config (the hub's own authenticator code) and the preflight's findings;
    True when an ERROR must block the apply. Read-only."""
    import json

    from wizard import access, yamlio
    from wizard.diagnosis import Status, render_line

    config = yamlio.loads(new_text, "config.yaml") if new_text.strip() else {}
    config = json.loads(json.dumps(config if isinstance(config, dict) else {}, default=str))
    preview = access.preview(config, target=target)
    print(preview.table())
    findings = preview.diagnoses(allow_all_confirmed=access.allow_all_confirmed(answers))
    for finding in findings:
        if finding.id != access.PREVIEW or finding.status is not Status.OK:
            print(render_line(finding))
    return any(finding.status is Status.ERROR for finding in findings)


def _existing_session(name: str):
    """The hub's session, read-only, when one exists (to notice an unfinished apply); a dry run creates none."""
    from wizard.session import Session, SessionError

    try:
        return Session.open(name, create=False, lock=False)
    except SessionError:
        return None


def _confirm() -> bool:
    if not sys.stdin.isatty():
        return False
    try:
        return input("Apply these changes? Type yes to apply: ").strip().lower() == "yes"
    except EOFError:
        return False


def _progress(action: str, phase: str, detail: str, mask=str) -> None:
    detail = mask(detail)
    if phase == "start":
        print(f"- {detail} ...", flush=True)
    elif phase == "failed":
        print(f"  FAILED: {detail}", flush=True)
    elif phase == "done" and detail:
        print(f"  {detail}", flush=True)
