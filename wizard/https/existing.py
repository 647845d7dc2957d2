"""Mode "existing": the operator's own certificate chain and key, judged before anything reaches the hub.

Each problem gets its own diagnosis and message, so the operator learns exactly what to fix: a key that belongs to
another certificate, names that miss the domain, an expired or soon-expiring certificate, a missing intermediate.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from wizard.diagnosis import Diagnosis, Status

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes


#: A certificate must stay valid at least this long after installation: otherwise it is renewed first.
MIN_DAYS_LEFT = 14


def _error(check: str, summary: str, fix: str, **data: Any) -> Diagnosis:
    return Diagnosis(f"https.existing.{check}", Status.ERROR, summary, fix=fix, data=data)


def _ok(check: str, summary: str, **data: Any) -> Diagnosis:
    return Diagnosis(f"https.existing.{check}", Status.OK, summary, data=data)


def load_private_key(key_pem: bytes) -> PrivateKeyTypes:
    """The private key from PEM; raises ``PemError`` with a message a person can act on."""
    from cryptography.hazmat.primitives import serialization

    from wizard.https.certs import PemError

    if b"ENCRYPTED" in key_pem:
        raise PemError("the key is protected by a passphrase; TLJH's proxy needs it unencrypted "
                       "(openssl pkey -in KEY -out KEY.plain)")
    if b"PRIVATE KEY-----" not in key_pem:
        raise PemError("no PEM private key found (expected '-----BEGIN ... PRIVATE KEY-----')")
    try:
        return serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise PemError(f"the key file is not a valid PEM private key ({exc})") from None


def check_existing(chain_pem: bytes, key_pem: bytes, domains: Sequence[str], *,
                   now: _dt.datetime | None = None, min_days: int = MIN_DAYS_LEFT) -> list[Diagnosis]:
    """Judge a certificate chain + key for ``domains``: one diagnosis per aspect, errors for each refusal."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509 import Certificate

    from wizard.https import certs

    now = now or certs.utcnow()
    try:
        chain: list[Certificate] = certs.load_chain(chain_pem)
    except certs.PemError as exc:
        return [_error("certificate", f"certificate file refused: {exc}",
                       "give the PEM file with the server certificate first, then its intermediates")]
    try:
        key = load_private_key(key_pem)
    except certs.PemError as exc:
        return [_error("key", f"key file refused: {exc}", "give the PEM private key the certificate was issued for")]

    leaf = chain[0]
    results: list[Diagnosis] = []
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*spki) != leaf.public_key().public_bytes(*spki):
        results.append(_error("key", "the private key does not match the certificate",
                              "give the key generated together with this certificate's request (CSR)"))
    else:
        results.append(_ok("key", "the private key matches the certificate"))

    missing = certs.uncovered(leaf, domains)
    names = certs.dns_names(leaf)
    if missing:
        results.append(_error("names", f"the certificate does not cover {', '.join(missing)} "
                                       f"(it names {', '.join(names) or 'no DNS names'})",
                              "use a certificate whose subjectAltName lists every domain of the hub",
                              missing=missing, names=names))
    else:
        results.append(_ok("names", f"the certificate covers {', '.join(domains)}", names=names))

    expiry = leaf.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC")
    left = certs.days_left(leaf, now)
    if leaf.not_valid_before_utc > now:
        results.append(_error("expiry", f"the certificate is not valid yet (from "
                                        f"{leaf.not_valid_before_utc:%Y-%m-%d %H:%M} UTC)",
                              "check this machine's clock, or wait until the certificate becomes valid"))
    elif left <= 0:
        results.append(_error("expiry", f"the certificate expired on {expiry}",
                              "renew the certificate and give the new files", not_after=expiry))
    elif left < min_days:
        results.append(_error("expiry", f"the certificate expires in {left:.0f} days ({expiry}); "
                                        f"at least {min_days} are required",
                              "renew the certificate first, or let the wizard issue one (mode acme-dns)",
                              not_after=expiry, days_left=round(left, 1)))
    else:
        results.append(_ok("expiry", f"valid until {expiry} ({left:.0f} days)", not_after=expiry))

    results.append(_check_chain(chain))
    return results


def _check_chain(chain: list[x509.Certificate]) -> Diagnosis:
    from cryptography.exceptions import InvalidSignature

    from wizard.https import certs

    leaf = chain[0]
    if len(chain) == 1:
        if certs.is_self_issued(leaf):
            return _error("chain", "the certificate is self-signed: browsers will not trust it",
                          "use a certificate from a public CA (or let the wizard issue one)")
        return _error("chain", f"the intermediate certificate is missing: the file holds only the server "
                               f"certificate, issued by {certs.common_name(leaf.issuer)}",
                      "append the CA's intermediate certificate(s) after the server certificate (a 'fullchain' file)")
    for position, (cert, issuer) in enumerate(zip(chain, chain[1:]), start=1):
        try:
            cert.verify_directly_issued_by(issuer)
        except (InvalidSignature, ValueError, TypeError) as exc:
            return _error("chain", f"the chain is broken: certificate {position + 1} "
                                   f"({certs.common_name(issuer.subject)}) did not issue certificate {position} "
                                   f"({certs.common_name(cert.subject)})",
                          "order the file leaf first, then each issuer; drop certificates that do not belong",
                          reason=type(exc).__name__)
    return _ok("chain", f"chain of {len(chain)} certificates, issued by {certs.common_name(leaf.issuer)}")


def check_existing_files(cert_path: str | Path, key_path: str | Path, domains: Sequence[str],
                         **kwargs: Any) -> list[Diagnosis]:
    """``check_existing`` for files on this machine; an unreadable file is a diagnosis, not a traceback. Regular
    files of at most 1 MiB only (``wizard.files.read_small``)."""
    from wizard.files import InputFileError, read_small

    blobs = []
    for what, path in (("certificate", cert_path), ("key", key_path)):
        try:
            blobs.append(read_small(path, what=f"{what} file"))
        except InputFileError as exc:
            return [_error("certificate" if what == "certificate" else "key", str(exc),
                           f"check the path of the {what}")]
    return check_existing(blobs[0], blobs[1], domains, **kwargs)
