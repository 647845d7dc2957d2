"""``tljh-wizard apply ANSWERS [--secrets FILE] [--dry-run] [--yes]``: apply an answers file without prompts.

The hub is the answers' ``connection`` section (over SSH), or this machine (``--local``), or the demo sandbox
(``--sandbox DIR``). ``--dry-run`` prints the plan (masked diff and actions) and changes nothing.

Exit codes: 0 applied (or nothing to do, or a dry run); 2 refused input (a missing or invalid answer, named by its
key; an unknown host key; no --yes without a terminal), a connection error, or a failed apply after which the hub
holds the old or the new config.yaml (the message says which, or that the link is down and a re-run will tell);
3 only when the hub is known to hold neither the old nor the new config.yaml after a failed apply.
"""

from __future__ import annotations

import argparse
import sys

EXIT_OK, EXIT_ERROR, EXIT_RESTORE_FAILED = 0, 2, 3  # 3: ApplyResult.restore_failed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from wizard.hub.connect import add_target_arguments

    parser.epilog = ("exit codes: 0 applied / nothing to do / dry run; 2 refused input, connection error, or a "
                     "failed apply (the hub holds the old or the new config.yaml: the message says which); 3 a "
                     "failed apply after which config.yaml on the hub is neither the old nor the new file")
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
    parser.add_argument("--keep-backups", type=int, default=5, metavar="N",
                        help="config.yaml backups of the wizard kept on the hub; older ones are removed (default 5)")
    parser.add_argument("--no-smoke", action="store_true",
                        help="skip the smoke test at the end (a temporary user's server starting and running one "
                             "cell) and the install of its credential")
    parser.add_argument("--config-only", action="store_true",
                        help="apply even when the answers ask for HTTPS work this command does not replay yet "
                             "(named in its refusal): that work is left undone")
    parser.add_argument("--hub-api-url", metavar="URL", help=argparse.SUPPRESS)  # test rigs' /hub/api stand-in
    parser.add_argument("--sshd-config", metavar="PATH", help=argparse.SUPPRESS)  # a test rig's own sshd_config
    add_target_arguments(parser, host=False)


