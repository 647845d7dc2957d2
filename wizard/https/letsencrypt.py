"""Mode letsencrypt (the default): TLJH's own proxy (Traefik) gets the certificate with TLS-ALPN-01 on port 443.

The wizard's part is to make that safe: gate on DNS (or an explicit, recorded override) and on port 443 reaching
the hub (here: ``gate``, ``port_443_check``); then, as actions of the apply (``wizard.https.plan``), configure Let's
Encrypt's *staging* CA first and wait until the staging certificate is really served for every domain; clear
``acme.json`` (Traefik would otherwise keep serving the staging certificate); switch to production; and verify the
production certificate chains to a trusted root. The rate-limit guard refuses the production switch when the names
failed too often in the last hour.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Sequence

from wizard.diagnosis import Diagnosis, Status
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
