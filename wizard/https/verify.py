"""What a hub really serves on 443: a TLS handshake, the certificate presented, and a verdict against what we expect.

Mode letsencrypt runs twice through this: first until the *staging* certificate is served (issuer named like the
staging CA, every domain covered), then until the *production* one is (chains to a trusted root, every domain
covered). The staging marker and the trust roots are parameters, so tests use their own CAs and Pebble.
"""

from __future__ import annotations

import _ssl
import socket
import ssl
from dataclasses import dataclass, field
from typing import Sequence

from wizard.diagnosis import Diagnosis, Status
from wizard.https.progress import Backoff, CancelToken, Deadline, Progress, no_progress

#: Let's Encrypt names every staging root and intermediate "(STAGING) ...".
STAGING_MARKER = "(STAGING)"
#: Traefik serves this self-signed certificate until it has obtained one.
TRAEFIK_DEFAULT_CN = "TRAEFIK DEFAULT CERT"


class Unreachable(Exception):
    """No TLS handshake was possible (nothing listening, refused, timed out, not TLS)."""


@dataclass
class Served:
    """The certificate chain a server presented, and whether it verified against the trust roots."""

    address: str
    chain: list = field(default_factory=list)  # cryptography x509.Certificate, leaf first
    trusted: bool = False
    trust_error: str = ""

    @property
    def leaf(self):
        return self.chain[0]


def _context(cafile: str | None, verify: bool) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # names are judged separately, with a message of their own
    if verify:
        context.verify_mode = ssl.CERT_REQUIRED
        if cafile:
            context.load_verify_locations(cafile=cafile)
        else:
            context.load_default_certs()
    else:
        context.verify_mode = ssl.CERT_NONE
    return context


def _handshake(host: str, port: int, server_name: str, context: ssl.SSLContext, timeout: float) -> list:
    from cryptography import x509

    with socket.create_connection((host, port), timeout=timeout) as raw:
        with context.wrap_socket(raw, server_hostname=server_name) as tls:
            # Python < 3.13 exposes the presented chain only on the internal object; fall back to the leaf.
            getter = (getattr(tls, "get_unverified_chain", None)
                      or getattr(getattr(tls, "_sslobj", None), "get_unverified_chain", None))
            if getter is not None:
                ders = [_der(cert) for cert in getter()]
            else:
                leaf = tls.getpeercert(binary_form=True)
                ders = [leaf] if leaf else []
    return [x509.load_der_x509_certificate(der) for der in ders]


def _der(cert: bytes | _ssl.Certificate) -> bytes:
    """A presented certificate as DER: Python 3.13's ``get_unverified_chain`` gives DER already, the internal object
    of older versions gives ``_ssl.Certificate``."""
    return cert if isinstance(cert, bytes) else cert.public_bytes(_ssl.ENCODING_DER)


def fetch_served(host: str, port: int, server_name: str, *, cafile: str | None = None,
                 timeout: float = 5.0) -> Served:
    """Handshake with ``host:port`` asking for ``server_name`` (SNI); raise ``Unreachable`` when impossible."""
    address = f"{host}:{port}"
    try:
        try:
            chain = _handshake(host, port, server_name, _context(cafile, verify=True), timeout)
            return Served(address, chain, trusted=True)
        except ssl.SSLCertVerificationError as exc:
            chain = _handshake(host, port, server_name, _context(cafile, verify=False), timeout)
            return Served(address, chain, trusted=False, trust_error=exc.verify_message or str(exc))
    except ConnectionRefusedError:
        raise Unreachable(f"nothing listens on {address} (connection refused)") from None
    except socket.timeout:
        raise Unreachable(f"no answer from {address} within {timeout:g} s") from None
    except ssl.SSLError as exc:
        raise Unreachable(f"TLS handshake with {address} failed: {exc.reason or exc}") from None
    except OSError as exc:
        raise Unreachable(f"cannot connect to {address}: {exc.strerror or exc}") from None


