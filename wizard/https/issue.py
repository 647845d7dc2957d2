"""Modes acme-dns and existing end to end, and renewal: obtain (or take) a certificate, install it, verify it.

Mode acme-dns runs the staging directory first (until the names have passed there once, as the session records),
then production; installs the chain and key on the hub; waits until the hub serves the new certificate; and records
in the session what ``renew`` needs (names, expiry, ARI renewal time). Mode existing validates the operator's files
and installs them the same way.
"""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass
from typing import Sequence

from wizard.diagnosis import Diagnosis, Status
from wizard.https.progress import CancelToken, Progress, no_progress

RECORD = "https.certificate"


class HttpsStepError(Exception):
    """The step failed; the message is for the operator as is."""


@dataclass
class AcmeEnvironment:
    """How this machine reaches the CA and the hub. The defaults are the real internet's: system trust roots, DNS
    on port 53, the certificate checked at DOMAIN:443. Tests and private CAs change them."""

    ca_bundle: str | None = None  # verifies the ACME server's HTTPS endpoint
    trust_roots: str | None = None  # roots the served certificate must chain to
    nameserver_port: int = 53
    verify_address: tuple[str, int] | None = None  # where to check the served certificate (default DOMAIN:443)
    verify_timeout: float = 120.0


def domains(answers) -> list[str]:
    from wizard.tljh.config import certificate_domains

    return certificate_domains(answers)


def rfc2136_from(answers):
    """The RFC 2136 zone the answers describe (the TSIG secret comes from the session's secret answers)."""
    from wizard.https.dnsupdate import Rfc2136, split_host_port

    host, port = split_host_port(answers.get("https.tsig_server"))
    return Rfc2136(host, port, answers.get("https.tsig_zone"), answers.get("https.tsig_key_name"),
                   answers.get("https.tsig_secret"), algorithm=answers.get("https.tsig_algorithm") or "hmac-sha256")


def issuer_for(session, env: AcmeEnvironment, production: bool, *, guard=None, progress: Progress = no_progress,
               cancel: CancelToken | None = None):
    from wizard.https.acme_dns import AcmeDirectory, AcmeDnsIssuer

    answers = session.answers
    url = answers.get("https.production_directory" if production else "https.staging_directory")
    return AcmeDnsIssuer(AcmeDirectory(url, production=production, ca_bundle=env.ca_bundle), session,
                         rfc2136_from(answers), email=answers.get("https.email"),
                         tos_agreed=bool(answers.get("https.tos_agreed")), guard=guard,
                         nameserver_port=env.nameserver_port, progress=progress, cancel=cancel)


def verify_installed(names: Sequence[str], env: AcmeEnvironment, *, progress: Progress = no_progress,
                     cancel: CancelToken | None = None, leaf_sha256: str | None = None) -> Diagnosis:
    """Wait until the hub serves a production-grade certificate for every name (``leaf_sha256``: that very one)."""
    from wizard.https.verify import wait_for_served

    host, port = env.verify_address or (names[0], 443)
    progress("verify", f"checking the certificate served at {host}:{port}")
    return wait_for_served(host, port, names, "production", cafile=env.trust_roots, timeout=env.verify_timeout,
                           progress=progress, cancel=cancel, leaf_sha256=leaf_sha256)


def _install_and_verify(session, target, names, fullchain: bytes, key: bytes, env: AcmeEnvironment,
                        progress: Progress, cancel: CancelToken | None, configure: bool = True) -> Diagnosis:
    from wizard.https.install import install_certificate
    from wizard.tljh.config import tls_paths

    cert_path, key_path = tls_paths(session.answers)
    session.journal("https.install", "before", cert_path=cert_path, key_path=key_path, names=list(names))
    try:
        install_certificate(target, fullchain, key, cert_path, key_path, configure=configure, progress=progress)
    except Exception as exc:
        session.journal("https.install", "failed", error=str(exc))
        raise
    session.journal("https.install", "done")
    return verify_installed(names, env, progress=progress, cancel=cancel)


def _record(session, mode: str, names, not_after: str, verdict: Diagnosis, **extra) -> dict:
    record = {"mode": mode, "names": list(names), "not_after": not_after, "installed": time.time(),
              "verified": verdict.status.value, "verify_summary": verdict.summary, **extra}
    session.record(RECORD, record)
    return record


