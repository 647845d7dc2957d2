"""Pebble on loopback: Let's Encrypt's ACME test server, resolving names through the test BIND.

``pebble`` (session-scoped fixture, needs ``bind_server``) -> ``PebbleFixture``:

- ``directory_url`` — ``https://127.0.0.1:PORT/dir``, the ACME directory;
- ``ca_cert_path`` — PEM of the CA that signed Pebble's *listener* certificate: pass it as ``verify_ssl`` to
  ``acme.client.ClientNetwork`` (or ``verify=`` to requests, ``cafile=`` to ``ssl.create_default_context``);
- ``management_url`` — ``https://127.0.0.1:MGMT``; ``root_pem()`` / ``intermediate_pem()`` fetch the CA that signs
  *issued* certificates (regenerated on every start, so fetch it, never cache it across runs);
- ``http_port`` / ``tls_port`` — where Pebble's validator connects for HTTP-01 / TLS-ALPN-01 challenges (on the
  address the challenged name resolves to in BIND: add ``A 127.0.0.1`` for it, and note Pebble prefers AAAA and
  does not fall back to IPv4);
- ``dns_address`` — the ``bind_server`` it resolves through (``-dnsserver``).

Pebble runs with ``PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0`` and without
``PEBBLE_VA_ALWAYS_VALID``: validations are real, deterministic and immediate. Pebble ignores CAA.

``PebbleServer(workdir, dns_address)`` is the process itself (``start()``/``stop()``, context manager) for tests that
need one of their own; a start failure raises ``PebbleStartError`` carrying Pebble's output.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import shutil
import ssl
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests.rig.bind import free_port
from tests.rig.process import read_log, start_logged, stop_process, wait_until_ready

PEBBLE = shutil.which("pebble") or "/usr/bin/pebble"
START_DEADLINE = 20.0


class PebbleStartError(RuntimeError):
    """Pebble did not come up; the message carries its output."""


def write_listener_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a certificate for 127.0.0.1, ::1 and localhost signed by it: (ca, cert, key) paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tljh-wizard test listener CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = directory / "listener-ca.pem", directory / "listener.pem", directory / "listener.key"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return ca_path, cert_path, key_path


class PebbleServer:
    """One ``pebble`` child process with fresh listener certificates and its own ports."""

    def __init__(self, workdir: Path, dns_address: str):
        self.workdir = Path(workdir)
        self.dns_address = dns_address
        self.port = free_port()
        self.management_port = free_port()
        self.http_port = free_port()
        self.tls_port = free_port()
        self.process: subprocess.Popen | None = None
        self.output_path = self.workdir / "pebble.log"
        self.ca_cert_path = self.workdir / "listener-ca.pem"

    @property
    def directory_url(self) -> str:
        return f"https://127.0.0.1:{self.port}/dir"

    @property
    def management_url(self) -> str:
        return f"https://127.0.0.1:{self.management_port}"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_cert_path))

    def start(self) -> "PebbleServer":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ca_cert_path, cert_path, key_path = write_listener_certificates(self.workdir)
        config = self.workdir / "pebble-config.json"
        config.write_text(json.dumps({"pebble": {
            "listenAddress": f"127.0.0.1:{self.port}",
            "managementListenAddress": f"127.0.0.1:{self.management_port}",
            "certificate": str(cert_path),
            "privateKey": str(key_path),
            "httpPort": self.http_port,
            "tlsPort": self.tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }}, indent=2))
        env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0", PEBBLE_AUTHZREUSE="0")
        env.pop("PEBBLE_VA_ALWAYS_VALID", None)
        self.process = start_logged([PEBBLE, "-config", str(config), "-dnsserver", self.dns_address],
                                    self.output_path, cwd=self.workdir, env=env)
        try:
            # A refused connection returns at once; pause briefly before the next probe.
            wait_until_ready(self.process, self._serves_its_directory(), name="pebble", seconds=START_DEADLINE,
                             pause=0.05, log_path=self.output_path, error=PebbleStartError)
        except BaseException:
            self.stop()
            raise
        return self

    def _serves_its_directory(self) -> Callable[[], bool]:
        """A readiness probe: True once the ACME directory answers over TLS with its newAccount URL."""
        context = self.ssl_context()

        def ready() -> bool:
            try:
                with urllib.request.urlopen(self.directory_url, context=context, timeout=1) as reply:
                    return "newAccount" in json.load(reply)
            except (urllib.error.URLError, OSError, ValueError):
                return False

        return ready

    def output(self) -> str:
        return read_log(self.output_path)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
        self.process = None

    def __enter__(self) -> "PebbleServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass
class PebbleFixture:
    server: PebbleServer

    @property
    def directory_url(self) -> str:
        return self.server.directory_url

    @property
    def ca_cert_path(self) -> Path:
        return self.server.ca_cert_path

    @property
    def management_url(self) -> str:
        return self.server.management_url

    @property
    def http_port(self) -> int:
        return self.server.http_port

    @property
    def tls_port(self) -> int:
        return self.server.tls_port

    @property
    def dns_address(self) -> str:
        return self.server.dns_address

    def _management_get(self, path: str) -> str:
        with urllib.request.urlopen(self.management_url + path, context=self.server.ssl_context(),
                                    timeout=5) as reply:
            return reply.read().decode()

    def root_pem(self) -> str:
        """The root that signs the certificates Pebble issues (new on every Pebble start)."""
        return self._management_get("/roots/0")

    def intermediate_pem(self) -> str:
        return self._management_get("/intermediates/0")


@pytest.fixture(scope="session")
def pebble(bind_server, tmp_path_factory) -> Iterator[PebbleFixture]:
    with PebbleServer(tmp_path_factory.mktemp("pebble"), bind_server.address) as server:
        yield PebbleFixture(server)
