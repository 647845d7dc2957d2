"""``tljh-wizard check HOST|SESSION [--json] [--warn-days N]``: audit a running hub, for cron and monitoring.

One line per finding (``--details`` adds the diffs, ``--quiet`` keeps only the problems, so cron mails only when
there is one), or one JSON document with ``--json``. Exit codes follow the
monitoring-plugin convention: 0 everything ok, 1 warnings, 2 errors (or the check could not run). Read-only: nothing
on the hub and nothing in the session changes.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Callable

    from wizard.audit.checks import AuditRun
    from wizard.audit.hubfacts import Sources
    from wizard.diagnosis import Diagnosis
    from wizard.hub.target import HubTarget
    from wizard.session import Session



def add_arguments(parser: argparse.ArgumentParser) -> None:
    from wizard.audit.checks import DEFAULT_BACKUP_DAYS, DEFAULT_WARN_DAYS

    parser.add_argument("hub", metavar="HOST|SESSION",
                        help="the hub as [USER@]HOST[:PORT], or a session name (see `tljh-wizard sessions`)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of lines")
    parser.add_argument("--details", action="store_true", help="print each problem's details (masked diffs)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="print only warnings and errors: silent when all is well (cron mails only problems)")
    parser.add_argument("--warn-days", type=_positive, default=DEFAULT_WARN_DAYS, metavar="N",
                        help=f"warn when the served certificate has fewer than N days left and the CA gave no "
                             f"renewal window (default {DEFAULT_WARN_DAYS})")
    parser.add_argument("--backup-days", type=_positive, default=DEFAULT_BACKUP_DAYS, metavar="N",
                        help=f"warn when the newest backup bundle is older than N days (default {DEFAULT_BACKUP_DAYS})")
    parser.add_argument("--resolver", action="append", metavar="HOST[:PORT]",
                        help="a public resolver to compare with the authoritative answers (repeatable; default: "
                             "the answers' domain.resolvers)")
    parser.add_argument("--nameserver-port", type=int, default=53, metavar="PORT",
                        help="the port the domain's authoritative nameservers answer on (default 53)")
    parser.add_argument("--tls-address", metavar="HOST:PORT",
                        help="where the hub serves HTTPS (default: the reserved IP, port 443)")
    parser.add_argument("--ca-file", metavar="PATH",
                        help="trust roots for the served certificate (default: the system's)")
    parser.add_argument("--http-address", metavar="HOST:PORT",
                        help="where the hub serves plain HTTP (default: the reserved IP, port 80)")
    parser.add_argument("--probe-sources", metavar="FILE",
                        help="a YAML file pointing hub-side probes elsewhere: ports, disks, since_hours, and files "
                             "read instead of commands (see README: check findings)")
    parser.add_argument("--bundle", metavar="FILE",
                        help="also write a support bundle (tar.gz, 0600): findings, host facts, config.yaml and recent "
                             "hub, proxy and spawn logs, every secret masked")
    parser.add_argument("--bundle-lines", type=int, default=200, metavar="N",
                        help="log lines per log in the bundle (default 200)")
    parser.add_argument("--smoke", action="store_true",
                        help="also run the smoke test: a temporary user's server starts and runs one cell in the "
                             "user environment's default kernel, then is removed (needs the credential an apply "
                             "installs)")
    parser.add_argument("--hub-api-url", metavar="URL", help=argparse.SUPPRESS)  # test rigs' hub
    from wizard.hub.connect import add_target_arguments

    add_target_arguments(parser, host=False)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of days, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("expected a positive number of days")
    return value


def _sources(args: argparse.Namespace) -> Sources:
    """The hub-side sources from --probe-sources (a YAML mapping, ``wizard.audit.hubfacts.Sources``) and --bundle."""
    from wizard.audit.hubfacts import Sources

    sources = Sources()
    if args.probe_sources:
        from wizard import yamlio

        sources = Sources.from_mapping(yamlio.load_file(args.probe_sources) or {}, "--probe-sources")
    if args.bundle:
        if args.bundle_lines < 0:
            raise ValueError("--bundle-lines: expected a number of lines, 0 or more")
        sources.log_lines = args.bundle_lines
    return sources


def find_session(hub: str) -> Session:
    """The saved session for ``hub``: a session name, ``[USER@]HOST[:PORT]``, or a host only one session has."""
    from wizard.fields import hub_address
    from wizard.session import Session, SessionError, list_sessions, session_name, sessions_dir

    if (sessions_dir() / hub).is_dir():
        return Session.open(hub, create=False, lock=False)
    try:
        user, host, port = hub_address(hub)
    except ValueError:
        raise SessionError(f"{hub!r} is neither a session name nor [USER@]HOST[:PORT]") from None
    if user:
        name = session_name(host, user, port or 22)
        candidates = [name] if (sessions_dir() / name).is_dir() else []
    else:
        candidates = [info.name for info in list_sessions()
                      if _session_host(info.name) == host and (port is None or info.name.endswith(f":{port}"))]
    if len(candidates) > 1:
        raise SessionError(f"several sessions match {hub!r}: {', '.join(candidates)}; name one of them")
    if not candidates:
        raise SessionError(f"no session for {hub!r}: set the hub up with `tljh-wizard {hub}` or `tljh-wizard apply` "
                           "first (see `tljh-wizard sessions`)")
    return Session.open(candidates[0], create=False, lock=False)


def _session_host(name: str) -> str:
    """The host part of a ``user@host:port`` session name (IPv6 unbracketed)."""
    return name.rpartition("@")[2].rpartition(":")[0].strip("[]")


def run(args: argparse.Namespace) -> int:
    from wizard.audit.checks import AuditOptions, AuditSubject, audit
    from wizard.diagnosis import exit_code, render_line, worst
    from wizard.session import SessionError

    try:
        session = find_session(args.hub)
    except SessionError as exc:
        print(f"tljh-wizard check: error: {exc}", file=sys.stderr)
        return 2
    try:
        subject = AuditSubject.from_session(session)
        smoke_token = session.read_secret("smoke-token") if args.smoke else None
    finally:
        session.close()
    try:
        sources = _sources(args)
    except ValueError as exc:
        print(f"tljh-wizard check: error: {exc}", file=sys.stderr)
        return 2
    options = AuditOptions(warn_days=args.warn_days, backup_days=args.backup_days, tls_address=args.tls_address,
                           http_address=args.http_address, ca_file=args.ca_file, resolvers=args.resolver,
                           nameserver_port=args.nameserver_port, sources=sources)
    from wizard.audit.checks import AuditRun
    from wizard.hub.connect import DEMO, demo_target, target_from_args

    demo = subject.name == DEMO and not (args.sandbox or args.local)
    if demo:  # the demo's sandbox on this machine: the answers' domain and IP were never the demo's to contact
        options.probes = DEMO_PROBES + tuple(probe.name for probe in options.extra_probes)

    def factory() -> HubTarget:
        target = demo_target() if demo else target_from_args(args, subject.answers)
        if args.hub_api_url:
            target.hub_api_url = args.hub_api_url
        return target

    if args.smoke:  # on the audit's own connection, beside the other probes, with config.yaml from the hub facts
        from wizard.audit.checks import Probe

        options.extra_probes = (Probe("smoke", lambda run: smoke_probe(run, smoke_token), needs=("hub", "hub.facts"),
                                      skip_ids=("smoke",)),)
    state = AuditRun(subject, options, factory)
    findings = audit(subject, options, target_factory=factory, run=state)
    if demo:
        findings = demo_skipped() + findings
    code = exit_code(findings)
    if args.bundle:
        from wizard.audit import bundle

        try:
            written = bundle.write(args.bundle, bundle.members(subject.name, findings, state.values.get("hub.facts"),
                                                               subject.secret_values()))
        except OSError as exc:
            print(f"tljh-wizard check: error: --bundle: cannot write {args.bundle}: {exc.strerror or exc}",
                  file=sys.stderr)
            return 2
        print(f"support bundle: {written} (0600, secrets masked)",
              file=sys.stderr if args.json or args.quiet else sys.stdout)
    if args.json:
        json.dump({"hub": subject.name, "status": worst(findings).value, "exit_code": code,
                   "findings": [finding.to_json() for finding in findings]}, sys.stdout, indent=1,
                  default=str)
        sys.stdout.write("\n")
        return code
    for finding in findings:
        if args.quiet and not finding.status.rank:
            continue
        print(render_line(finding))
        if args.details and finding.details and finding.status.rank:
            print("".join(f"         | {line}\n" for line in finding.details.splitlines()), end="")
    return code


# On the demo's sandbox: what describes the sandbox itself (its config.yaml, environment, who can log in, backups).
# DNS, TLS and the ports are the answers' real domain and IP, which the demo never reached; capacity, host hygiene
# and sshd would describe this machine, not a hub.
DEMO_PROBES = ("config", "environment", "access", "backup")


def demo_skipped() -> list[Diagnosis]:
    """One SKIPPED line for what ``check`` does not probe on the demo's sandbox hub."""
    from wizard.diagnosis import Diagnosis, Status

    return [Diagnosis("demo", Status.SKIPPED, "the demo's sandbox hub on this machine: DNS, certificate, TLS, ports, "
                      "capacity and host hygiene are not checked (the answers' domain and IP are never contacted)")]


