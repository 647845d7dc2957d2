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
    https = parser.add_argument_group("HTTPS (the certificate work of modes letsencrypt, acme-dns and existing)")
    https.add_argument("--verify-address", metavar="HOST:PORT",
                       help="where to check the certificate the hub serves (default: DOMAIN:443)")
    https.add_argument("--trust-roots", metavar="PEM",
                       help="roots the served certificate must chain to (default: the system's roots)")
    https.add_argument("--ca-bundle", metavar="PEM", help="CA bundle verifying the ACME server's HTTPS (mode "
                       "acme-dns with a private or test CA; default: the system's roots)")
    https.add_argument("--nameserver-port", type=int, default=53, metavar="PORT",
                       help="port of the domain's authoritative nameservers, for the DNS check that gates every "
                            "certificate order and for DNS-01 propagation (default 53)")
    https.add_argument("--certificate-timeout", type=float, default=300.0, metavar="SECONDS",
                       help="how long each stage waits for the hub to serve the expected certificate (default 300)")
    https.add_argument("--staging-marker", default=None, help=argparse.SUPPRESS)  # a test CA's staging issuer name
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
    try:
        https_extra = _https_extra(args, answers)
    except ValueError as exc:
        return _fail(str(exc))
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
            https_extra.update(target=target, session=existing)  # for the DNS check's CAA accounts
            sshd_paths = None
            if args.sshd_config:
                from wizard.sshaccess.engine import SshdPaths

                sshd_paths = SshdPaths.beside(args.sshd_config)
            try:
                smoke = not args.no_smoke
                current = apply.build_plan(answers, target, existing, tljh_version=args.tljh_version,
                                           keep_backups=args.keep_backups, smoke=smoke,
                                           options=PlanOptions(sandbox=bool(args.sandbox), sshd_paths=sshd_paths,
                                                               local_dir=_local_dir(target.name, existing),
                                                               extra=https_extra))
            finally:
                if existing is not None:
                    existing.close()
            if current.refusals:
                return _fail("cannot be applied as answered:\n"
                             + "\n".join(f"  {reason}" for reason in current.refusals))
            print(f"Hub: {target.name} (TLJH prefix {target.prefix})")
            print(current.render())
            steps = current.steps()
            blocked = False
            if (args.dry_run or steps) and not args.no_preflight:
                blocked = _preflight(target, answers, current.new_text)
            if blocked and not args.dry_run:
                return _fail("not applied: the who-can-log-in preflight found errors (see above); fix the answers, "
                             "or pass --no-preflight to apply anyway")
            if args.dry_run or not steps:
                if not steps and not args.dry_run:
                    _save_replay(target.name, answers, secrets)
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
                    _record_session(session, answers)
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


def _save_replay(name: str, answers, secrets) -> None:
    """A replay with nothing to do still records its session (answers, host, finished steps)."""
    from wizard.session import Session

    with Session.open(name, host=name) as session:
        session.redact_also.update(secrets)
        _record_session(session, answers)


def _https_extra(args: argparse.Namespace, answers) -> dict:
    """What the HTTPS sub-plan (``wizard.https.work``) takes from the command line: where the served certificate is
    checked, what it must chain to, the ACME server's CA bundle, the waits, and the DNS check of the gate (run only
    when a certificate would be ordered: ``wizard.https.plan.dns_check``). ``ValueError``: a bad option, one line."""
    from pathlib import Path

    from wizard.https.plan import HttpsEnvironment

    for option, path in (("--ca-bundle", args.ca_bundle), ("--trust-roots", args.trust_roots)):
        if path and not Path(path).expanduser().is_file():
            raise ValueError(f"{option} {path}: no such file")
    verify = None
    if args.verify_address:
        from wizard.fields import host_port
        from wizard.https.dnsupdate import split_host_port

        verify = split_host_port(host_port(443)(args.verify_address), 443)
    timeout = max(0.0, float(args.certificate_timeout))
    letsencrypt = {"trust_roots": args.trust_roots, "verify_address": verify, "staging_timeout": timeout,
                   "production_timeout": timeout, "reload_timeout": args.reload_timeout}
    if args.staging_marker:
        letsencrypt["staging_marker"] = args.staging_marker
    env = HttpsEnvironment(letsencrypt=letsencrypt,
                           acme={"ca_bundle": args.ca_bundle, "trust_roots": args.trust_roots,
                                 "nameserver_port": args.nameserver_port, "verify_address": verify,
                                 "verify_timeout": timeout})
    extra: dict = {"https_env": env, "tljh_version": args.tljh_version}

    def dns_diagnoses():
        from wizard.https.plan import dns_check

        print("Checking DNS (certificate orders are gated on it) ...", flush=True)
        return dns_check(answers, target=extra.get("target"), session=extra.get("session"),
                         nameserver_port=args.nameserver_port)

    extra["dns_diagnoses"] = dns_diagnoses
    return extra


def _record_session(session, answers) -> None:
    """After a replay: the session holds its answers, host and finished steps, so `check SESSION`, `export SESSION`
    and `sessions` work on it."""
    from wizard.steps import STEPS

    session.answers = answers
    finished = [step.id for step in STEPS if step.id != "done"]
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
