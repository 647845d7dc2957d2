"""The HTTPS part of an apply: every certificate change a hub gets is an action of the reviewed plan.

``build(answers, old_text, new_text, ...) -> HttpsPlan | None`` is read-only (it reads the hub's current certificate
files and acme.json sizes at most, asks nothing of a CA, changes nothing). The plan's ``actions`` are
``(id, title)`` pairs in the order apply runs them; ``phase(id)`` says whether an action runs before config.yaml is
written (``BEFORE``: ordering and uploading a certificate, keeping a copy of acme.json) or after the reloads
(``AFTER``: the Let's Encrypt stages and the check of what the hub serves). ``refusals`` are reasons the plan must not
run at all (the DNS gate, port 443, the rate-limit guard, refused certificate files). ``execute(id, ...)`` runs one
action and returns its one-line outcome, raising ``HttpsActionError`` (a ``HubError``) on failure; ``rollback``
puts back every hub file an executed action changed (certificate, key, acme.json) — config.yaml itself is the apply
engine's to restore (``wizard.hub.apply``).

Per mode:

- ``letsencrypt`` (TLJH's proxy, Traefik, orders with TLS-ALPN-01): when the new config asks for a certificate the hub
  does not have yet (other names, or HTTPS newly on), config.yaml is first written with
  ``https.letsencrypt.staging: true`` (``first_text``); after the reloads the hub must serve a certificate from the
  staging CA for every name (``https-staging``); the rate-limit guard is asked and acme.json cleared
  (``https-clear-acme``: Traefik would otherwise keep the staging certificate); config.yaml then gets the final
  ``staging: false`` by a verified write and the proxy is reloaded (``https-production``); and the hub must serve a
  trusted production certificate (``https-production-verify``). acme.json as it was before the apply is kept in the
  session's store (0600: it holds private keys) and put back on a rollback (``https-acme-backup``).
- ``acme-dns``: the wizard orders from the staging directory first (once per set of names, as the session's
  rate-limit record tells), then from production (``https-staging-order``, ``https-order``), with DNS-01 over RFC 2136
  (``wizard.https.acme_dns``); uploads chain and key (``https-upload``), and checks the hub serves it
  (``https-verify``). A certificate already on the hub that covers the names and has more than a third of its
  lifetime left is kept: no order.
- ``existing``: the operator's chain and key are judged (``wizard.https.existing``), uploaded (``https-upload``) and
  checked as served (``https-verify``); files identical to the hub's are not uploaded again.

Uploads go through ``HubTarget.write_files``: nothing is replaced until the hub holds both files whole (size and
sha256 checked there), key 0600, root-owned. What the hub held at those paths before is kept in the session's store
and written back on a rollback (or removed, when there was nothing). Sources: TLJH ``tljh/traefik.py`` and
``traefik.toml.tpl`` (``https.letsencrypt.staging`` selects Let's Encrypt's staging ``caServer``; ``acme.json`` under
``state/``), ``tljh/configurer.py`` defaults; Let's Encrypt's rate-limit documentation (``wizard.https.ratelimit``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Callable, Sequence

from wizard.diagnosis import Diagnosis, Status
from wizard.hub.target import HubError

BEFORE, AFTER = "before-config", "after-config"
RECORD = "https.certificate"

Progress = Callable[[str, str, str], None]  # (action id, phase: start/done/failed, detail), as wizard.hub.apply


class HttpsActionError(HubError):
    """An HTTPS action failed; the message says which stage and what the CA, the DNS server or the hub said."""


@dataclass
class HttpsEnvironment:
    """How this machine reaches the CA, the DNS and the hub's port 443. Defaults are the real internet's; tests and
    private CAs change them. ``letsencrypt``: ``wizard.https.letsencrypt.LetsEncryptEnvironment`` (where the served
    certificate is checked, the staging marker, the waits); ``acme``: ``wizard.https.issue.AcmeEnvironment`` (the
    ACME server's CA bundle, the trust roots, the nameserver port)."""

    letsencrypt: Any = None
    acme: Any = None

    def __post_init__(self) -> None:
        from wizard.https.issue import AcmeEnvironment
        from wizard.https.letsencrypt import LetsEncryptEnvironment

        if self.letsencrypt is None:
            self.letsencrypt = LetsEncryptEnvironment()
        elif isinstance(self.letsencrypt, dict):
            self.letsencrypt = LetsEncryptEnvironment(**self.letsencrypt)
        if self.acme is None:
            self.acme = AcmeEnvironment()
        elif isinstance(self.acme, dict):
            self.acme = AcmeEnvironment(**self.acme)


@dataclass
class HttpsAction:
    id: str
    title: str
    phase: str  # BEFORE or AFTER


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class HttpsPlan:
    """The certificate work of one apply. ``actions`` / ``refusals`` / ``execute`` / ``rollback``: see the module."""

    mode: str
    names: list[str]
    steps: list[HttpsAction] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    notes: list[Diagnosis] = field(default_factory=list)  # read-only findings worth showing with the plan
    # letsencrypt: the config.yaml written first (staging CA); None: the new file. Both hold secrets: no repr.
    first_text: str | None = field(default=None, repr=False)
    final_text: str = field(default="", repr=False)
    env: HttpsEnvironment = field(default_factory=HttpsEnvironment)
    answers: Any = field(default=None, repr=False)
    cert_path: str = ""
    key_path: str = ""
    fullchain: bytes | None = field(default=None, repr=False)
    key: bytes | None = field(default=None, repr=False)  # secret: never logged, never in a title
    # execution state: what the hub held before this apply changed it (path -> bytes, None: no such file)
    saved: dict = field(default_factory=dict, repr=False)
    apply_id: str = ""
    verdicts: list[Diagnosis] = field(default_factory=list)
    prefix: str = "/opt/tljh"  # the hub's TLJH prefix
    override: list[str] = field(default_factory=list)  # failing DNS checks passed by https.dns_override

    @property
    def actions(self) -> list[tuple[str, str]]:
        """``(id, title)`` in the order apply runs them (the shape of ``SshPlan.actions``)."""
        return [(step.id, step.title) for step in self.steps]

    def phase(self, action_id: str) -> str:
        return next(step.phase for step in self.steps if step.id == action_id)

    def ids(self, phase: str) -> list[str]:
        return [step.id for step in self.steps if step.phase == phase]

    @property
    def acme_json(self) -> str:
        return f"{self.prefix}/state/acme.json"

    # -- execution ----------------------------------------------------------------------------------------------

    def execute(self, action_id: str, target, session, *, progress: Callable[[str, str], None] | None = None,
                cancel=None) -> str:
        """Run one action; return its outcome line. Raises ``HttpsActionError`` (a ``HubError``)."""
        from wizard.https.acme_dns import AcmeDnsError
        from wizard.https.dnsupdate import DnsUpdateError
        from wizard.https.install import InstallError
        from wizard.https.progress import Cancelled, CancelToken
        from wizard.https.propagation import PropagationTimeout
        from wizard.https.ratelimit import RateLimitRefused

        report = progress or (lambda phase, message: None)
        token = cancel if cancel is not None else CancelToken(getattr(target, "cancel", None))
        if self.override and session is not None:  # the operator's override of the DNS gate, recorded once
            session.journal("https.dns_override", "used", failing=self.override)
            self.override = []
        handler = getattr(self, "_" + action_id.replace("-", "_"))
        try:
            return handler(target, session, report, token)
        except HttpsActionError:
            raise
        except Cancelled as exc:
            raise HttpsActionError(f"stopped: {exc}") from None
        except (AcmeDnsError, DnsUpdateError, PropagationTimeout, RateLimitRefused, InstallError) as exc:
            raise HttpsActionError(str(exc)) from None

    def _guard(self, session):
        from wizard.https.ratelimit import MemoryStore, RateLimitGuard, RecordStore

        return RateLimitGuard(RecordStore(session) if session is not None else MemoryStore())

    def _keep(self, target, session, path: str) -> None:
        """Remember what the hub holds at ``path`` (once per apply), in memory and in the session's store (0600)."""
        if path in self.saved:
            return
        try:
            content: bytes | None = target.read_file(path)
        except FileNotFoundError:
            content = None
        self.saved[path] = content
        if session is not None and content is not None:
            session.write_secret(f"https-{self.apply_id or 'apply'}-{PurePosixPath(path).name}", content)

    # letsencrypt

    def _https_acme_backup(self, target, session, report, cancel) -> str:
        self._keep(target, session, self.acme_json)
        held = self.saved[self.acme_json]
        if held is None:
            return "no acme.json on the hub yet: nothing to keep"
        return f"acme.json ({len(held)} bytes) kept in the session's store (0600) for a rollback"

    def _wait(self, expect: str, report, cancel) -> Diagnosis:
        from wizard.https.verify import wait_for_served

        env = self.env.letsencrypt
        host, port = env.verify_address or (self.names[0], 443)
        return wait_for_served(host, port, self.names, expect, cafile=env.trust_roots,
                               staging_marker=env.staging_marker,
                               timeout=env.staging_timeout if expect == "staging" else env.production_timeout,
                               progress=report, cancel=cancel)

    def _https_staging(self, target, session, report, cancel) -> str:
        verdict = self._wait("staging", report, cancel)
        self.verdicts.append(verdict)
        if verdict.status is not Status.OK:
            raise HttpsActionError(verdict.summary + (f" (fix: {verdict.fix})" if verdict.fix else ""))
        self._guard(session).record(self.names, production=False, passed=True)
        return verdict.summary

    def _https_clear_acme(self, target, session, report, cancel) -> str:
        self._guard(session).check_order(self.names, production=True)  # RateLimitRefused: rolled back
        self._keep(target, session, self.acme_json)
        cancel.check()
        target.write_file(self.acme_json, b"", mode=0o600, owner="root:root")
        return "acme.json cleared (it held the staging certificate); the rate-limit guard allows production"

    def _https_production(self, target, session, report, cancel) -> str:
        from wizard.hub.target import CommandFailed

        path = f"{self.prefix}/config/config.yaml"
        notes = target.write_file(path, self.final_text.encode("utf-8"), mode=0o600, lock=f"{path}.lock")
        result = target.run([target.tljh_config, "reload", "proxy"], sudo=True,
                            timeout=self.env.letsencrypt.reload_timeout)
        if not result.ok:
            raise CommandFailed(result)
        return "; ".join([*notes, "config.yaml: https.letsencrypt.staging is false (size and sha256 checked on "
                                  "the hub); proxy reloaded"])

    def _https_production_verify(self, target, session, report, cancel) -> str:
        verdict = self._wait("production", report, cancel)
        self.verdicts.append(verdict)
        if verdict.status is not Status.OK:
            self._guard(session).record(self.names, production=True, passed=False)
            raise HttpsActionError(verdict.summary + (f" (fix: {verdict.fix})" if verdict.fix else ""))
        self._remember(session, verdict, not_after=verdict.data.get("not_after"), issuer=verdict.data.get("issuer"))
        return verdict.summary

    # acme-dns

    def _issuer(self, session, production: bool, report, cancel):
        from wizard.https.acme_dns import AcmeDirectory, AcmeDnsIssuer, DirectoryStore
        from wizard.https.issue import rfc2136_from

        answers = self.answers
        url = answers.get("https.production_directory" if production else "https.staging_directory")
        store = session if session is not None else DirectoryStore(".tljh-wizard-acme")
        return AcmeDnsIssuer(AcmeDirectory(url, production=production, ca_bundle=self.env.acme.ca_bundle), store,
                             rfc2136_from(answers), email=answers.get("https.email"),
                             tos_agreed=bool(answers.get("https.tos_agreed")), guard=self._guard(session),
                             nameserver_port=self.env.acme.nameserver_port, progress=report, cancel=cancel)

    def _https_staging_order(self, target, session, report, cancel) -> str:
        issued = self._issuer(session, False, report, cancel).issue(self.names)
        return f"the staging directory issued a test certificate for {', '.join(self.names)} (not installed)" + \
            "".join(f"; {warning}" for warning in issued.warnings)

    def _https_order(self, target, session, report, cancel) -> str:
        issued = self._issuer(session, True, report, cancel).issue(self.names)
        self.fullchain, self.key = issued.fullchain_pem, issued.key_pem
        self._issued = issued
        return (f"certificate issued for {', '.join(self.names)}, valid until {issued.not_after}, renewal "
                f"{issued.renewal_time} ({issued.renewal_source})" + "".join(f"; {w}" for w in issued.warnings))

    # acme-dns and existing

    def _https_upload(self, target, session, report, cancel) -> str:
        from wizard.hub.target import FileWrite

        if self.fullchain is None or self.key is None:
            raise HttpsActionError("no certificate to upload (the order did not run)")
        for path in (self.key_path, self.cert_path):
            self._keep(target, session, path)
        directory = str(PurePosixPath(self.key_path).parent)
        made = target.run(["install", "-d", "-m", "700", "-o", "root", "-g", "root", "--", directory], sudo=True)
        if not made.ok:
            raise HttpsActionError(f"creating {directory} on the hub failed: {made.text.strip()}")
        notes = target.write_files([FileWrite(self.key_path, self.key, 0o600, "root:root"),
                                    FileWrite(self.cert_path, self.fullchain, 0o644, "root:root")])
        return "; ".join([*notes, f"{self.cert_path} ({len(self.fullchain)} bytes, sha256 "
                                  f"{_sha(self.fullchain)[:12]}…) and {self.key_path} (0600), size and sha256 "
                                  "checked on the hub"])

    def _https_reload_proxy(self, target, session, report, cancel) -> str:
        from wizard.hub.target import CommandFailed

        result = target.run([target.tljh_config, "reload", "proxy"], sudo=True,
                            timeout=self.env.letsencrypt.reload_timeout)
        if not result.ok:
            raise CommandFailed(result)
        return "proxy reloaded"

    def _https_verify(self, target, session, report, cancel) -> str:
        from cryptography.hazmat.primitives import hashes

        from wizard.https import certs
        from wizard.https.issue import verify_installed

        if self.fullchain is None:
            raise HttpsActionError("no certificate to check (the order did not run)")
        leaf = certs.load_chain(self.fullchain)[0]
        verdict = verify_installed(self.names, self.env.acme, progress=report, cancel=cancel,
                                   leaf_sha256=leaf.fingerprint(hashes.SHA256()).hex())
        self.verdicts.append(verdict)
        if verdict.status is not Status.OK:
            raise HttpsActionError(verdict.summary + (f" (fix: {verdict.fix})" if verdict.fix else ""))
        extra = {}
        issued = getattr(self, "_issued", None)
        if issued is not None:
            extra = {k: v for k, v in issued.record().items() if k not in ("names", "not_after")}
            extra["warnings"] = issued.warnings
        self._remember(session, verdict, not_after=leaf.not_valid_after_utc.isoformat(timespec="seconds"),
                       **extra)
        return verdict.summary

    def _remember(self, session, verdict: Diagnosis, **extra) -> None:
        import time

        if session is None:
            return
        record = {"mode": self.mode, "names": list(self.names), "installed": time.time(),
                  "verified": verdict.status.value, "verify_summary": verdict.summary, **extra}
        session.record(RECORD, record)

    # -- rollback -----------------------------------------------------------------------------------------------

    def rollback(self, target, session=None) -> list[str]:
        """Put back what executed actions changed on the hub (certificate, key, acme.json), before config.yaml is
        restored and the proxy reloaded by the apply engine. Returns the problems (empty: all put back)."""
        from wizard.hub.target import FileWrite

        problems = []
        writes = [FileWrite(path, content, 0o600 if path != self.cert_path else 0o644, "root:root")
                  for path, content in self.saved.items() if content is not None]
        removals = [path for path, content in self.saved.items() if content is None]
        try:
            if writes:
                target.write_files(writes)
            if removals:
                result = target.run(["rm", "-f", "--", *removals], sudo=True)
                if not result.ok:
                    problems.append(f"removing {', '.join(removals)}: {result.text.strip()}")
        except HubError as exc:
            problems.append(f"putting back {', '.join(self.saved)}: {exc}")
        return problems

    def restored(self) -> list[str]:
        """The files ``rollback`` puts back or removes (for the operator's summary)."""
        return list(self.saved)


# ---------------------------------------------------------------------------------------------------------------
# build


def _https_section(text: str) -> dict:
    from wizard import yamlio

    data = yamlio.loads(text, "config.yaml") if text.strip() else None
    https = (data or {}).get("https") if isinstance(data, dict) else None
    return https if isinstance(https, dict) else {}


def _staging_text(new_text: str) -> str:
    """``new_text`` with ``https.letsencrypt.staging: true`` (comments and order kept)."""
    from wizard import yamlio

    document = yamlio.loads(new_text, "config.yaml", round_trip=True)
    document["https"]["letsencrypt"]["staging"] = True
    return yamlio.dump(document, round_trip=True)


def needs_letsencrypt_run(old_text: str, new_text: str) -> bool:
    """Whether the new config asks TLJH's proxy for a certificate the old one did not have: HTTPS newly on with
    Let's Encrypt, other names, or the staging CA before. An e-mail change alone orders nothing."""
    new, old = _https_section(new_text), _https_section(old_text)
    new_le, old_le = new.get("letsencrypt") or {}, old.get("letsencrypt") or {}
    if not (new.get("enabled") and isinstance(new_le, dict) and new_le.get("domains")):
        return False
    if not (old.get("enabled") and isinstance(old_le, dict)) or old.get("tls"):
        return True
    same_names = sorted(map(str, old_le.get("domains") or [])) == sorted(map(str, new_le["domains"]))
    return not same_names or bool(old_le.get("staging")) != bool(new_le.get("staging"))


def _hub_certificate_current(target, cert_path: str, names: Sequence[str]) -> str | None:
    """The hub's certificate at ``cert_path`` when it covers ``names`` and has more than a third of its lifetime left
    (then no new order is needed): a line saying so; else None."""
    from wizard.https import certs

    try:
        leaf = certs.load_chain(target.read_file(cert_path))[0]
    except (FileNotFoundError, certs.PemError, HubError):
        return None
    lifetime = (leaf.not_valid_after_utc - leaf.not_valid_before_utc).total_seconds() / 86400
    left = certs.days_left(leaf)
    if certs.uncovered(leaf, names) or left <= lifetime / 3:
        return None
    return (f"the hub's certificate at {cert_path} covers {', '.join(names)} and is valid for {left:.0f} more days: "
            "no new order (renew replaces it when due)")


def build(answers, old_text: str, new_text: str, target, *, session=None, env: HttpsEnvironment | None = None,
          dns_diagnoses: Sequence[Diagnosis] | Callable[[], Sequence[Diagnosis]] | None = None,
          config_reloads_proxy: bool | None = None) -> HttpsPlan | None:
    """The HTTPS sub-plan of an apply of ``answers`` (config.yaml ``old_text`` -> ``new_text``) to ``target``, or
    None when there is no certificate work (mode none, HTTPS skipped, behind another server). Read-only.

    ``dns_diagnoses``: the Domain step's DNS check (or a callable running it), the gate of both ACME modes; not
    consulted for mode existing. ``config_reloads_proxy``: whether the config part of the apply reloads the proxy
    anyway (default: whether the https section changes) — else an upload is followed by a reload of its own."""
    from wizard.tljh.config import certificate_domains, tls_paths

    if "https" in answers.skipped or answers.get("https.web_ports") == "behind":
        return None
    mode = answers.get("https.mode")
    if mode not in ("letsencrypt", "acme-dns", "existing"):
        return None
    env = env or HttpsEnvironment()
    names = certificate_domains(answers)
    cert_path, key_path = tls_paths(answers)
    result = HttpsPlan(mode, names, env=env, answers=answers, cert_path=cert_path, key_path=key_path,
                       final_text=new_text, prefix=str(target.prefix))
    if config_reloads_proxy is None:
        config_reloads_proxy = _https_section(old_text) != _https_section(new_text)
    if mode == "letsencrypt":
        _build_letsencrypt(result, old_text, new_text, session, dns_diagnoses)
    elif mode == "acme-dns":
        _build_acme_dns(result, target, session, dns_diagnoses, config_reloads_proxy)
    else:
        _build_existing(result, target, config_reloads_proxy)
    if not result.steps and not result.refusals:
        return result if result.notes else None
    return result


def _gate(result: HttpsPlan, session, dns_diagnoses, port_443: bool) -> None:
    """The DNS check passes (or the override, recorded in the session when the first action runs) and, for Let's
    Encrypt, port 443 reaches the hub."""
    from wizard.https.letsencrypt import gate_findings

    diagnoses = dns_diagnoses() if callable(dns_diagnoses) else list(dns_diagnoses or [])
    diagnoses = [d for d in diagnoses if d.id.startswith("dns.")]

    def journal(action: str, phase: str, **details) -> None:
        result.override = list(details.get("failing") or [])

    findings = gate_findings(result.answers, diagnoses, result.env.letsencrypt, journal=journal)
    if not port_443:
        findings = [d for d in findings if d.id != "https.port443"]
    for finding in findings:
        if finding.status is Status.ERROR:
            result.refusals.append(finding.summary + (f" (fix: {finding.fix})" if finding.fix else ""))
        elif finding.status is Status.WARNING:
            result.notes.append(finding)


def _guard_refusal(result: HttpsPlan, session, staged_first: bool) -> None:
    from wizard.https.ratelimit import MemoryStore, RateLimitGuard, RateLimitRefused, RecordStore

    guard = RateLimitGuard(RecordStore(session) if session is not None else MemoryStore())
    try:
        guard.check_order(result.names, production=True, staged_first=staged_first)
    except RateLimitRefused as exc:
        result.refusals.append(f"the rate-limit guard refuses a production order: {exc}")


def _build_letsencrypt(result: HttpsPlan, old_text: str, new_text: str, session, dns_diagnoses) -> None:
    if not needs_letsencrypt_run(old_text, new_text):
        return
    env = result.env.letsencrypt
    where = "{}:{}".format(*(env.verify_address or (result.names[0], 443)))
    names = ", ".join(result.names)
    _gate(result, session, dns_diagnoses, port_443=True)
    _guard_refusal(result, session, staged_first=True)
    result.first_text = _staging_text(new_text)
    result.steps = [
        HttpsAction("https-acme-backup", "keep a copy of the proxy's acme.json (its certificates and keys) in the "
                                         "session's store (0600), to put back on a rollback", BEFORE),
        HttpsAction("https-staging", "Let's Encrypt STAGING first: config.yaml is written with "
                                     "https.letsencrypt.staging: true; wait until the hub serves a staging "
                                     f"certificate for {names} at {where} (up to {env.staging_timeout:g} s)", AFTER),
        HttpsAction("https-clear-acme", "ask the rate-limit guard, then clear acme.json (it holds the staging "
                                        "certificate, which the proxy would keep serving)", AFTER),
        HttpsAction("https-production", "switch to the production CA: write config.yaml with "
                                        "https.letsencrypt.staging: false (size and sha256 checked on the hub, under "
                                        "config.yaml.lock) and reload the proxy", AFTER),
        HttpsAction("https-production-verify", f"wait until the hub serves a trusted production certificate for "
                                               f"{names} at {where} (up to {env.production_timeout:g} s)", AFTER),
    ]


def _build_acme_dns(result: HttpsPlan, target, session, dns_diagnoses, config_reloads_proxy: bool) -> None:
    from wizard.https.ratelimit import MemoryStore, RateLimitGuard, RecordStore

    answers = result.answers
    current = _hub_certificate_current(target, result.cert_path, result.names)
    if current:
        result.notes.append(Diagnosis("https.certificate", Status.OK, current))
        return
    _gate(result, session, dns_diagnoses, port_443=False)
    guard = RateLimitGuard(RecordStore(session) if session is not None else MemoryStore())
    staged = guard.staged(result.names)
    _guard_refusal(result, session, staged_first=not staged)
    names = ", ".join(result.names)
    via = f"DNS-01: TXT records by a TSIG-signed update to {answers.get('https.tsig_server')}, removed afterwards"
    if not staged:
        result.steps.append(HttpsAction("https-staging-order", f"order a test certificate for {names} from the "
                                        f"staging directory {answers.get('https.staging_directory')} ({via})",
                                        BEFORE))
    result.steps += [
        HttpsAction("https-order", f"order the certificate for {names} from "
                                   f"{answers.get('https.production_directory')} (production: rate limits apply; "
                                   f"{via})", BEFORE),
        HttpsAction("https-upload", f"upload the chain to {result.cert_path} and the key to {result.key_path} "
                                    "(0600), size and sha256 checked on the hub before anything is replaced; the "
                                    "files there now are kept for a rollback", BEFORE),
    ]
    _finish_upload_plan(result, config_reloads_proxy)


def _build_existing(result: HttpsPlan, target, config_reloads_proxy: bool) -> None:
    from wizard.files import InputFileError, read_small
    from wizard.https.existing import check_existing_files

    answers = result.answers
    cert, key = answers.get("https.cert_path"), answers.get("https.key_path")
    problems = [d for d in check_existing_files(cert, key, result.names) if d.status is Status.ERROR]
    if problems:
        result.refusals += [f"https.cert_path/key_path: {d.summary}" for d in problems]
        return
    try:
        result.fullchain = read_small(cert, what="certificate file")
        result.key = read_small(key, what="key file")
    except InputFileError as exc:
        result.refusals.append(str(exc))
        return
    try:
        held = [target.read_file(path) for path in (result.cert_path, result.key_path)]
    except (FileNotFoundError, HubError):
        held = None
    if held == [result.fullchain, result.key]:
        result.notes.append(Diagnosis("https.certificate", Status.OK, "the hub already holds these certificate and "
                                      f"key files at {result.cert_path}: nothing to upload"))
        return
    result.steps.append(HttpsAction(
        "https-upload", f"upload {cert} ({len(result.fullchain)} bytes, sha256 {_sha(result.fullchain)[:12]}…) to "
                        f"{result.cert_path} and the key to {result.key_path} (0600), size and sha256 checked on the "
                        "hub before anything is replaced; the files there now are kept for a rollback", BEFORE))
    _finish_upload_plan(result, config_reloads_proxy)


def _finish_upload_plan(result: HttpsPlan, config_reloads_proxy: bool) -> None:
    env = result.env.acme
    where = "{}:{}".format(*(env.verify_address or (result.names[0], 443)))
    if not config_reloads_proxy:
        result.steps.append(HttpsAction("https-reload-proxy", "tljh-config reload proxy (the new certificate files)",
                                        AFTER))
    result.steps.append(HttpsAction("https-verify", f"check the hub serves the new certificate for "
                                                    f"{', '.join(result.names)} at {where}, trusted (up to "
                                                    f"{env.verify_timeout:g} s)", AFTER))


def dns_check(answers, *, target=None, session=None, nameserver_port: int = 53,
              resolvers: Sequence[str] | None = None) -> list[Diagnosis]:
    """The Domain step's DNS check for ``answers`` (``wizard.dns.check.check_domain``: every authoritative
    nameserver, the resolvers of ``domain.resolvers`` unless ``resolvers`` are given, CAA against the accounts that
    would order), for the gate of the ACME modes when no front-end has run it. Read-only; only the ``dns.*``
    diagnoses."""
    from wizard.dns.caa import known_accounts
    from wizard.dns.check import check_domain

    try:
        accounts = known_accounts(None, target)
    except HubError:
        accounts = {}
    if session is not None and answers.get("https.production_directory"):
        from wizard.dns.caa import session_account

        accounts["acme-dns"] = session_account(session.read_secret, answers.get("https.production_directory"))
    found = check_domain(answers.get("domain.name"), answers.get("domain.reserved_ipv4"),
                         answers.get("domain.reserved_ipv6"), resolvers=resolvers or answers.get("domain.resolvers"),
                         nameserver_port=nameserver_port, accounts=accounts, https_mode=answers.get("https.mode"))
    return [d for d in found if d.id.startswith("dns.")]
