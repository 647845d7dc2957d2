"""Mode letsencrypt's verification against real TLS servers on loopback (Python ssl servers with test CAs)."""

from __future__ import annotations

import socket

import pytest

from tests.rig.pki import TestPKI, TLSServer
from wizard.diagnosis import Status
from wizard.https.progress import Backoff, Cancelled, CancelToken
from wizard.https.verify import Unreachable, check_served, fetch_served, wait_for_served

DOMAIN = "hub.example.test"


@pytest.fixture
def server(tmp_path):
    srv = TLSServer(tmp_path)
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def staging():
    return TestPKI("(STAGING) Test")


@pytest.fixture(scope="module")
def production():
    return TestPKI("Test Production")


@pytest.fixture
def trust(tmp_path, production):
    path = tmp_path / "roots.pem"
    path.write_bytes(production.root_pem)
    return str(path)


def serve(server, pki, *names, chain=True):
    leaf = pki.leaf(*names)
    return server.use(pki.fullchain(leaf) if chain else leaf.cert_pem, leaf.key_pem)


def test_the_staging_certificate_is_recognised(server, staging, trust):
    serve(server, staging, DOMAIN, "www.example.test")
    verdict = check_served("127.0.0.1", server.port, [DOMAIN, "www.example.test"], "staging", cafile=trust)
    assert verdict.status is Status.OK, verdict.summary
    assert verdict.data["issuer"] == "(STAGING) Test Intermediate E1"
    assert verdict.data["staging"] is True and verdict.data["trusted"] is False


def test_the_production_certificate_chains_to_the_trusted_root(server, production, trust):
    serve(server, production, DOMAIN)
    verdict = check_served("127.0.0.1", server.port, [DOMAIN], "production", cafile=trust)
    assert verdict.status is Status.OK, verdict.summary
    assert verdict.data["trusted"] is True
    assert f"valid until {verdict.data['not_after']}" in verdict.summary


def test_fetch_reads_the_whole_presented_chain(server, production, trust):
    serve(server, production, DOMAIN)
    served = fetch_served("127.0.0.1", server.port, DOMAIN, cafile=trust)
    assert [c.subject.rfc4514_string() for c in served.chain] == [f"CN={DOMAIN}", "CN=Test Production Intermediate E1"]


def test_a_staging_certificate_is_not_taken_for_production(server, staging, trust):
    serve(server, staging, DOMAIN)
    verdict = check_served("127.0.0.1", server.port, [DOMAIN], "production", cafile=trust)
    assert verdict.status is Status.ERROR
    assert "still serves the staging certificate (issued by (STAGING) Test Intermediate E1)" in verdict.summary


def test_a_production_certificate_is_not_taken_for_staging(server, production, trust):
    serve(server, production, DOMAIN)
    verdict = check_served("127.0.0.1", server.port, [DOMAIN], "staging", cafile=trust)
    assert verdict.status is Status.ERROR
    assert "issued by Test Production Intermediate E1, not by the staging CA" in verdict.summary


def test_the_wrong_name_is_refused(server, production, trust):
    serve(server, production, "other.example.test")
    for expect in ("staging", "production"):
        verdict = check_served("127.0.0.1", server.port, [DOMAIN], expect, cafile=trust)
        assert verdict.status is Status.ERROR
        assert "serves a certificate for other.example.test, which does not cover hub.example.test" in verdict.summary


def test_a_second_domain_missing_is_refused(server, staging, trust):
    serve(server, staging, DOMAIN)
    verdict = check_served("127.0.0.1", server.port, [DOMAIN, "www.example.test"], "staging", cafile=trust)
    assert verdict.status is Status.ERROR and "does not cover www.example.test" in verdict.summary


def test_a_chain_without_the_intermediate_is_not_trusted(server, production, trust):
    serve(server, production, DOMAIN, chain=False)
    verdict = check_served("127.0.0.1", server.port, [DOMAIN], "production", cafile=trust)
    assert verdict.status is Status.ERROR
    assert "does not chain to a trusted root" in verdict.summary


def test_the_proxy_default_certificate_means_not_issued_yet(server, trust):
    serve(server, TestPKI("Traefik"), "TRAEFIK DEFAULT CERT")
    verdict = check_served("127.0.0.1", server.port, [DOMAIN], "staging", cafile=trust)
    assert verdict.status is Status.ERROR
    assert "built-in default certificate: no certificate issued yet" in verdict.summary


def test_nothing_listening_is_unreachable(trust):
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    verdict = check_served("127.0.0.1", port, [DOMAIN], "production", cafile=trust)
    assert verdict.status is Status.ERROR and verdict.data["unreachable"] is True
    assert verdict.summary == f"nothing listens on 127.0.0.1:{port} (connection refused)"
    with pytest.raises(Unreachable):
        fetch_served("127.0.0.1", port, DOMAIN)


def test_waiting_ends_when_the_staging_certificate_appears(server, staging, trust):
    serve(server, TestPKI("Traefik"), "TRAEFIK DEFAULT CERT")
    seen = []

    def progress(phase, message):
        seen.append((phase, message))
        if len(seen) == 2:  # the proxy obtains its certificate while we wait
            serve(server, staging, DOMAIN)

    verdict = wait_for_served("127.0.0.1", server.port, [DOMAIN], "staging", cafile=trust, timeout=60,
                              progress=progress, backoff=Backoff(first=0.01))
    assert verdict.status is Status.OK
    assert [phase for phase, _ in seen] == ["verify", "verify", "verify"]
    assert "default certificate" in seen[0][1] and seen[-1][1].startswith("staging certificate served")


def test_waiting_gives_up_with_the_last_verdict(server, production, trust):
    serve(server, production, "other.example.test")
    verdict = wait_for_served("127.0.0.1", server.port, [DOMAIN], "production", cafile=trust, timeout=0)
    assert verdict.status is Status.ERROR
    assert verdict.summary.startswith("gave up after 0 s waiting for the production certificate: ")
    assert "does not cover hub.example.test" in verdict.summary


def test_waiting_can_be_cancelled(server, production, trust):
    serve(server, production, "other.example.test")
    cancel = CancelToken()
    with pytest.raises(Cancelled):
        wait_for_served("127.0.0.1", server.port, [DOMAIN], "production", cafile=trust, timeout=60,
                        cancel=cancel, progress=lambda phase, message: cancel.cancel())
