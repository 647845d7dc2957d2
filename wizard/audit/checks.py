"""The audit: every finding about a running hub as a ``Diagnosis``, reusing the engines that set the hub up.

- DNS: ``wizard.dns.check`` (authoritative and public answers against the reserved IP), its diagnoses as they are.
- Certificate: ``wizard.https.verify`` (one handshake with the reserved IP, SNI = the domain; chain, names, staging),
  then the renewal window: the CA's ARI time when the wizard issued it, else ``warn_days`` left.
- Hub (one SSH connection, three read-only round trips): config.yaml against the one the last apply wrote (drift,
  with the diff masked), the user environment against the last freeze (``wizard.environment``), and from the live
  config.yaml: a real authenticator with an allow policy, limits set, culling on.
- Backups: the newest backup bundle on this machine is younger than ``backup_days``.

The audit never writes: files are read with ``cat``/``tar`` through ``HubTarget.run``, the session is opened without
its lock and never saved.
"""

from __future__ import annotations

import datetime as _dt
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from wizard.diagnosis import Diagnosis, Status
from wizard.mappings import section as mapping_section

if TYPE_CHECKING:
    from cryptography import x509

    from wizard.answers import Answers
    from wizard.audit.hubfacts import HubFacts, Sources
    from wizard.environment.snapshot import Snapshot
    from wizard.https.verify import Served
    from wizard.hub.target import HubTarget
    from wizard.session import Session


DEFAULT_WARN_DAYS = 21
CRITICAL_DAYS = 7  # fewer days left than this is an error: renewal has failed for weeks
DEFAULT_BACKUP_DAYS = 7


@dataclass
class AuditOptions:
    warn_days: float = DEFAULT_WARN_DAYS
    backup_days: float = DEFAULT_BACKUP_DAYS
    tls_address: str | None = None  # HOST:PORT serving the hub's HTTPS; default RESERVED_IPV4:443
    http_address: str | None = None  # HOST:PORT serving the hub's plain HTTP; default RESERVED_IPV4:80
    ca_file: str | None = None  # trust roots for the served chain (a private CA); default the system's
    resolvers: list[str] | None = None  # default: the answers' domain.resolvers
    nameserver_port: int = 53
    dns_timeout: float = 2.0
    tls_timeout: float = 5.0
    sources: Any = None  # wizard.audit.hubfacts.Sources: where the hub-side facts come from (default: the hub's own)
    probes: tuple[str, ...] | None = None  # run only these probes (and what they need); default all
    extra_probes: tuple[Probe, ...] = ()  # Probes added for this run only, after PROBES (e.g. check --smoke)
    now: _dt.datetime | None = None

    def moment(self) -> _dt.datetime:
        return self.now or _dt.datetime.now(_dt.timezone.utc)

    def hub_sources(self) -> Sources:
        from wizard.audit.hubfacts import Sources

        return self.sources or Sources()


@dataclass
class AuditSubject:
    """What the audit knows about a hub: its answers, the session's records, where local copies are kept."""

    name: str
    answers: Any  # wizard.answers.Answers
    records: Mapping[str, Any] = field(default_factory=dict)
    local_dir: Path | None = None  # the session's directory

    @classmethod
    def from_session(cls, session: Session) -> "AuditSubject":
        return cls(session.name, session.answers, dict(session.state.get("records") or {}), session.dir)

    def stored(self, name: str) -> bytes | None:
        """A file of the session's secret store (read only: ``Session.read_secret`` would create the folder)."""
        try:
            return (self.local_dir / "store" / name).read_bytes() if self.local_dir else None
        except FileNotFoundError:
            return None

    def secret_values(self) -> list[str]:
        return [value for value in self.answers.secret_values() if isinstance(value, str) and value]


TargetFactory = Callable[[], "HubTarget"]


def ssh_target(answers: Answers) -> Any:
    """The hub over SSH from the answers (``wizard.hub.connect``); never asks about an unknown host key."""
    from wizard.hub.connect import ssh_target as connect

    return connect(answers.section("connection"), interactive=False)


@dataclass(frozen=True)
class Probe:
    """One step of the audit. ``run(audit_run)`` returns its findings (a ``Diagnosis`` or a list of them) or, for a
    probe other probes need (``findings=False``), a value they read with ``AuditRun.value(name)``. ``needs``: the
    probes that must have finished first; when one of them failed, this probe is not run and each id of
    ``skip_ids`` is reported SKIPPED instead. A probe raises ``ProbeFailed(diagnosis)`` to report why it could not
    run (its dependents are skipped). Probes run concurrently: the SSH ones share the session's one connection."""

    name: str
    run: Callable[["AuditRun"], Any]
    needs: tuple[str, ...] = ()
    skip_ids: tuple[str, ...] = ()
    findings: bool = True