def smoke_probe(run: AuditRun, token: bytes | None) -> list[Diagnosis]:
    """The ``smoke`` probe: ``smoke_findings`` over the audit's connection and the config.yaml its facts read."""
    from wizard.audit.checks import redacted
    from wizard.diagnosis import Diagnosis, Status
    from wizard.hub import smoke
    from wizard.hub.target import HubError

    if not token:
        return _no_smoke_credential()
    secret = token.decode().strip()
    try:
        diagnoses, _ = smoke.run(run.value("hub"), run.value("hub.facts").config_text or "", secret)
    except (HubError, ValueError) as exc:
        diagnoses = [Diagnosis("smoke", Status.ERROR, f"the smoke test could not run: {exc}")]
    return [redacted(d, [secret]) for d in diagnoses]


def _no_smoke_credential() -> list[Diagnosis]:
    from wizard.diagnosis import Diagnosis, Status
    from wizard.hub import smoke

    return [Diagnosis("smoke", Status.ERROR, "no smoke-test credential in this session",
                      fix="apply the answers (without --no-smoke): the plan installs a credential scoped to the user "
                          f"{smoke.USER}")]


def smoke_findings(target_factory: Callable[[], HubTarget], token: bytes | None,
                   secrets: list[str]) -> list[Diagnosis]:
    """``check --smoke``: the smoke test (``wizard.hub.smoke``) on the hub's running config, as diagnoses."""
    from wizard.audit.checks import redacted
    from wizard.diagnosis import Diagnosis, Status
    from wizard.hub import apply, smoke
    from wizard.hub.target import HubError

    if not token:
        return _no_smoke_credential()
    try:
        with target_factory() as target:
            diagnoses, _ = smoke.run(target, apply.read_config(target), token.decode().strip())
    except (HubError, ValueError) as exc:
        diagnoses = [Diagnosis("smoke", Status.ERROR, f"the smoke test could not run: {exc}")]
    return [redacted(d, [*secrets, token.decode().strip()]) for d in diagnoses]