def _fail(message: str, code: int = EXIT_ERROR) -> int:
    print(f"tljh-wizard apply: {message}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:  # noqa: C901 (to split: plan, preflight, apply, report)
    from wizard.answers import Answers, AnswersError
    from wizard.hub import apply
    from wizard.hub.connect import target_from_args
    from wizard.hub.target import ConnectError, HubError
    from wizard.session import Session, SessionError

    try:
        answers = Answers.load(args.answers, args.secrets)
    except AnswersError as exc:
        if len(exc.errors) == 1:
            return _fail(f"the answers cannot be used: {exc.errors[0]}")
        return _fail("the answers cannot be used:\n" + "\n".join(f"  {e}" for e in exc.errors))
    secrets = sorted((v for v in answers.secret_values() if isinstance(v, str) and v), key=len, reverse=True)
    for note in getattr(answers, "notes", []):
        print(f"note: {note}", file=sys.stderr)

    def mask(text: str) -> str:
        """The hub's output can quote config values back: the answers' secrets never reach the terminal."""
        for secret in secrets:
            text = text.replace(secret, "********")
        return text

    elsewhere = bool(args.local or args.sandbox)
    problems = [p for p in answers.problems() if not (elsewhere and p.key.startswith("connection."))]
    if problems:
        return _fail("missing or invalid answers:\n" + "\n".join(f"  {p}" for p in problems))
    gaps = replay_gaps(answers)
    if gaps and not args.dry_run and not args.config_only:
        return _fail("not applied: these answers ask for remote work that `apply` does not replay yet (the wizard "
                     "does it; run `tljh-wizard HOST`, skip the step, or pass --config-only to apply config.yaml "
                     "alone):\n" + "\n".join(f"  {key}: {what}" for key, what in gaps))
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
            from wizard.hub.work import PlanOptions

            existing = _existing_session(target.name)
            sshd_paths = None
            if args.sshd_config:
                from wizard.sshaccess.engine import SshdPaths

                sshd_paths = SshdPaths.beside(args.sshd_config)
            try:
                smoke = not args.no_smoke
                current = apply.build_plan(answers, target, existing, tljh_version=args.tljh_version,
                                           keep_backups=args.keep_backups, smoke=smoke,
                                           options=PlanOptions(sandbox=bool(args.sandbox), sshd_paths=sshd_paths,
                                                               local_dir=_local_dir(target.name, existing)))
            finally:
                if existing is not None:
                    existing.close()
            if current.refusals:
                return _fail("cannot be applied as answered:\n"
                             + "\n".join(f"  {reason}" for reason in current.refusals))
            print(f"Hub: {target.name} (TLJH prefix {target.prefix})")
            print(current.render())
            for key, what in gaps:
                print(f"Not replayed by apply{' (--config-only)' if args.config_only else ''}: {key}: {what}")
            steps = current.steps()
            blocked = False
            if (args.dry_run or steps) and not args.no_preflight:
                blocked = _preflight(target, answers, current.new_text)
            if blocked and not args.dry_run:
                return _fail("not applied: the who-can-log-in preflight found errors (see above); fix the answers, "
                             "or pass --no-preflight to apply anyway")
            if args.dry_run or not steps:
                if not steps and not args.dry_run:
                    _save_replay(target.name, answers, gaps, secrets)
                return EXIT_ERROR if blocked else EXIT_OK
            if not args.yes and not _confirm():
                return _fail("not applied: confirm on a terminal, or pass --yes")
            with Session.open(target.name, host=target.name) as session:
                session.redact_also.update(secrets)
                applier = apply.Applier(target, session, reload_timeout=args.reload_timeout,
                                        on_progress=lambda *report: _progress(*report, mask=mask))
                result = applier.execute(current)
                masked = applier.mask
                if result.ok:
                    _record_session(session, answers, gaps)
    except ConnectError as exc:
        return _fail(str(exc))
    except AnswersError as exc:
        return _fail("the answers cannot be applied:\n" + "\n".join(f"  {e}" for e in exc.errors))
    except (HubError, SessionError) as exc:
        return _fail(mask(str(exc)))
    print(masked(mask(result.summary())))
    from wizard.diagnosis import render_line

    for finding in applier.diagnoses:
        if finding.id.startswith("apply."):
            print(masked(mask(render_line(finding))))
    return result.exit_code


def _local_dir(name: str, existing):
    """This machine's folder for the hub's session files (snapshots, bundles), whether or not the session exists
    yet (a dry run creates nothing)."""
    from pathlib import Path

    if existing is not None:
        return Path(existing.dir)
    from wizard.session import check_name, sessions_dir

    return sessions_dir() / check_name(name)


def _save_replay(name: str, answers, gaps, secrets) -> None:
    """A replay with nothing to do still records its session (answers, host, finished steps)."""
    from wizard.session import Session

    with Session.open(name, host=name) as session:
        session.redact_also.update(secrets)
        _record_session(session, answers, gaps)


def replay_gaps(answers) -> list[tuple[str, str]]:
    """Remote work the wizard does for these answers that this command cannot replay: (key, what), in step order.
    Everything with a sub-plan in ``wizard.hub.work.BUILDERS`` is replayed; HTTPS work is listed here until its
    sub-plan is registered there. Skipped sections ask for nothing."""
    from wizard.hub.work import BUILDERS

    if "https" in answers.skipped or any(spec.startswith("wizard.https.") for spec in BUILDERS):
        return []
    mode = (answers.data.get("https") or {}).get("mode")
    if mode == "existing":
        return [("https.mode", "existing: uploading the certificate and key files to the hub")]
    if mode == "acme-dns":
        return [("https.mode", "acme-dns: issuing the certificate (DNS-01) and installing it on the hub")]
    return []


def _record_session(session, answers, gaps) -> None:
    """After a replay: the session holds its answers, host and finished steps, so `check SESSION`, `export SESSION`
    and `sessions` work on it. A step with work left undone (``gaps``) is not marked finished."""
    from wizard.steps import STEPS

    session.answers = answers
    undone = {key.split(".", 1)[0] for key, _what in gaps}
    finished = [step.id for step in STEPS
                if step.id != "done" and not (set(step.sections) & undone)]
    session.state["finished_steps"] = finished
    session.state["current_step"] = "done"
    session.save()


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
    elif phase == "output" and detail:
        print(f"    {detail}", flush=True)
