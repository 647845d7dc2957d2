"""Mode letsencrypt (the default): TLJH's own proxy (Traefik) gets the certificate with TLS-ALPN-01 on port 443.

The wizard's part is to make that safe: gate on DNS (or an explicit, recorded override) and on port 443 reaching
the hub; configure Let's Encrypt's *staging* CA first and wait until the staging certificate is really served for
every domain; back up and clear ``acme.json`` (Traefik would otherwise keep serving the staging certificate); switch
to production; and verify the production certificate chains to a trusted root — reporting its expiry. The rate-limit
guard refuses the production switch when the names failed too often in the last hour.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Sequence

from wizard.diagnosis import Diagnosis, Status, worst
from wizard.https.progress import CancelToken, Progress, no_progress
from wizard.https.verify import STAGING_MARKER


@dataclass
class LetsEncryptEnvironment:
    """Where to look and what to trust. Defaults: DOMAIN:443, the system's roots, Let's Encrypt's staging names."""

    trust_roots: str | None = None
    staging_marker: str = STAGING_MARKER
    verify_address: tuple[str, int] | None = None
    staging_timeout: float = 300.0
    production_timeout: float = 300.0
    reload_timeout: float = 300.0
    port_timeout: float = 5.0


def _address(names: Sequence[str], env: LetsEncryptEnvironment) -> tuple[str, int]:
    return env.verify_address or (names[0], 443)


def port_443_check(host: str, port: int, timeout: float) -> Diagnosis:
    """Does a TCP connection reach the hub? Refused still proves packets arrive; silence means a firewall drops them."""
    check = "https.port443"
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return Diagnosis(check, Status.OK, f"{host}:{port} accepts connections")
    except ConnectionRefusedError:
        return Diagnosis(check, Status.OK, f"{host}:{port} reaches the hub (nothing listens there yet, which is "
                                           "expected before HTTPS is switched on)")
    except socket.timeout:
        return Diagnosis(check, Status.ERROR, f"no answer from {host}:{port} within {timeout:g} s: a firewall "
                         "seems to drop it", fix="open TCP port 443 to the internet in the VM's firewall / security "
                         "group: Let's Encrypt validates through it (or use mode acme-dns)")
    except OSError as exc:
        return Diagnosis(check, Status.ERROR, f"cannot reach {host}:{port}: {exc.strerror or exc}",
                         fix="check the domain resolves to the hub and port 443 is open")


def gate(session, dns_diagnoses: Sequence[Diagnosis], env: LetsEncryptEnvironment) -> list[Diagnosis]:
    """The preconditions for asking Let's Encrypt: DNS passes (or an explicit override, recorded), 443 reachable."""
    return gate_findings(session.answers, dns_diagnoses, env, journal=session.journal)


def gate_findings(answers, dns_diagnoses: Sequence[Diagnosis], env: LetsEncryptEnvironment, *,
                  journal=None) -> list[Diagnosis]:
    """``gate`` for ``answers``; ``journal(action, phase, **details)`` records a used DNS override (when given)."""
    from wizard.tljh.config import certificate_domains

    names = certificate_domains(answers)
    failing = [d for d in dns_diagnoses if d.status is Status.ERROR]
    if not dns_diagnoses:
        dns = Diagnosis("https.gate.dns", Status.ERROR, "the DNS check has not run", fix="run the Domain & DNS step")
    elif not failing:
        dns = Diagnosis("https.gate.dns", Status.OK, "the DNS check passes")
    elif answers.get("https.dns_override"):
        if journal is not None:
            journal("https.dns_override", "used", failing=[d.id for d in failing])
        dns = Diagnosis("https.gate.dns", Status.WARNING, f"the DNS check fails ({', '.join(d.id for d in failing)}) "
                        "but the override is set: proceeding, recorded in the session")
    else:
        dns = Diagnosis("https.gate.dns", Status.ERROR, f"the DNS check fails ({', '.join(d.id for d in failing)}): "
                        "Let's Encrypt would fail too and count it against the rate limit",
                        fix="fix DNS first (see the Domain & DNS step), or set https.dns_override if you know better")
    host, port = _address(names, env)
    return [dns, port_443_check(host, port, env.port_timeout)]


