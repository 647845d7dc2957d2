"""Mode letsencrypt's orchestration on the sshd hub, with a stand-in for TLJH's Traefik (which cannot run here).

The stand-in behaves as Traefik does with TLJH's settings: the built-in default certificate until HTTPS is on; a
certificate from the "(STAGING)" test CA while ``https.letsencrypt.staging`` is true, remembered in ``acme.json``;
and — the classic trap — it keeps serving that staging certificate after the switch to production until acme.json
is cleared. Only then does it serve the production-like CA's certificate.
"""

from __future__ import annotations

import itertools
import json
import socket

import pytest

from tests.rig.pki import TestPKI, TLSServer
from tests.support.hubs import hub_target
from wizard import yamlio
from wizard.diagnosis import Diagnosis, Status
from wizard.https.letsencrypt import LetsEncryptEnvironment, run_letsencrypt
from wizard.https.ratelimit import RateLimitGuard, RecordStore
from wizard.hub import sandbox
from wizard.session import Session

_serial = itertools.count(1)
DNS_OK = [Diagnosis("dns.a", Status.OK, "A record points at the hub")]
DNS_FAILING = [Diagnosis("dns.aaaa", Status.ERROR, "a stale AAAA record points elsewhere")]


class TraefikStandIn:
    """Chooses the certificate to serve from config.yaml and acme.json, like Traefik with TLJH's settings."""

    def __init__(self, prefix, tmp_path, wrong_names=False):
        self.prefix, self.tmp_path, self.wrong_names = prefix, tmp_path, wrong_names
        self.cas = {"staging": TestPKI("(STAGING) Test"), "production": TestPKI("Test Production"),
                    "default": TestPKI("Traefik")}
        self.files = {}
        self.server = TLSServer(tmp_path, loader=self.choose)

    def _files(self, stage, names):
        key = (stage, tuple(names))
        if key not in self.files:
            pki = self.cas[stage]
            leaf = pki.leaf(*names)
            chain, private = self.tmp_path / f"{stage}-{len(self.files)}.pem", self.tmp_path / f"k{len(self.files)}.pem"
            chain.write_bytes(pki.fullchain(leaf))
            private.write_bytes(leaf.key_pem)
            self.files[key] = (chain, private)
        return self.files[key]

    def choose(self):
        config = yamlio.loads((self.prefix / "config" / "config.yaml").read_text()) or {}
        https = config.get("https") or {}
        letsencrypt = https.get("letsencrypt") or {}
        acme = self.prefix / "state" / "acme.json"
        if not https.get("enabled") or not isinstance(letsencrypt.get("domains"), list):
            return self._files("default", ["TRAEFIK DEFAULT CERT"])
        names = ["wrong.wizard.test"] if self.wrong_names else letsencrypt["domains"]
        stored = json.loads(acme.read_text() or "{}") if acme.exists() else {}
        if not stored:
            stage = "staging" if letsencrypt.get("staging") else "production"
            acme.write_text(json.dumps({"stage": stage}))
            acme.chmod(0o600)
            stored = {"stage": stage}
        return self._files(stored["stage"], names)


@pytest.fixture
def traefik(sshd_hub, tmp_path):
    standin = TraefikStandIn(sshd_hub.prefix, tmp_path)
    yield standin
    standin.server.close()


@pytest.fixture
def session(sshd_hub):
    n = next(_serial)
    with Session.open(f"le{n}@127.0.0.1:{sshd_hub.port}") as opened:
        for key, value in {"connection.host": "127.0.0.1", "connection.tljh_prefix": str(sshd_hub.prefix),
                           "domain.name": f"le{n}.wizard.test", "https.mode": "letsencrypt",
                           "https.email": "admin@wizard.test", "https.extra_domains": [f"www.le{n}.wizard.test"]
                           }.items():
            opened.accept(key, value)
        yield opened


def environment(traefik, tmp_path, **overrides):
    roots = tmp_path / "roots.pem"
    roots.write_bytes(traefik.cas["production"].root_pem)
    settings = dict(trust_roots=str(roots), verify_address=("127.0.0.1", traefik.server.port), staging_timeout=30,
                    production_timeout=30)
    settings.update(overrides)
    return LetsEncryptEnvironment(**settings)


