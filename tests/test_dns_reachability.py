"""Reachability against real local TCP/TLS/HTTP servers: closed port, firewalled port, a TLS server with a
certificate for another name, a different hub, a hub that is down, and the right answer."""

import asyncio
import datetime
import json
import socket
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.rig.bind import free_port
from wizard.diagnosis import Status
from wizard.dns.reachability import check_reachability, covers

DOMAIN = "hub.example.test"
HUB_API = {"version": "5.3.0"}


class ThrowawayCA:
    """A throw-away CA issuing server certificates for any names."""

    def __init__(self, directory):
        self.directory = directory
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Reachability Test CA")])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(self.name).issuer_name(self.name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(days=1))
                     .not_valid_after(now + datetime.timedelta(days=30))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.path = directory / "ca.pem"
        self.path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def server_context(self, names, common_name=None, days=30, self_signed=False) -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name or names[0])])
        builder = (x509.CertificateBuilder().subject_name(subject)
                   .issuer_name(subject if self_signed else self.name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(days=40))
                   .not_valid_after(now + datetime.timedelta(days=days))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False))
        cert = builder.sign(key if self_signed else self.key, hashes.SHA256())
        stem = self.directory / f"{names[0]}-{days}-{self_signed}"
        stem.with_suffix(".pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        stem.with_suffix(".key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(stem.with_suffix(".pem"), stem.with_suffix(".key"))
        return context


@pytest.fixture
def ca(tmp_path):
    return ThrowawayCA(tmp_path)


class WebServer:
    """An HTTP(S) server on 127.0.0.1 answering every request with one fixed response."""

    def __init__(self, status=200, body=b"", headers=(), tls=None):
        self.status, self.body, self.headers, self.tls = status, body, list(headers), tls
        self.requests: list[bytes] = []
        self.port = free_port()
        self.server = None

    async def _handle(self, reader, writer):
        try:
            self.requests.append(await reader.readuntil(b"\r\n\r\n"))
            head = [f"HTTP/1.0 {self.status} X", f"Content-Length: {len(self.body)}", *self.headers]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + self.body)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass  # the certificate probe hangs up right after the handshake
        finally:
            writer.close()

    async def __aenter__(self):
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, ssl=self.tls)
        return self

    async def __aexit__(self, *exc):
        self.server.close()
        await self.server.wait_closed()


def hub_answer(api):
    return json.dumps(api).encode()


