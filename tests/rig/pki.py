"""A small test PKI for the HTTPS tests: CAs, intermediates and leaf certificates made with cryptography, and a TLS
server on loopback presenting a chain (``TLSServer``). ``tests/test_https_pki.py`` pins the properties the tests rely
on."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NOW = dt.datetime.now(dt.timezone.utc)


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@dataclass
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def cert_pem(self) -> bytes:
        return pem(self.cert)

    @property
    def key_pem(self) -> bytes:
        return key_pem(self.key)


def _build(subject: str, issuer: Issued | None, key, *, ca: bool, names=(), not_before=None, not_after=None):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (x509.CertificateBuilder()
               .subject_name(name)
               .issuer_name(issuer.cert.subject if issuer else name)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(not_before or NOW - dt.timedelta(days=1))
               .not_valid_after(not_after or NOW + dt.timedelta(days=90))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                                        critical=True)
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                                        critical=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                                        critical=False)
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
    return builder.sign(issuer.key if issuer else key, hashes.SHA256())


class TestPKI:
    """A root and an intermediate CA with a given naming (e.g. '(STAGING) Test'), issuing leaf certificates."""

    __test__ = False  # not a pytest class

    def __init__(self, label: str = "Test") -> None:
        root_key = ec.generate_private_key(ec.SECP256R1())
        self.root = Issued(_build(f"{label} Root X1", None, root_key, ca=True), root_key)
        inter_key = ec.generate_private_key(ec.SECP256R1())
        self.intermediate = Issued(_build(f"{label} Intermediate E1", self.root, inter_key, ca=True), inter_key)

    def leaf(self, *names: str, not_before=None, not_after=None) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _build(names[0] if names else "no-name", self.intermediate, key, ca=False, names=names,
                      not_before=not_before, not_after=not_after)
        return Issued(cert, key)

    def fullchain(self, leaf: Issued) -> bytes:
        return leaf.cert_pem + self.intermediate.cert_pem

    @property
    def root_pem(self) -> bytes:
        return self.root.cert_pem


class TLSServer:
    """A TLS server on 127.0.0.1 completing handshakes with the chain it is given (``use``), or with the files a
    ``loader`` names at each connection (a stand-in for Traefik serving ``https.tls.cert/key``)."""

    def __init__(self, tmp_path, loader=None) -> None:
        self.tmp_path = tmp_path
        self.loader = loader
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.context: ssl.SSLContext | None = None
        self.served = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def use(self, chain_pem: bytes, key_pem: bytes) -> "TLSServer":
        index = self.served
        (self.tmp_path / f"chain{index}.pem").write_bytes(chain_pem)
        (self.tmp_path / f"key{index}.pem").write_bytes(key_pem)
        self.context = self._context(self.tmp_path / f"chain{index}.pem", self.tmp_path / f"key{index}.pem")
        return self

    @staticmethod
    def _context(chain_path, key_path) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(chain_path, key_path)
        return context

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.served += 1
            try:
                context = self._context(*self.loader()) if self.loader else self.context
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)  # until the client closes
            except (OSError, ssl.SSLError):  # also: no certificate installed yet -> the client sees a reset
                conn.close()

    def close(self) -> None:
        self.listener.close()


def chain_to(root_pem: str, fullchain: bytes, name: str) -> list[x509.Certificate]:
    """The path from ``fullchain``'s leaf to the root ``root_pem`` that cryptography's verifier builds for a server
    named ``name`` (leaf first); raises ``VerificationError`` when there is none."""
    from cryptography.x509 import verification

    chain = x509.load_pem_x509_certificates(fullchain)
    root = x509.load_pem_x509_certificate(root_pem.encode())
    verifier = verification.PolicyBuilder().store(verification.Store([root])).build_server_verifier(x509.DNSName(name))
    return verifier.verify(chain[0], chain[1:])