def judge(served: Served, domains: Sequence[str], expect: str, *, staging_marker: str = STAGING_MARKER,
          now=None, leaf_sha256: str | None = None) -> Diagnosis:
    """Is ``served`` the certificate we are waiting for? ``expect`` is "staging" or "production". ``leaf_sha256``
    (hex SHA-256 of the DER leaf): the served leaf must be that very certificate (one just installed)."""
    from wizard.https import certs

    if expect not in ("staging", "production"):
        raise ValueError(f"expect must be 'staging' or 'production', not {expect!r}")
    leaf = served.leaf
    issuer = certs.common_name(leaf.issuer)
    subject = certs.common_name(leaf.subject)
    names = certs.dns_names(leaf)
    not_after = leaf.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC")
    staged = staging_marker in leaf.issuer.rfc4514_string()
    data = {"issuer": issuer, "names": names, "not_after": not_after, "trusted": served.trusted,
            "staging": staged, "expect": expect, "address": served.address}
    check = f"https.served.{expect}"

    def error(summary: str, fix: str = "") -> Diagnosis:
        return Diagnosis(check, Status.ERROR, summary, fix=fix, data=data)

    if subject == TRAEFIK_DEFAULT_CN:
        return error(f"{served.address} serves the proxy's built-in default certificate: no certificate issued yet",
                     "the proxy obtains one within a minute when port 443 is reachable from the internet")
    missing = certs.uncovered(leaf, domains)
    if missing:
        return error(f"{served.address} serves a certificate for {', '.join(names) or subject}, "
                     f"which does not cover {', '.join(missing)}",
                     "check https.letsencrypt.domains lists every domain, and that DNS points at this hub")
    if certs.days_left(leaf, now) <= 0:
        return error(f"{served.address} serves a certificate that expired on {not_after}")
    if leaf_sha256 is not None:
        from cryptography.hazmat.primitives import hashes

        if leaf.fingerprint(hashes.SHA256()).hex() != leaf_sha256.lower():
            return error(f"{served.address} still serves another certificate (issued by {issuer}, valid until "
                         f"{not_after}) than the one installed",
                         "the proxy picks up new certificate files when it is reloaded")
    if expect == "staging":
        if not staged:
            return error(f"{served.address} serves a certificate issued by {issuer}, not by the staging CA")
        return Diagnosis(check, Status.OK, f"staging certificate served for {', '.join(domains)} "
                                           f"(issued by {issuer})", data=data)
    if staged:
        return error(f"{served.address} still serves the staging certificate (issued by {issuer})",
                     "clear acme.json and reload the proxy so it requests a production certificate")
    if not served.trusted:
        return error(f"{served.address} serves a certificate from {issuer} that does not chain to a trusted root "
                     f"({served.trust_error})", "the proxy must serve the full chain from a public CA")
    return Diagnosis(check, Status.OK, f"production certificate served for {', '.join(domains)} "
                                       f"(issued by {issuer}), valid until {not_after}", data=data)


def check_served(host: str, port: int, domains: Sequence[str], expect: str, *, cafile: str | None = None,
                 staging_marker: str = STAGING_MARKER, timeout: float = 5.0,
                 leaf_sha256: str | None = None) -> Diagnosis:
    """One handshake and its verdict; an unreachable server is an error diagnosis."""
    try:
        served = fetch_served(host, port, domains[0], cafile=cafile, timeout=timeout)
    except Unreachable as exc:
        return Diagnosis(f"https.served.{expect}", Status.ERROR, str(exc),
                         fix="check the proxy runs and port 443 is open in the firewall",
                         data={"expect": expect, "address": f"{host}:{port}", "unreachable": True})
    return judge(served, domains, expect, staging_marker=staging_marker, leaf_sha256=leaf_sha256)


def wait_for_served(host: str, port: int, domains: Sequence[str], expect: str, *, cafile: str | None = None,
                    staging_marker: str = STAGING_MARKER, timeout: float = 300.0,
                    progress: Progress = no_progress, cancel: CancelToken | None = None,
                    backoff: Backoff | None = None, leaf_sha256: str | None = None) -> Diagnosis:
    """Poll until the expected certificate is served or ``timeout`` passes (then the last verdict, as an error)."""
    cancel = cancel or CancelToken()
    backoff = backoff or Backoff(first=0.5, maximum=10.0)
    deadline = Deadline(timeout)
    while True:
        cancel.check()
        verdict = check_served(host, port, domains, expect, cafile=cafile, staging_marker=staging_marker,
                               timeout=min(5.0, max(0.5, deadline.remaining)), leaf_sha256=leaf_sha256)
        if verdict.status is Status.OK:
            progress("verify", verdict.summary)
            return verdict
        if deadline.passed:
            verdict.summary = f"gave up after {timeout:g} s waiting for the {expect} certificate: {verdict.summary}"
            return verdict
        progress("verify", f"waiting for the {expect} certificate: {verdict.summary}")
        cancel.wait(min(backoff.interval(), deadline.remaining))
