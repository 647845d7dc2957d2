"""Certificate facts shared by every HTTPS mode: parsing PEM chains, the names a certificate covers, expiry."""

from __future__ import annotations

import datetime as _dt
from typing import Iterable, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID


class PemError(ValueError):
    """A file that should hold PEM certificates or a key does not."""


def load_chain(pem: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle, in file order (leaf first for a well-formed fullchain)."""
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        raise PemError("no PEM certificate found (expected '-----BEGIN CERTIFICATE-----')")
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise PemError(f"the certificate file is not valid PEM ({exc})") from None


def dump_chain(chain: Iterable[x509.Certificate]) -> bytes:
    return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in chain)


def dns_names(cert: x509.Certificate) -> list[str]:
    """The DNS names in the subjectAltName extension (what browsers check; the subject CN is ignored by them)."""
    try:
        extension = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return [name.lower().rstrip(".") for name in extension.value.get_values_for_type(x509.DNSName)]


def name_matches(pattern: str, domain: str) -> bool:
    """RFC 6125 matching: exact, or a wildcard standing for exactly one left-most label."""
    pattern, domain = pattern.lower().rstrip("."), domain.lower().rstrip(".")
    if pattern == domain:
        return True
    if pattern.startswith("*."):
        head, _, rest = domain.partition(".")
        return bool(head) and rest == pattern[2:]
    return False


def uncovered(cert: x509.Certificate, domains: Sequence[str]) -> list[str]:
    """The domains the certificate does not cover."""
    names = dns_names(cert)
    return [domain for domain in domains if not any(name_matches(name, domain) for name in names)]


def common_name(name: x509.Name) -> str:
    """The CN of a distinguished name, or its full RFC 4514 string when it has none."""
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else name.rfc4514_string()


def utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def days_left(cert: x509.Certificate, now: _dt.datetime | None = None) -> float:
    return (cert.not_valid_after_utc - (now or utcnow())).total_seconds() / 86400


def is_self_issued(cert: x509.Certificate) -> bool:
    return cert.issuer == cert.subject