@pytest.fixture
def firewalled_port():
    """A port whose accept queue is full: the kernel drops new SYNs, exactly as a firewall that drops packets."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    filler = socket.create_connection(listener.getsockname())
    yield listener.getsockname()[1]
    filler.close()
    listener.close()


def by_id(diagnoses):
    return {diagnosis.id: diagnosis for diagnosis in diagnoses}


async def test_closed_ports():
    found = by_id(await check_reachability(DOMAIN, "127.0.0.1", HUB_API, http_port=free_port(),
                                           https_port=free_port(), timeout=2))
    assert found["reach.http"].status is Status.ERROR
    assert "the hub's proxy is not running" in found["reach.http"].summary
    assert found["reach.http"].data["failure"] == "refused"
    assert found["reach.https"].status is Status.WARNING  # before the HTTPS step nothing listens on 443
    assert found["reach.tls"].status is Status.SKIPPED
    assert found["reach.hub"].status is Status.SKIPPED


async def test_closed_https_port_after_the_https_step_is_an_error():
    found = by_id(await check_reachability(DOMAIN, "127.0.0.1", HUB_API, http_port=free_port(),
                                           https_port=free_port(), timeout=2, before_https=False))
    assert found["reach.https"].status is Status.ERROR


async def test_firewalled_port_is_told_apart_from_a_closed_one(firewalled_port):
    found = by_id(await check_reachability(DOMAIN, "127.0.0.1", HUB_API, http_port=firewalled_port,
                                           https_port=free_port(), timeout=0.5))
    assert found["reach.http"].status is Status.ERROR
    assert found["reach.http"].data["failure"] == "timeout"
    assert "firewall" in found["reach.http"].summary
    assert "ufw allow" in found["reach.http"].fix


async def test_tls_server_with_a_certificate_for_another_name(ca):
    other = WebServer(body=hub_answer({"version": "4.1.6"}), tls=ca.server_context(["other.example.test"]))
    async with other:
        found = by_id(await check_reachability(DOMAIN, "127.0.0.1", HUB_API, http_port=free_port(),
                                               https_port=other.port, timeout=2, ca_file=str(ca.path)))
    assert found["reach.tls"].status is Status.ERROR
    assert found["reach.tls"].summary == f"port {other.port} serves a certificate for other.example.test, not {DOMAIN}"
    assert found["reach.tls"].data["issuer"] == "Reachability Test CA"
    assert found["reach.hub"].status is Status.ERROR
    assert "different JupyterHub" in found["reach.hub"].summary
    assert b"Host: hub.example.test" in other.requests[-1]


async def test_the_right_answer_through_the_redirect_to_https(ca):
    https = WebServer(body=hub_answer(HUB_API), tls=ca.server_context([DOMAIN]))
    async with https:
        http = WebServer(status=301, headers=[f"Location: https://{DOMAIN}/hub/api"])
        async with http:
            found = by_id(await check_reachability(DOMAIN, "127.0.0.1", HUB_API, http_port=http.port,
                                                   https_port=https.port, timeout=2, ca_file=str(ca.path)))
    assert {key: d.status for key, d in found.items()} == {
        "reach.http": Status.OK, "reach.https": Status.OK, "reach.tls": Status.OK, "reach.hub": Status.OK}
    assert found["reach.tls"].data["names"] == [DOMAIN]
    assert found["reach.tls"].summary.startswith(f"certificate for {DOMAIN} by Reachability Test CA, valid until ")
    assert found["reach.hub"].summary == f"{DOMAIN} reaches this hub (JupyterHub 5.3.0)"
    assert found["reach.hub"].data["url"] == f"https://{DOMAIN}:{https.port}/hub/api"


async def test_plain_http_hub_before_https():
    http = WebServer(body=hub_answer(HUB_API))
    async with http:
        found = by_id(await check_reachability(DOMAIN, "127.0.0.1", HUB_API, http_port=http.port,
                                               https_port=free_port(), timeout=2))
    assert found["reach.hub"].status is Status.OK
    assert found["reach.https"].status is Status.WARNING


async def test_proxy_up_but_hub_down():
    http = WebServer(status=503, body=b"Service Unavailable")
    async with http:
        found = by_id(await check_reachability(DOMAIN, "127.0.0.1", HUB_API, http_port=http.port,
                                               https_port=free_port(), timeout=2))
    assert found["reach.hub"].status is Status.ERROR
    assert "JupyterHub is not running" in found["reach.hub"].summary


async def test_a_server_that_is_not_jupyterhub():
    http = WebServer(status=404, body=b"<html>Welcome to nginx</html>", headers=["Server: nginx"])
    async with http:
        found = by_id(await check_reachability(DOMAIN, "127.0.0.1", HUB_API, http_port=http.port,
                                               https_port=free_port(), timeout=2))
    assert found["reach.hub"].status is Status.ERROR
    assert found["reach.hub"].summary == f"{DOMAIN} reaches a server that is not JupyterHub (HTTP 404, nginx)"


async def test_hub_answer_not_available_for_comparison():
    http = WebServer(body=hub_answer(HUB_API))
    async with http:
        found = by_id(await check_reachability(DOMAIN, "127.0.0.1", None, http_port=http.port,
                                               https_port=free_port(), timeout=2))
    assert found["reach.hub"].status is Status.WARNING


async def test_traefik_default_certificate(ca):
    https = WebServer(body=hub_answer(HUB_API), tls=ca.server_context(
        ["0b5c1b8c1b8e0c7e.traefik.default"], common_name="TRAEFIK DEFAULT CERT", self_signed=True))
    async with https:
        found = by_id(await check_reachability(DOMAIN, "127.0.0.1", HUB_API, http_port=free_port(),
                                               https_port=https.port, timeout=2, ca_file=str(ca.path)))
    assert found["reach.tls"].status is Status.WARNING
    assert found["reach.tls"].fix == "Run the HTTPS step."


async def test_expired_certificate(ca):
    https = WebServer(body=hub_answer(HUB_API), tls=ca.server_context([DOMAIN], days=-1))
    async with https:
        found = by_id(await check_reachability(DOMAIN, "127.0.0.1", HUB_API, http_port=free_port(),
                                               https_port=https.port, timeout=2, ca_file=str(ca.path)))
    assert found["reach.tls"].status is Status.ERROR
    assert "expired" in found["reach.tls"].summary


async def test_untrusted_certificate(ca):
    https = WebServer(body=hub_answer(HUB_API), tls=ca.server_context([DOMAIN]))
    async with https:
        found = by_id(await check_reachability(DOMAIN, "127.0.0.1", HUB_API, http_port=free_port(),
                                               https_port=https.port, timeout=2))  # the test CA not given
    assert found["reach.tls"].status is Status.WARNING
    assert found["reach.tls"].data["trusted"] is False


def test_certificate_name_matching():
    assert covers(["hub.example.test"], "HUB.example.test.")
    assert covers(["*.example.test"], "hub.example.test")
    assert not covers(["*.example.test"], "a.hub.example.test")
    assert not covers(["*.example.test"], "example.test")
    assert not covers(["other.example.test"], "hub.example.test")


async def test_https_port_that_does_not_speak_tls():
    plain = WebServer(body=hub_answer(HUB_API))
    async with plain:
        found = by_id(await check_reachability(DOMAIN, "127.0.0.1", HUB_API, http_port=free_port(),
                                               https_port=plain.port, timeout=2))
    assert found["reach.tls"].status is Status.ERROR
    assert found["reach.tls"].summary == f"port {plain.port} answers but not with TLS for {DOMAIN}"


async def test_compared_with_the_hubs_own_answer_fetched_through_the_hub_target():
    from wizard.dns.reachability import hub_own_answer
    from wizard.hub.local import LocalTarget

    public = WebServer(body=hub_answer(HUB_API))
    on_hub = WebServer(body=hub_answer(HUB_API))
    async with public, on_hub:
        with LocalTarget() as target:
            own = await asyncio.to_thread(hub_own_answer, target, f"http://127.0.0.1:{on_hub.port}/hub/api")
            nothing = await asyncio.to_thread(hub_own_answer, target, f"http://127.0.0.1:{free_port()}/hub/api", 2)
        found = by_id(await check_reachability(DOMAIN, "127.0.0.1", own, http_port=public.port,
                                               https_port=free_port(), timeout=2))
    assert own == HUB_API
    assert nothing is None
    assert found["reach.hub"].status is Status.OK