class ProbeFailed(Exception):
    def __init__(self, diagnosis: Diagnosis):
        super().__init__(diagnosis.summary)
        self.diagnosis = diagnosis


class AuditRun:
    """What the probes of one audit share: the subject, the options, the hub connection (opened once, by the
    ``hub`` probe) and the values of finished probes; ``timings`` (seconds per probe) for the benchmark."""

    def __init__(self, subject: AuditSubject, options: AuditOptions, target_factory: TargetFactory):
        self.subject, self.options, self.target_factory = subject, options, target_factory
        self.values: dict[str, Any] = {}
        self.timings: dict[str, float] = {}
        self.target: HubTarget | None = None

    def value(self, name: str) -> Any:
        return self.values[name]


#: The audit, in report order. Other modules add theirs with ``register``.
PROBES: list[Probe] = []


def register(probe: Probe, *, before: str | None = None) -> Probe:
    """Add ``probe`` to the audit (at the end, or before the probe named ``before``); a probe of the same name is
    replaced in place."""
    names = [item.name for item in PROBES]
    if probe.name in names:
        PROBES[names.index(probe.name)] = probe
    elif before is not None and before in names:
        PROBES.insert(names.index(before), probe)
    else:
        PROBES.append(probe)
    return probe


def _selected(probes: list[Probe], only: tuple[str, ...] | None) -> list[Probe]:
    if only is None:
        return list(probes)
    by_name = {probe.name: probe for probe in probes}
    unknown = [name for name in only if name not in by_name]
    if unknown:
        raise ValueError(f"no probe named {unknown[0]!r} (known: {', '.join(by_name)})")
    wanted: set[str] = set()
    stack = list(only)
    while stack:
        name = stack.pop()
        if name not in wanted:
            wanted.add(name)
            stack.extend(by_name[name].needs)
    return [probe for probe in probes if probe.name in wanted]