def test_staging_then_cleared_acme_json_then_production(session, sshd_hub, traefik, tmp_path):
    messages = []
    with hub_target(sshd_hub) as target:
        results = run_letsencrypt(session, target, DNS_OK, environment(traefik, tmp_path),
                                  progress=lambda phase, message: messages.append(message))
    outcome = results[-1]
    assert [d.status for d in results] == [Status.OK] * 4, [d.summary for d in results]
    assert [d.id for d in results] == ["https.gate.dns", "https.port443", "https.served.staging",
                                       "https.served.production"]
    assert results[2].data["issuer"] == "(STAGING) Test Intermediate E1"
    assert outcome.data["issuer"] == "Test Production Intermediate E1" and outcome.data["trusted"] is True
    assert f"valid until {outcome.data['not_after']}" in outcome.summary
    config = yamlio.loads((sshd_hub.prefix / "config" / "config.yaml").read_text())
    names = [session.answers.get("domain.name"), f"www.{session.answers.get('domain.name')}"]
    assert config["https"] == {"enabled": True, "letsencrypt": {"email": "admin@wizard.test", "domains": names,
                                                                "staging": False}}
    # acme.json was backed up (holding the staging state) before being cleared
    backups = list((sshd_hub.prefix / "state").glob("acme.json.staging-*"))
    assert len(backups) == 1 and json.loads(backups[0].read_text()) == {"stage": "staging"}
    assert oct(backups[0].stat().st_mode & 0o777) == "0o600"
    assert [r["component"] for r in sandbox.reloads(sshd_hub.prefix)] == ["proxy", "hub", "proxy", "hub"]
    assert session.record("https.certificate")["verified"] == "ok"
    assert RateLimitGuard(RecordStore(session)).staged(names)
    assert any("acme.json backed up" in m for m in messages)


def test_a_failing_dns_check_stops_before_anything_changes(session, sshd_hub, traefik, tmp_path):
    before = (sshd_hub.prefix / "config" / "config.yaml").read_text()
    with hub_target(sshd_hub) as target:
        results = run_letsencrypt(session, target, DNS_FAILING, environment(traefik, tmp_path))
    assert results[0].status is Status.ERROR and "the DNS check fails (dns.aaaa)" in results[0].summary
    assert (sshd_hub.prefix / "config" / "config.yaml").read_text() == before
    assert sandbox.reloads(sshd_hub.prefix) == []


def test_the_dns_override_is_explicit_and_recorded(session, sshd_hub, traefik, tmp_path):
    session.accept("https.dns_override", True)
    with hub_target(sshd_hub) as target:
        results = run_letsencrypt(session, target, DNS_FAILING, environment(traefik, tmp_path))
    assert results[0].status is Status.WARNING and results[-1].status is Status.OK
    assert [e for e in session.state["journal"] if e["action"] == "https.dns_override"][0]["failing"] == ["dns.aaaa"]


def test_port_443_with_nothing_listening_counts_as_reachable(session, sshd_hub, traefik, tmp_path):
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    from wizard.https.letsencrypt import port_443_check

    verdict = port_443_check("127.0.0.1", port, 2)
    assert verdict.status is Status.OK and "nothing listens there yet" in verdict.summary


def test_a_staging_certificate_for_the_wrong_names_times_out_with_a_diagnosis(session, sshd_hub, tmp_path):
    traefik = TraefikStandIn(sshd_hub.prefix, tmp_path, wrong_names=True)
    try:
        with hub_target(sshd_hub) as target:
            results = run_letsencrypt(session, target, DNS_OK, environment(traefik, tmp_path, staging_timeout=0))
    finally:
        traefik.server.close()
    outcome = results[-1]
    assert outcome.id == "https.served.staging" and outcome.status is Status.ERROR
    assert outcome.summary.startswith("gave up after 0 s waiting for the staging certificate: ")
    assert "does not cover" in outcome.summary
    # production was never configured
    config = yamlio.loads((sshd_hub.prefix / "config" / "config.yaml").read_text())
    assert config["https"]["letsencrypt"]["staging"] is True


def test_three_failed_production_runs_within_the_hour_refuse_the_fourth(session, sshd_hub, traefik, tmp_path):
    names = [session.answers.get("domain.name"), f"www.{session.answers.get('domain.name')}"]
    guard = RateLimitGuard(RecordStore(session))
    for _ in range(3):
        guard.record(names, production=True, passed=False)
    with hub_target(sshd_hub) as target:
        results = run_letsencrypt(session, target, DNS_OK, environment(traefik, tmp_path))
    assert results[-1].id == "https.ratelimit" and results[-1].status is Status.ERROR
    assert "3 failed validations" in results[-1].summary
    config = yamlio.loads((sshd_hub.prefix / "config" / "config.yaml").read_text())
    assert config["https"]["letsencrypt"]["staging"] is True  # never switched to production