def _tljh(target, *args: str, what: str, timeout: float = 60.0) -> None:
    from wizard.https.install import InstallError

    result = target.run([target.tljh_config, *args], sudo=True, timeout=timeout)
    if not result.ok:
        detail = (result.stderr or result.stdout).decode("utf-8", "replace").strip()
        raise InstallError(f"{what} failed (exit {result.exit_status}): {detail}")


def configure(target, email: str, names: Sequence[str], staging: bool) -> None:
    """Point TLJH's proxy at Let's Encrypt (the domains as a YAML list — a plain string is the classic mistake)."""
    from wizard.https.install import set_https

    set_https(target, {"enabled": True, "letsencrypt": {"email": email, "domains": list(names),
                                                        "staging": bool(staging)}}, remove=("tls",))


def apply(target, env: LetsEncryptEnvironment, progress: Progress) -> None:
    """Reload the proxy, then the hub (TLJH's order after any https change)."""
    for component in ("proxy", "hub"):
        progress("install", f"reloading the {component}")
        _tljh(target, "reload", component, what=f"tljh-config reload {component}", timeout=env.reload_timeout)


def backup_and_clear_acme(target, progress: Progress) -> str | None:
    """Keep a copy of ``acme.json`` beside it (0600) and empty it, so Traefik asks the production CA afresh."""
    path = f"{target.prefix}/state/acme.json"
    try:
        content = target.read_file(path)
    except FileNotFoundError:
        progress("install", "no acme.json yet: nothing to clear")
        return None
    backup = f"{path}.staging-{time.strftime('%Y%m%d-%H%M%S')}"
    target.write_file(backup, content, mode=0o600, owner="root:root")
    target.write_file(path, b"", mode=0o600, owner="root:root")
    progress("install", f"acme.json backed up to {backup} and cleared")
    return backup


def run_letsencrypt(session, target, dns_diagnoses: Sequence[Diagnosis], env: LetsEncryptEnvironment, *,
                    progress: Progress = no_progress, cancel: CancelToken | None = None) -> list[Diagnosis]:
    """The whole mode: gate, staging, verify, clear, production, verify. Returns every diagnosis on the way; the
    last one is the outcome."""
    from wizard.https.ratelimit import RateLimitGuard, RateLimitRefused, RecordStore
    from wizard.https.verify import wait_for_served
    from wizard.tljh.config import certificate_domains

    cancel = cancel or CancelToken()
    answers = session.answers
    names = certificate_domains(answers)
    results = gate(session, dns_diagnoses, env)
    if worst(results) is Status.ERROR:
        return results
    host, port = _address(names, env)
    guard = RateLimitGuard(RecordStore(session))

    progress("order", f"asking TLJH's proxy for a staging certificate for {', '.join(names)}")
    configure(target, answers.get("https.email"), names, staging=True)
    apply(target, env, progress)
    staged = wait_for_served(host, port, names, "staging", cafile=env.trust_roots, staging_marker=env.staging_marker,
                             timeout=env.staging_timeout, progress=progress, cancel=cancel)
    results.append(staged)
    if staged.status is not Status.OK:
        return results
    guard.record(names, production=False, passed=True)
    try:
        guard.check_order(names, production=True)
    except RateLimitRefused as exc:
        results.append(Diagnosis("https.ratelimit", Status.ERROR, str(exc)))
        return results

    cancel.check()
    backup = backup_and_clear_acme(target, progress)
    session.journal("https.acme_json", "cleared", backup=backup)
    progress("order", "switching TLJH's proxy to the production CA")
    configure(target, answers.get("https.email"), names, staging=False)
    apply(target, env, progress)
    produced = wait_for_served(host, port, names, "production", cafile=env.trust_roots,
                               staging_marker=env.staging_marker, timeout=env.production_timeout,
                               progress=progress, cancel=cancel)
    results.append(produced)
    if produced.status is not Status.OK:
        guard.record(names, production=True, passed=False)
    session.record("https.certificate", {"mode": "letsencrypt", "names": names, "installed": time.time(),
                                         "not_after": produced.data.get("not_after"),
                                         "issuer": produced.data.get("issuer"), "verified": produced.status.value,
                                         "verify_summary": produced.summary})
    return results