def audit(subject: AuditSubject, options: AuditOptions | None = None,
          target_factory: TargetFactory | None = None, *, run: AuditRun | None = None) -> list[Diagnosis]:
    """Every finding, in the order of ``PROBES``: DNS, certificate and TLS posture, the hub (connection, facts in one
    round trip, config, environment, ports, capacity, hygiene), backups. Every probe runs as soon as what it needs
    is there, all of them concurrently. Secret answers are masked in every text."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    options = options or AuditOptions()
    factory = target_factory or (lambda: ssh_target(subject.answers))
    state = run or AuditRun(subject, options, factory)
    probes = _selected([*PROBES, *options.extra_probes], options.probes)
    outcomes: dict[str, tuple[bool, list[Diagnosis]]] = {}

    def execute(probe: Probe, futures: dict[str, Any]) -> tuple[bool, list[Diagnosis]]:
        for need in probe.needs:
            if need in futures and not futures[need].result()[0]:
                reason = next((d.id for d in futures[need].result()[1] if d.status is Status.ERROR), need)
                return False, [Diagnosis(check, Status.SKIPPED, f"not checked: {reason} failed")
                               for check in probe.skip_ids]
        started = time.monotonic()
        try:
            result = probe.run(state)
        except ProbeFailed as exc:
            return False, [exc.diagnosis]
        finally:
            state.timings[probe.name] = time.monotonic() - started
        if not probe.findings:
            state.values[probe.name] = result
            return True, []
        state.values[probe.name] = result
        return True, [result] if isinstance(result, Diagnosis) else list(result or [])

    try:
        with ThreadPoolExecutor(max_workers=max(1, len(probes)), thread_name_prefix="audit") as pool:
            futures: dict[str, Any] = {}
            for probe in probes:  # a probe waits only on earlier ones, and every probe has its own worker
                futures[probe.name] = pool.submit(execute, probe, futures)
            for probe in probes:
                outcomes[probe.name] = futures[probe.name].result()
    finally:
        if state.target is not None:
            state.target.close()
    findings = [finding for probe in probes for finding in outcomes[probe.name][1]]
    return [redacted(item, subject.secret_values()) for item in findings]


def redacted(diagnosis: Diagnosis, secrets: list[str]) -> Diagnosis:
    """``diagnosis`` with every secret answer masked in each of its texts (the engines' own masking is by key)."""
    from wizard.masking import Masker

    mask = Masker(secrets)
    diagnosis.summary, diagnosis.details, diagnosis.fix = map(mask.data, (diagnosis.summary, diagnosis.details,
                                                                          diagnosis.fix))
    diagnosis.data = mask.data(diagnosis.data)
    return diagnosis


# ---------------------------------------------------------------------------------------------------------------
# DNS

def dns_findings(subject: AuditSubject, options: AuditOptions) -> list[Diagnosis]:
    from wizard.answers import LE_PRODUCTION
    from wizard.dns.caa import session_account
    from wizard.dns.check import check_domain

    answers = subject.answers
    domain, address = answers.get("domain.name"), answers.get("domain.reserved_ipv4")
    if not domain or not address:
        return [Diagnosis("dns", Status.SKIPPED, "no domain and reserved IP in the answers: DNS not checked")]
    resolvers = options.resolvers or answers.get("domain.resolvers")
    try:
        # CAA is judged for the chosen HTTPS mode, and the wizard's own ACME account when the session holds one.
        account = session_account(subject.stored, answers.get("https.production_directory") or LE_PRODUCTION)
        return check_domain(domain, address, answers.get("domain.reserved_ipv6"), resolvers=resolvers,
                            timeout=options.dns_timeout, nameserver_port=options.nameserver_port,
                            accounts={"acme-dns": account}, https_mode=answers.get("https.mode"))
    except ValueError as exc:  # a resolver that is not an IP address (wizard.fields.ValidationError)
        return [Diagnosis("dns", Status.ERROR, f"DNS not checked: {exc}", fix="give resolvers as IP[:PORT]")]


# ---------------------------------------------------------------------------------------------------------------
# certificate

CERTIFICATE = "audit.certificate"


def certificate_finding(subject: AuditSubject, options: AuditOptions) -> Diagnosis:
    from wizard.fields import ValidationError, host_port
    from wizard.https.verify import Unreachable, fetch_served, judge
    from wizard.tljh.config import certificate_domains

    answers = subject.answers
    mode = answers.get("https.mode")
    if mode == "none" and answers.get("https.web_ports") != "behind":  # behind: the server in front serves HTTPS
        return Diagnosis(CERTIFICATE, Status.WARNING, "HTTPS is off: logins and notebooks travel in plain text",
                         fix="choose a certificate (tljh-wizard HOST, step HTTPS)")
    domains = certificate_domains(answers)
    address = options.tls_address or (f"{answers.get('domain.reserved_ipv4')}:443"
                                      if answers.get("domain.reserved_ipv4") else None)
    if not domains or not address:
        return Diagnosis(CERTIFICATE, Status.SKIPPED, "no domain or reserved IP in the answers: certificate not "
                                                      "checked")
    try:
        host, _, port = host_port(443)(address).rpartition(":")
    except ValidationError as exc:
        return Diagnosis(CERTIFICATE, Status.ERROR, f"--tls-address: {exc.message}")
    try:
        served = fetch_served(host.strip("[]"), int(port), domains[0], cafile=options.ca_file)
    except Unreachable as exc:
        return Diagnosis(CERTIFICATE, Status.ERROR, str(exc), fix="check the proxy runs and port 443 is open",
                         data={"address": address})
    verdict = judge(served, domains, "production", now=options.moment())
    chain = served_chain(served)
    data = dict(verdict.data, chain=chain)
    if verdict.status is not Status.OK:
        fix = verdict.fix
        if not served.trusted and len(served.chain) == 1 and served.leaf.issuer != served.leaf.subject:
            fix = ("the server sends the certificate without its intermediate: serve the full chain (fullchain.pem, "
                   "not cert.pem)")
        return Diagnosis(CERTIFICATE, verdict.status, verdict.summary, details="\n".join(chain), fix=fix, data=data)
    found = renewal_verdict(served.leaf, subject, options, data)
    found.details = found.details or "\n".join(chain)
    return found


def served_chain(served: Served) -> list[str]:
    """The chain as a client receives it, as ``openssl s_client -showcerts`` lists it: position, subject, issuer."""
    lines = []
    for index, cert in enumerate(served.chain):
        lines.append(f"{index} s: {cert.subject.rfc4514_string()}")
        lines.append(f"  i: {cert.issuer.rfc4514_string()}")
    return lines


def renewal_verdict(leaf: x509.Certificate, subject: AuditSubject, options: AuditOptions,
                    data: dict[str, Any]) -> Diagnosis:
    """Is the served certificate due for renewal? The CA's ARI window when the wizard issued it, else days left."""
    from wizard.https import certs

    now = options.moment()
    left = certs.days_left(leaf, now)
    until = leaf.not_valid_after_utc.strftime("%Y-%m-%d")
    data = dict(data, days_left=round(left, 1))
    issued = issued_record(subject, leaf)
    if issued and issued.get("renewal_source") == "ari" and issued.get("renewal_time"):
        from wizard.https.issue import renewal_due

        due = _dt.datetime.fromisoformat(issued["renewal_time"])
        data["renewal_time"] = issued["renewal_time"]
        if renewal_due(issued, now):
            status = Status.ERROR if left < CRITICAL_DAYS else Status.WARNING
            return Diagnosis(CERTIFICATE, status, f"the certificate is due for renewal since {due:%Y-%m-%d %H:%M} "
                                                  f"UTC (the CA's renewal window); {left:.0f} days left",
                             fix="tljh-wizard renew " + subject.name, data=data)
        return Diagnosis(CERTIFICATE, Status.OK, f"certificate valid until {until} ({left:.0f} days); the CA "
                                                 f"suggests renewing after {due:%Y-%m-%d}", data=data)
    if left < min(CRITICAL_DAYS, options.warn_days):
        return Diagnosis(CERTIFICATE, Status.ERROR, f"the served certificate expires in {left:.1f} days ({until})",
                         fix=_renew_hint(subject), data=data)
    if left < options.warn_days:
        return Diagnosis(CERTIFICATE, Status.WARNING, f"the served certificate expires in {left:.0f} days ({until}), "
                                                      f"fewer than {options.warn_days:g}", fix=_renew_hint(subject),
                         data=data)
    return Diagnosis(CERTIFICATE, Status.OK, f"certificate for {', '.join(data.get('names') or [])} valid until "
                                             f"{until} ({left:.0f} days left), issued by {data.get('issuer')}",
                     data=data)


def _renew_hint(subject: AuditSubject) -> str:
    mode = subject.answers.get("https.mode")
    if subject.answers.get("https.web_ports") == "behind":
        return "the web server in front holds the certificate: renew it there (e.g. `sudo certbot renew`)"
    if mode == "acme-dns":
        return f"tljh-wizard renew {subject.name}"
    if mode == "letsencrypt":
        return ("the proxy renews 30 days ahead: check it can reach the CA and port 443 is open "
                "(`sudo journalctl -u traefik` on the hub)")
    return "install a renewed certificate (tljh-wizard HOST, step HTTPS)"


def issued_record(subject: AuditSubject, leaf: x509.Certificate) -> dict[str, Any] | None:
    """What the HTTPS step recorded about the certificate it installed (``wizard.https.issue``), when that is the
    certificate served now."""
    from wizard.https.issue import RECORD

    record = subject.records.get(RECORD)
    if not isinstance(record, Mapping):
        return None
    try:
        recorded_until = _dt.datetime.fromisoformat(str(record.get("not_after")))
    except ValueError:
        return None
    return dict(record) if recorded_until == leaf.not_valid_after_utc.replace(microsecond=0) else None


# ---------------------------------------------------------------------------------------------------------------
# the hub

CONFIG, ENVIRONMENT = "audit.config", "audit.environment"
AUTHENTICATOR, LIMITS, CULLING, HUB = "audit.authenticator", "audit.limits", "audit.culling", "audit.hub"
HUB_FACTS = "audit.hub_facts"


def connect_probe(run: AuditRun) -> HubTarget:
    """The session's one connection to the hub, shared by every hub probe (closed when the audit ends)."""
    from wizard.hub.target import HubError

    try:
        target = run.target = run.target_factory()
        connect = getattr(target, "connect", None)  # an SSH hub's; a local one has nothing to open
        if callable(connect):
            connect()  # here, so a hub that cannot be reached is one finding, not one per probe
    except (HubError, ValueError) as exc:  # ValueError: the answers name no hub to connect to
        raise ProbeFailed(Diagnosis(HUB, Status.ERROR, f"cannot reach the hub: {exc}")) from None
    return target


def facts_probe(run: AuditRun) -> HubFacts:
    """Every hub-side fact in one round trip (``wizard.audit.hubfacts``)."""
    from wizard.audit import hubfacts
    from wizard.hub.target import HubError

    try:
        return hubfacts.gather(run.value("hub"), run.options.hub_sources(), now=run.options.moment().timestamp())
    except (HubError, ValueError) as exc:  # ValueError: the script's answer is not JSON
        raise ProbeFailed(Diagnosis(HUB_FACTS, Status.ERROR, f"cannot gather the hub's facts: {exc}",
                                    fix="the hub needs python3 (TLJH's installer requires it)")) from None


def live_config(run: AuditRun) -> dict[str, Any]:
    """config.yaml on the hub over TLJH's defaults ({} when missing or unreadable)."""
    from wizard import yamlio
    from wizard.fields import ValidationError
    from wizard.tljh import config as tljh_config

    text = run.value("hub.facts").config_text
    try:
        live = yamlio.loads(text, "config.yaml") if text else {}
    except ValidationError:
        live = {}
    return tljh_config.effective(live)


def config_probe(run: AuditRun) -> list[Diagnosis]:
    live_text = run.value("hub.facts").config_text
    return [config_drift(run.subject, live_text), *config_policy(live_text)]


def environment_probe(run: AuditRun) -> Diagnosis:
    from wizard.hub.target import HubError

    try:
        return environment_drift(run.subject, run.value("hub"))
    except HubError as exc:
        return Diagnosis(ENVIRONMENT, Status.ERROR, f"cannot read the user environment: {exc}")


def _since(run: AuditRun) -> tuple[float, float]:
    hours = run.options.hub_sources().since_hours
    return run.value("hub.facts").now - hours * 3600, hours


def ports_probe(run: AuditRun) -> Diagnosis:
    from wizard.audit import host

    return host.ports_finding(run.value("hub.facts"), live_config(run))


def capacity_probe(run: AuditRun) -> list[Diagnosis]:
    from wizard.audit import host

    facts = run.value("hub.facts")
    since, hours = _since(run)
    oom = host.oom_finding(facts, since, hours)
    memory = host.memory_finding(facts, live_config(run), run.subject.answers)
    pressure = oom.status is Status.WARNING or memory.status in (Status.WARNING, Status.ERROR)
    return [*host.disk_findings(facts), oom, memory, host.swap_finding(facts, pressure)]


def hygiene_probe(run: AuditRun) -> list[Diagnosis]:
    from wizard.audit import host

    facts = run.value("hub.facts")
    since, hours = _since(run)
    password = host.ssh_password_finding(facts)
    password_on = None if password.status is Status.SKIPPED else password.status is Status.WARNING
    return [host.updates_finding(facts), host.reboot_finding(facts), host.unattended_finding(facts), password,
            host.failed_logins_finding(facts, since, hours, password_on)]


def access_probe(run: AuditRun) -> list[Diagnosis]:
    """Who can log in with the live config.yaml, judged by the hub's own authenticator code (``wizard.access``, run
    with ``PREFIX/hub/bin/python`` over the audit's connection, read-only): the preview, and a flag for a config that
    admits nobody (ERROR) or every account of the provider (WARNING)."""
    import json

    from wizard import access, yamlio
    from wizard.fields import ValidationError
    from wizard.hub.target import HubError

    live_text = run.value("hub.facts").config_text
    if live_text is None:
        return [Diagnosis(access.PREVIEW, Status.SKIPPED, "who can log in: not computed — config.yaml is missing")]
    try:
        live = yamlio.loads(live_text, "config.yaml") if live_text.strip() else {}
        config = json.loads(json.dumps(live if isinstance(live, Mapping) else {}, default=str))
        return access.preview(config, target=run.value("hub")).diagnoses(live=True)
    except (ValidationError, HubError) as exc:
        return [Diagnosis(access.PREVIEW, Status.SKIPPED, f"who can log in: not computed — {exc}")]


def config_drift(subject: AuditSubject, live_text: str | None) -> Diagnosis:
    """config.yaml now against the file the last apply wrote."""
    from wizard.hub import apply as applier
    from wizard.tljh.config import masked_text

    if live_text is None:
        return Diagnosis(CONFIG, Status.ERROR, "config.yaml is missing on the hub",
                         fix="restore it from the last backup bundle (tljh-wizard restore-backup)")
    record = subject.records.get(applier.RECORD)
    if isinstance(record, Mapping) and record.get("status") == "in-progress":
        return Diagnosis(CONFIG, Status.WARNING, f"the apply {record.get('id')} did not finish: config.yaml drift "
                                                 "cannot be judged", fix="run tljh-wizard apply again to complete it")
    applied = last_applied(subject)
    if applied is None:
        return Diagnosis(CONFIG, Status.WARNING, "no apply recorded for this hub: config.yaml drift cannot be judged",
                         fix="apply the answers once (tljh-wizard apply) so later checks have a reference")
    applied_text, applied_sha, when = applied
    if applier.sha256(live_text) == applied_sha:
        return Diagnosis(CONFIG, Status.OK, f"config.yaml unchanged since the last apply{when}")
    diff = ""
    if applied_text is not None:
        diff = "".join(difflib.unified_diff(masked_text(applied_text).splitlines(keepends=True),
                                            masked_text(live_text).splitlines(keepends=True),
                                            "config.yaml (last apply)", "config.yaml (on the hub now)"))
    changed = sum(1 for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---"))
    return Diagnosis(CONFIG, Status.WARNING, f"config.yaml was changed on the hub since the last apply{when}"
                     + (f" ({changed} changed lines)" if diff else ""), details=diff,
                     fix="review the diff; keep the change by re-running the wizard, or undo it with tljh-wizard "
                         "apply", data={"diff": diff})


def last_applied(subject: AuditSubject) -> tuple[str | None, str, str] | None:
    """(config text, its sha256, " (DATE)") the hub should hold after the last apply (``wizard.hub.apply``'s record):
    the new file when it finished, the old one when it failed or was rolled back. The text is rebuilt, since the
    record keeps only hashes: the old file from the session's store, the new one by rendering the answers over it."""
    from wizard.hub import apply as applier

    record = subject.records.get(applier.RECORD)
    if not isinstance(record, Mapping) or record.get("status") == "in-progress":
        return None
    finished = record.get("status") == "done"
    digest = record.get("new_sha256" if finished else "old_sha256")
    if not digest:
        return None
    when = record.get("finished") or record.get("started")
    shown = f" ({_dt.datetime.fromtimestamp(when, _dt.timezone.utc):%Y-%m-%d %H:%M} UTC)" \
        if isinstance(when, (int, float)) else ""
    old = subject.stored(f"config-{record.get('id')}.yaml")
    text = old.decode("utf-8", "replace") if old is not None else None
    if finished and text is not None:
        text = _rerender(subject.answers, text, digest)
    return (text if text is not None and applier.sha256(text) == digest else None), digest, shown


def _rerender(answers: Answers, old_text: str, digest: str) -> str | None:
    """The file the apply wrote, if rendering the answers over the old file gives it again."""
    from wizard.hub import apply as applier

    for version in ("2.0.0", "main"):
        try:
            text = applier.render_text(answers, old_text, version)
        except ValueError:
            continue
        if applier.sha256(text) == digest:
            return text
    return None


def config_policy(live_text: str | None) -> list[Diagnosis]:
    """From the live config.yaml (over TLJH's defaults): a real authenticator with an allow policy, limits, culling."""
    from wizard import yamlio
    from wizard.fields import ValidationError
    from wizard.tljh import config as tljh_config

    if live_text is None:
        return [Diagnosis(check, Status.SKIPPED, "not checked: config.yaml is missing")
                for check in (AUTHENTICATOR, LIMITS, CULLING)]
    try:
        live = yamlio.loads(live_text, "config.yaml") or {}
    except ValidationError as exc:
        return [Diagnosis(check, Status.ERROR, f"config.yaml on the hub is not valid YAML: {exc}")
                for check in (AUTHENTICATOR, LIMITS, CULLING)]
    config = tljh_config.effective(live)
    return [_authenticator(config), _limits(config), _culling(config)]


def _authenticator(config: Mapping[str, Any]) -> Diagnosis:
    from wizard.tljh import config as tljh_config

    auth = mapping_section(config, "auth")
    class_path = str(auth.get("type") or "")
    class_name = class_path.rsplit(".", 1)[-1]
    if class_name in tljh_config.INSECURE_CLASSES or class_path in ("dummy", "firstuse"):
        return Diagnosis(AUTHENTICATOR, Status.ERROR, f"the hub uses {class_name}: anyone who reaches it can log in",
                         fix="choose GitHub, Google, generic OAuth2/OIDC, LDAP or Native (tljh-wizard HOST)")
    problems = [error for error in tljh_config.validate({"auth": auth, "users": config.get("users") or {}})
                if error.key.startswith("auth")]
    if problems:
        return Diagnosis(AUTHENTICATOR, Status.ERROR, problems[0].message,
                         details="\n".join(str(p) for p in problems), fix="set an access policy (tljh-wizard HOST)")
    return Diagnosis(AUTHENTICATOR, Status.OK, f"{class_name} with an access policy")


def _limits(config: Mapping[str, Any]) -> Diagnosis:
    limit_values = mapping_section(config, "limits")
    missing = [name for name in ("memory", "cpu") if limit_values.get(name) in (None, "")]
    if missing:
        return Diagnosis(LIMITS, Status.WARNING, f"no per-user {' or '.join(missing)} limit: one user can starve "
                                                 "everyone else", fix="set limits (tljh-wizard HOST, step Limits)")
    return Diagnosis(LIMITS, Status.OK, f"limits set: memory {limit_values['memory']}, cpu {limit_values['cpu']}")


def _culling(config: Mapping[str, Any]) -> Diagnosis:
    cull = mapping_section(config, "services", "cull")
    if cull.get("enabled") is False:
        return Diagnosis(CULLING, Status.WARNING, "idle culling is off: idle servers hold their memory forever",
                         fix="turn culling on (tljh-wizard HOST, step Limits)")
    return Diagnosis(CULLING, Status.OK, f"idle culling on (timeout {cull.get('timeout')} s, every "
                                         f"{cull.get('every')} s)")


def environment_drift(subject: AuditSubject, target: HubTarget) -> Diagnosis:
    """The live user environment against the newest snapshot (on the hub or kept locally)."""
    from wizard.environment import diff as envdiff
    from wizard.environment.summary import StreamError, gather

    snapshot, problems = newest_snapshot(subject, target)
    if snapshot is None:
        return Diagnosis(ENVIRONMENT, Status.WARNING, "the user environment was never frozen: drift cannot be judged",
                         details="\n".join(problems), fix=f"tljh-wizard env freeze {subject.name}")
    try:
        live = gather(target)  # no ensure_dir: nothing is created on the hub
    except StreamError as exc:
        return Diagnosis(ENVIRONMENT, Status.ERROR, f"cannot read the user environment: {exc}")
    old, new = envdiff.PackageSet.of_snapshot(snapshot), envdiff.PackageSet.of_environment(live)
    changes = envdiff.diff(old, new)
    if not changes:
        return Diagnosis(ENVIRONMENT, Status.OK, f"user environment unchanged since snapshot {snapshot.id}")
    counts = {kind: sum(1 for c in changes if c.kind == kind) for kind in ("added", "removed", "changed")}
    shown = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)
    names = ", ".join(change.name for change in changes[:5]) + (", ..." if len(changes) > 5 else "")
    return Diagnosis(ENVIRONMENT, Status.WARNING, f"user environment changed since snapshot {snapshot.id}: {shown} "
                                                  f"({names})", details=envdiff.render(changes, old, new),
                     fix=f"accept it with `tljh-wizard env freeze {subject.name}`, or undo it with `tljh-wizard env "
                         f"restore {subject.name} {snapshot.id}`",
                     data={"snapshot": snapshot.id, "changes": [change.render() for change in changes]})


def newest_snapshot(subject: AuditSubject, target: HubTarget) -> tuple[Snapshot | None, list[str]]:
    """(the newest intact snapshot on the hub or in the session's local copies, problems met)."""
    from wizard.environment import snapshot as snapshots

    found, problems = snapshots.hub_snapshots(target)
    local_dir = snapshot_dir(subject)
    if local_dir is not None and local_dir.is_dir():
        for snapshot_id in snapshots.local_ids(local_dir):
            try:
                found.append(snapshots.load_local(local_dir, snapshot_id))
            except snapshots.SnapshotError as exc:
                problems.append(str(exc))
    return (max(found, key=lambda s: s.id) if found else None), problems


def snapshot_dir(subject: AuditSubject) -> Path | None:
    return subject.local_dir / "snapshots" if subject.local_dir else None


# ---------------------------------------------------------------------------------------------------------------
# backups

BACKUP = "audit.backup"


def backup_finding(subject: AuditSubject, options: AuditOptions) -> Diagnosis:
    """The newest backup bundle on this machine (``wizard.hub.backup``'s), intact and younger than ``backup_days``."""
    from wizard.hub import backup

    bundles = [path for directory in bundle_dirs(subject) if directory.is_dir()
               for path in directory.glob("tljh-backup-*.tar.gz")]
    if not bundles:
        return Diagnosis(BACKUP, Status.WARNING, "no backup bundle of this hub on this machine",
                         fix=f"tljh-wizard backup {subject.name}")
    newest = max(bundles, key=lambda path: path.stat().st_mtime)
    age = (options.moment().timestamp() - newest.stat().st_mtime) / 86400
    data = {"bundle": str(newest), "age_days": round(age, 1)}
    try:
        backup.verify(newest)
    except (ValueError, OSError) as exc:
        return Diagnosis(BACKUP, Status.ERROR, f"the newest backup bundle cannot be trusted: {exc}",
                         fix=f"tljh-wizard backup {subject.name}", data=data)
    if age > options.backup_days:
        return Diagnosis(BACKUP, Status.WARNING, f"the newest backup bundle is {age:.0f} days old (more than "
                                                 f"{options.backup_days:g})", fix=f"tljh-wizard backup {subject.name}",
                         data=data)
    return Diagnosis(BACKUP, Status.OK, f"backup bundle {newest.name} is {age:.1f} days old, checksum verified",
                     data=data)


def bundle_dirs(subject: AuditSubject) -> list[Path]:
    """Where bundles are kept: the answers' backups.bundle_dir and the session's folder (`tljh-wizard backup`)."""
    folders = []
    if subject.answers.get("backups.bundle_dir"):
        folders.append(Path(subject.answers.get("backups.bundle_dir")).expanduser())
    if subject.local_dir:
        folders.append(subject.local_dir / "backups")
    return folders


# ---------------------------------------------------------------------------------------------------------------
# TLS posture (from this machine, against the hub's address)

def _served_at(subject: AuditSubject, override: str | None, default_port: int,
               flag: str) -> tuple[str, int, str] | str:
    """(host, port, domain) where the hub serves, or a reason it cannot be probed."""
    from wizard.fields import ValidationError, host_port
    from wizard.tljh.config import certificate_domains

    answers = subject.answers
    domains = certificate_domains(answers) if answers.get("domain.name") else []
    address = override or (f"{answers.get('domain.reserved_ipv4')}:{default_port}"
                           if answers.get("domain.reserved_ipv4") else None)
    if not domains or not address:
        return "no domain or reserved IP in the answers"
    try:
        host, _, port = host_port(default_port)(address).rpartition(":")
    except ValidationError as exc:
        return f"{flag}: {exc.message}"
    return host.strip("[]"), int(port), domains[0]


def _https_served(answers: Answers) -> bool:
    """HTTPS is served: by TLJH's proxy (a certificate mode), or by the web server TLJH sits behind."""
    return answers.get("https.mode") not in (None, "none") or answers.get("https.web_ports") == "behind"


def _https_probe(check: str,
                 body: Callable[[AuditRun, str, int, str], Diagnosis]) -> Callable[[AuditRun], Diagnosis]:
    def probe(run: AuditRun) -> Diagnosis:
        if not _https_served(run.subject.answers):
            return Diagnosis(check, Status.SKIPPED, "HTTPS is off: not checked (see audit.certificate)")
        where = _served_at(run.subject, run.options.tls_address, 443, "--tls-address")
        if isinstance(where, str):
            return Diagnosis(check, Status.SKIPPED, f"not checked: {where}")
        return body(run, *where)
    return probe


def protocols_probe(run: AuditRun, host: str, port: int, domain: str) -> Diagnosis:
    from wizard.audit import tls

    return tls.protocols_finding(host, port, domain, timeout=run.options.tls_timeout)


def hsts_probe(run: AuditRun, host: str, port: int, domain: str) -> Diagnosis:
    from wizard.audit import tls

    prefix = str(run.subject.answers.get("connection.tljh_prefix") or "/opt/tljh")
    return tls.hsts_finding(host, port, domain, timeout=run.options.tls_timeout, prefix=prefix)


def redirect_probe(run: AuditRun) -> Diagnosis:
    from wizard.audit import tls

    if not _https_served(run.subject.answers):
        return Diagnosis(tls.REDIRECT, Status.SKIPPED, "HTTPS is off: no redirect expected (see audit.certificate)")
    where = _served_at(run.subject, run.options.http_address, 80, "--http-address")
    if isinstance(where, str):
        return Diagnosis(tls.REDIRECT, Status.SKIPPED, f"not checked: {where}")
    return tls.redirect_finding(*where, letsencrypt=run.subject.answers.get("https.mode") == "letsencrypt",
                                timeout=run.options.tls_timeout)


# ---------------------------------------------------------------------------------------------------------------
# the registry

def _default_probes() -> None:
    from wizard.audit import host, tls

    hub_facts = ("hub", "hub.facts")
    for probe in (
        Probe("dns", lambda run: dns_findings(run.subject, run.options)),
        Probe("certificate", lambda run: certificate_finding(run.subject, run.options)),
        Probe("tls.protocols", _https_probe(tls.PROTOCOLS, protocols_probe)),
        Probe("tls.redirect", redirect_probe),
        Probe("tls.hsts", _https_probe(tls.HSTS, hsts_probe)),
        Probe("hub", connect_probe, findings=False),
        Probe("hub.facts", facts_probe, needs=("hub",), findings=False),
        Probe("config", config_probe, needs=hub_facts, skip_ids=(CONFIG, AUTHENTICATOR, LIMITS, CULLING)),
        Probe("environment", environment_probe, needs=("hub",), skip_ids=(ENVIRONMENT,)),
        Probe("access", access_probe, needs=hub_facts, skip_ids=("access.preview",)),
        Probe("ports", ports_probe, needs=hub_facts, skip_ids=(host.PORTS,)),
        Probe("capacity", capacity_probe, needs=hub_facts,
              skip_ids=(f"{host.DISK}.root", f"{host.DISK}.home", f"{host.DISK}.prefix", host.OOM, host.MEMORY,
                        host.SWAP)),
        Probe("hygiene", hygiene_probe, needs=hub_facts,
              skip_ids=(host.UPDATES, host.REBOOT, host.UNATTENDED, host.SSH_PASSWORD, host.SSH_FAILED)),
        Probe("backup", lambda run: backup_finding(run.subject, run.options)),
    ):
        register(probe)
    from wizard.sshaccess import audit as ssh_audit

    register(Probe("ssh", ssh_audit.probe, needs=("hub",), skip_ids=(ssh_audit.KEYS,)), before="backup")


_default_probes()
