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
                        help="apply config.yaml even when the answers ask for remote work this command does not "
                             "replay yet (named in its refusal): that work is left undone")
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
    if args.sshd_config:
        from wizard.sshaccess.engine import SshdPaths

        target.sshd_paths = SshdPaths.beside(args.sshd_config)
    try:
        with target:
            old_text = apply.read_config(target, require_tljh=True)
            existing = _existing_session(target.name)
            try:
                smoke = not args.no_smoke
                current = apply.plan(answers, old_text, tljh_version=args.tljh_version, session=existing,
                                     keep_backups=args.keep_backups, smoke=smoke,
                                     smoke_credential=smoke and not _smoke_ready(target, existing))
            finally:
                if existing is not None:
                    existing.close()
            if not args.sandbox:  # the demo sandbox has no sshd and no accounts
                from wizard.sshaccess import engine as ssh_engine

                current.ssh = ssh_engine.plan(answers, target)
                if current.ssh is not None and current.ssh.refusals:
                    return _fail("SSH access cannot be applied as answered:\n"
                                 + "\n".join(f"  ssh: {reason}" for reason in current.ssh.refusals))
            print(f"Hub: {target.name} (TLJH prefix {target.prefix})")
            print(current.render())
            for key, what in gaps:
                print(f"Not replayed by apply{' (--config-only)' if args.config_only else ''}: {key}: {what}")
            ssh_actions = current.ssh.actions if current.ssh is not None else []
            blocked = False
            if (args.dry_run or current.actions or ssh_actions) and not args.no_preflight:
                blocked = _preflight(target, answers, current.new_text)
            if blocked and not args.dry_run:
                return _fail("not applied: the who-can-log-in preflight found errors (see above); fix the answers, "
                             "or pass --no-preflight to apply anyway")
            if args.dry_run or not (current.actions or ssh_actions):
                return EXIT_ERROR if blocked else EXIT_OK
            if not args.yes and not _confirm():
                return _fail("not applied: confirm on a terminal, or pass --yes")
            with Session.open(target.name, host=target.name) as session:
                session.redact_also.update(secrets)
                applier = apply.Applier(target, session, reload_timeout=args.reload_timeout,
                                        on_progress=lambda action, phase, detail: _progress(action, phase, detail, mask=mask))
                result = applier.execute(current)
                masked = applier.mask
                if result.ok:
                    _record_session(session, answers, gaps)
                ssh_outcomes = []
                if result.ok and ssh_actions:
                    from wizard.sshaccess import engine as ssh_engine

                    ssh_outcomes = ssh_engine.execute(current.ssh, target, session,
                                                      lambda action, phase, detail: _progress(action, phase, detail, mask=mask))
    except ConnectError as exc:
        return _fail(str(exc))
    except (HubError, SessionError) as exc:
        return _fail(mask(str(exc)))
    print(masked(mask(result.summary())))
    if result.ok:
        from wizard.diagnosis import Status, render_line

        for outcome in ssh_outcomes:
            print(masked(mask(render_line(outcome))))
        return EXIT_ERROR if any(o.status is Status.ERROR for o in ssh_outcomes) else EXIT_OK
    return result.exit_code


def replay_gaps(answers) -> list[tuple[str, str]]:
    """Remote work the wizard does for these answers that this command does not replay: (key, what), in step order.
    Skipped sections ask for nothing; only values the answers file sets count."""
    def given(section: str) -> dict:  # values the file sets (a default alone asks for nothing here)
        return {} if section in answers.skipped else dict(answers.data.get(section) or {})

    https, environment, backups = given("https"), given("environment"), given("backups")
    gaps = []
    if https.get("mode") == "existing":
        gaps.append(("https.mode", "existing: uploading the certificate and key files to the hub"))
    elif https.get("mode") == "acme-dns":
        gaps.append(("https.mode", "acme-dns: issuing the certificate (DNS-01) and installing it on the hub"))
    for key in ("conda_packages", "pip_packages"):
        if environment.get(key):
            gaps.append((f"environment.{key}", "installing " + ", ".join(map(str, environment[key]))[:80]))
    if environment.get("freeze"):
        gaps.append(("environment.freeze", "the snapshot of the user environment"))
    if backups.get("pull_bundle"):
        gaps.append(("backups.pull_bundle", "pulling the backup bundle before the change"))
    return gaps


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


def _smoke_ready(target, session) -> bool:
    """The smoke test's credential is on the hub and its token in the session's store (else the plan installs it)."""
    from wizard.hub import smoke

    return session is not None and bool(session.read_secret(smoke.SECRET_NAME)) and smoke.installed(target)


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