def issue_and_install(session, target, env: AcmeEnvironment, *, progress: Progress = no_progress,
                      cancel: CancelToken | None = None) -> tuple[dict, Diagnosis]:
    """Mode acme-dns: staging run (once per set of names), production issuance, install, verify, record."""
    from wizard.https.ratelimit import RateLimitGuard, RecordStore

    names = domains(session.answers)
    guard = RateLimitGuard(RecordStore(session))
    if not guard.staged(names):
        progress("order", f"staging run first ({session.answers.get('https.staging_directory')})")
        issuer_for(session, env, production=False, guard=guard, progress=progress, cancel=cancel).issue(names)
        progress("order", "the staging run passed; now the production certificate")
    issued = issuer_for(session, env, production=True, guard=guard, progress=progress, cancel=cancel).issue(names)
    verdict = _install_and_verify(session, target, names, issued.fullchain_pem, issued.key_pem, env, progress,
                                  cancel)
    record = _record(session, "acme-dns", names, issued.not_after, verdict,
                     **{k: v for k, v in issued.record().items() if k not in ("names", "not_after")},
                     warnings=issued.warnings)
    return record, verdict


def install_existing(session, target, env: AcmeEnvironment, *, progress: Progress = no_progress,
                     cancel: CancelToken | None = None) -> tuple[dict, Diagnosis]:
    """Mode existing: refuse bad files (every reason listed), else install them like an issued certificate."""

    from wizard.https import certs
    from wizard.https.existing import check_existing_files

    answers = session.answers
    names = domains(answers)
    cert_path, key_path = answers.get("https.cert_path"), answers.get("https.key_path")
    problems = [d for d in check_existing_files(cert_path, key_path, names) if d.status is Status.ERROR]
    if problems:
        raise HttpsStepError("the certificate files were refused:\n" + "\n".join(f"- {d.summary}" for d in problems))
    from wizard.files import read_small

    fullchain, key = read_small(cert_path, what="certificate file"), read_small(key_path, what="key file")
    verdict = _install_and_verify(session, target, names, fullchain, key, env, progress, cancel)
    leaf = certs.load_chain(fullchain)[0]
    record = _record(session, "existing", names, leaf.not_valid_after_utc.isoformat(timespec="seconds"), verdict)
    return record, verdict


def renewal_due(record: dict | None, now: _dt.datetime | None = None) -> bool:
    """Due when the recorded renewal time (from ARI, or two thirds of the lifetime) has come."""
    if not record or not record.get("renewal_time"):
        return True
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return now >= _dt.datetime.fromisoformat(record["renewal_time"])


def renew(session, target, env: AcmeEnvironment, *, force: bool = False, progress: Progress = no_progress,
          cancel: CancelToken | None = None) -> Diagnosis:
    """Renew a certificate the wizard issued when it is due (or ``force``): production order, install, verify."""
    from wizard.https.ratelimit import RateLimitGuard, RecordStore

    record = session.record(RECORD)
    mode = session.answers.get("https.mode")
    if mode != "acme-dns" or not record or record.get("mode") != "acme-dns":
        why = {"letsencrypt": "its HTTPS mode is letsencrypt: TLJH's proxy renews that certificate itself",
               "existing": "its HTTPS mode is existing: the certificate is renewed by whoever issued it",
               "none": "HTTPS is off in its answers"}.get(str(mode), "no certificate issued by the wizard is recorded")
        return Diagnosis("https.renew", Status.ERROR, f"nothing to renew for this session: {why}",
                         fix="renew works on sessions whose certificate the wizard issued itself over DNS-01 "
                             "(https.mode: acme-dns)")
    if not force and not renewal_due(record):
        return Diagnosis("https.renew", Status.OK, f"not due: renewal time {record['renewal_time']}, "
                         f"certificate valid until {record['not_after']}", data={"renewed": False})
    names = domains(session.answers)
    guard = RateLimitGuard(RecordStore(session))
    issued = issuer_for(session, env, production=True, guard=guard, progress=progress, cancel=cancel).issue(names)
    verdict = _install_and_verify(session, target, names, issued.fullchain_pem, issued.key_pem, env, progress,
                                  cancel, configure=False)
    _record(session, "acme-dns", names, issued.not_after, verdict,
            **{k: v for k, v in issued.record().items() if k not in ("names", "not_after")},
            warnings=issued.warnings, renewed_from=record.get("not_after"))
    if verdict.status is not Status.OK:
        return Diagnosis("https.renew", Status.ERROR, f"renewed and installed, but the hub does not serve the new "
                         f"certificate: {verdict.summary}", fix=verdict.fix, data={"renewed": True})
    return Diagnosis("https.renew", Status.OK, f"renewed: valid until {issued.not_after}, next renewal "
                     f"{issued.renewal_time} ({issued.renewal_source})", data={"renewed": True})
