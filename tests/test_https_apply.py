"""`tljh-wizard apply ANSWERS --yes` with each HTTPS mode on the rig: the certificate work is part of the apply.

- letsencrypt: a stand-in for TLJH's Traefik orders from two Pebble servers (one plays Let's Encrypt's staging
  directory, the other production; ``tests/rig/traefik.py``); the apply writes config.yaml with the staging CA,
  waits for the staging certificate, clears acme.json, switches to production and waits for a trusted certificate.
  A production stage that fails rolls everything back: config.yaml, acme.json, the served certificate.
- existing: the operator's chain and key are uploaded (verified, key 0600) and config.yaml points at them.
- acme-dns: Pebble issues through DNS-01 on the test BIND; chain and key are uploaded and served.
- The gate: a failing DNS check and the rate-limit guard refuse the plan before anything changes.
- The TUI and the plain wizard reach Review without ordering or uploading anything.

The DNS check runs against the test BIND (``domain.resolvers`` and ``--nameserver-port``); the served certificate is
checked at the stand-in's port (``--verify-address``). Nothing leaves loopback.
"""

from __future__ import annotations

import itertools
import json
import stat
import subprocess
import sys

import pytest

from tests.rig.pebble import PebbleFixture, PebbleServer
from tests.rig.pki import TestPKI
from tests.rig.traefik import PebbleTraefik, TraefikStandIn
from tests.support.hubs import rig_documents
from wizard import yamlio
from wizard.hub import sandbox

WIZARD = [sys.executable, "-m", "wizard"]
_serial = itertools.count(1)


@pytest.fixture(scope="module")
def staging_pebble(bind_server, tmp_path_factory):
    with PebbleServer(tmp_path_factory.mktemp("pebble-staging"), bind_server.address) as server:
        yield PebbleFixture(server)


def name_for(bind_server, label: str) -> str:
    name = f"{label}{next(_serial)}.wizard.test"
    bind_server.add(name + ".", "A", "127.0.0.1")
    return name


def documents(hub, bind_server, name: str, https: dict) -> tuple[dict, dict]:
    public, secret = rig_documents(hub, https="none")
    public["domain"] = {"name": name, "reserved_ipv4": "127.0.0.1", "ip_reserved_confirmed": True,
                        "resolvers": [bind_server.address]}
    public["https"] = https
    return public, secret


def run_apply(tmp_path, hub, bind_server, public, secret, *extra):
    (tmp_path / "answers.yaml").write_text(yamlio.dump(public))
    (tmp_path / "secrets.yaml").write_text(yamlio.dump(secret))
    (tmp_path / "secrets.yaml").chmod(0o600)
    argv = [*WIZARD, "apply", str(tmp_path / "answers.yaml"), "--secrets", str(tmp_path / "secrets.yaml"),
            "--known-hosts", str(hub.known_hosts), "--hub-api-url", hub.hub_api_url, "--no-smoke",
            "--nameserver-port", str(bind_server.port), *map(str, extra)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


def config(hub) -> dict:
    return yamlio.loads((hub.prefix / "config" / "config.yaml").read_text())


def session_state(hub) -> dict:
    from wizard.session import sessions_dir

    return json.loads((sessions_dir() / f"{hub.admin.name}@{hub.host}:{hub.port}" / "state.json").read_text())


@pytest.fixture
def pebble_traefik(sshd_hub, bind_server, staging_pebble, pebble, tmp_path):
    (tmp_path / "traefik").mkdir()
    standin = PebbleTraefik(sshd_hub.prefix, tmp_path / "traefik", bind_server, staging_pebble, pebble)
    yield standin
    standin.close()


def le_options(traefik, timeout=60):
    return ["--verify-address", f"127.0.0.1:{traefik.port}", "--trust-roots", traefik.production_roots,
            "--staging-marker", traefik.staging_marker, "--certificate-timeout", timeout]


# ---------------------------------------------------------------------------------------------------------------
# letsencrypt


def test_letsencrypt_goes_staging_then_production_inside_apply(sshd_hub, bind_server, pebble_traefik, tmp_path):
    name = name_for(bind_server, "le")
    public, secret = documents(sshd_hub, bind_server, name, {"mode": "letsencrypt", "email": "admin@wizard.test"})
    done = run_apply(tmp_path, sshd_hub, bind_server, public, secret, "--yes", *le_options(pebble_traefik))
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    # the reviewed plan named each stage, and they ran in order
    for title in ("Let's Encrypt STAGING first", "clear acme.json", "switch to the production CA",
                  "trusted production certificate"):
        assert title in output
    assert output.index("staging certificate served") < output.index("production certificate served")
    assert pebble_traefik.orders == {"staging": 1, "production": 1}, pebble_traefik.errors
    assert config(sshd_hub)["https"] == {"enabled": True, "letsencrypt": {"email": "admin@wizard.test",
                                                                          "domains": [name], "staging": False}}
    assert json.loads((sshd_hub.prefix / "state" / "acme.json").read_text())["stage"] == "production"
    assert [r["component"] for r in sandbox.reloads(sshd_hub.prefix)] == ["proxy", "hub", "proxy"]
    state = session_state(sshd_hub)
    assert state["records"]["https.certificate"]["mode"] == "letsencrypt"
    assert state["records"]["https.certificate"]["verified"] == "ok"
    assert "https" in state["finished_steps"] and state["answers"]["https"]["mode"] == "letsencrypt"
    assert state["records"]["apply"]["status"] == "done"


@pytest.mark.slow
def test_a_failing_production_stage_rolls_everything_back(sshd_hub, bind_server, staging_pebble, pebble, tmp_path):
    (tmp_path / "traefik").mkdir()
    traefik = PebbleTraefik(sshd_hub.prefix, tmp_path / "traefik", bind_server, staging_pebble, pebble,
                            fail_production=True)
    acme = sshd_hub.prefix / "state" / "acme.json"
    acme.write_text('{"held": "before the apply"}')
    acme.chmod(0o600)
    before = (sshd_hub.prefix / "config" / "config.yaml").read_bytes()
    name = name_for(bind_server, "lefail")
    public, secret = documents(sshd_hub, bind_server, name, {"mode": "letsencrypt", "email": "admin@wizard.test"})
    try:
        done = run_apply(tmp_path, sshd_hub, bind_server, public, secret, "--yes", *le_options(traefik, 4))
    finally:
        traefik.close()
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "production certificate" in output and "restored byte for byte" in output, output
    assert "RESTORE FAILED" not in output
    assert (sshd_hub.prefix / "config" / "config.yaml").read_bytes() == before
    assert json.loads(acme.read_text()) == {"held": "before the apply"}
    assert traefik.orders["staging"] == 1 and traefik.orders["production"] >= 1
    records = session_state(sshd_hub)["records"]
    assert records["apply"]["status"] == "rolled-back"
    assert len(records["https.ratelimit"]["failures"][name]) == 1  # counted against the guard


@pytest.mark.slow
def test_the_dns_gate_and_the_rate_limit_guard_refuse_before_anything_changes(sshd_hub, bind_server, tmp_path):
    traefik = TraefikStandIn(sshd_hub.prefix, tmp_path)
    before = (sshd_hub.prefix / "config" / "config.yaml").read_bytes()
    try:
        unknown = f"nowhere{next(_serial)}.wizard.test"  # no A record: the DNS check fails
        public, secret = documents(sshd_hub, bind_server, unknown, {"mode": "letsencrypt",
                                                                     "email": "admin@wizard.test"})
        refused = run_apply(tmp_path, sshd_hub, bind_server, public, secret, "--yes",
                            "--verify-address", f"127.0.0.1:{traefik.port}")
        assert refused.returncode == 2 and "the DNS check fails" in refused.stderr, refused.stdout + refused.stderr

        from wizard.https.ratelimit import RateLimitGuard, RecordStore
        from wizard.session import Session

        name = name_for(bind_server, "guard")
        with Session.open(f"{sshd_hub.admin.name}@{sshd_hub.host}:{sshd_hub.port}") as session:
            guard = RateLimitGuard(RecordStore(session))
            for _ in range(3):
                guard.record([name], production=True, passed=False)
        public, secret = documents(sshd_hub, bind_server, name, {"mode": "letsencrypt", "email": "admin@wizard.test"})
        refused = run_apply(tmp_path, sshd_hub, bind_server, public, secret, "--yes",
                            "--verify-address", f"127.0.0.1:{traefik.port}")
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "rate-limit guard refuses a production order" in refused.stderr
        assert "3 failed validations" in refused.stderr
    finally:
        traefik.close()
    assert (sshd_hub.prefix / "config" / "config.yaml").read_bytes() == before
    assert sandbox.reloads(sshd_hub.prefix) == []


# ---------------------------------------------------------------------------------------------------------------
# existing


@pytest.mark.slow
def test_existing_certificate_is_uploaded_and_config_points_at_it(sshd_hub, bind_server, tmp_path):
    pki = TestPKI("Operator")
    name = name_for(bind_server, "existing")
    leaf = pki.leaf(name)
    (tmp_path / "fullchain.pem").write_bytes(pki.fullchain(leaf))
    (tmp_path / "privkey.pem").write_bytes(leaf.key_pem)
    (tmp_path / "privkey.pem").chmod(0o600)
    (tmp_path / "root.pem").write_bytes(pki.root_pem)
    traefik = TraefikStandIn(sshd_hub.prefix, tmp_path)
    public, secret = documents(sshd_hub, bind_server, name, {"mode": "existing",
                                                            "cert_path": str(tmp_path / "fullchain.pem"),
                                                            "key_path": str(tmp_path / "privkey.pem")})
    try:
        done = run_apply(tmp_path, sshd_hub, bind_server, public, secret, "--yes", "--verify-address",
                         f"127.0.0.1:{traefik.port}", "--trust-roots", tmp_path / "root.pem")
    finally:
        traefik.close()
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    tls = sshd_hub.prefix / "state" / "tljh-wizard" / "tls"
    assert (tls / "fullchain.pem").read_bytes() == pki.fullchain(leaf)
    assert (tls / "privkey.pem").read_bytes() == leaf.key_pem
    key_stat = (tls / "privkey.pem").stat()
    assert stat.S_IMODE(key_stat.st_mode) == 0o600 and key_stat.st_uid == 0
    assert config(sshd_hub)["https"] == {"enabled": True, "tls": {"cert": str(tls / "fullchain.pem"),
                                                                  "key": str(tls / "privkey.pem")}}
    assert "size and sha256 checked on the hub" in output and "production certificate served" in output
    assert leaf.key_pem.decode() not in output
    state = session_state(sshd_hub)
    assert state["records"]["https.certificate"]["mode"] == "existing"
    assert "https" in state["finished_steps"]
    again = run_apply(tmp_path, sshd_hub, bind_server, public, secret, "--yes")
    assert again.returncode == 0 and "Nothing to do." in again.stdout, again.stdout + again.stderr


# ---------------------------------------------------------------------------------------------------------------
# acme-dns


def test_acme_dns_issues_with_pebble_and_installs_inside_apply(sshd_hub, bind_server, pebble, tmp_path):
    from tests.rig.pki import chain_to

    name = name_for(bind_server, "dns01")
    roots = tmp_path / "pebble-root.pem"
    roots.write_text(pebble.root_pem())
    traefik = TraefikStandIn(sshd_hub.prefix, tmp_path)
    public, secret = documents(sshd_hub, bind_server, name, {
        "mode": "acme-dns", "email": "admin@wizard.test", "staging_directory": pebble.directory_url,
        "production_directory": pebble.directory_url, "tsig_server": bind_server.address,
        "tsig_zone": "wizard.test", "tsig_key_name": bind_server.key_name, "tos_agreed": True})
    secret["https"] = {"tsig_secret": bind_server.key_secret}
    try:
        done = run_apply(tmp_path, sshd_hub, bind_server, public, secret, "--yes", "--verify-address",
                         f"127.0.0.1:{traefik.port}", "--trust-roots", roots, "--ca-bundle", pebble.ca_cert_path)
    finally:
        traefik.close()
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert output.index("order a test certificate") < output.index("order the certificate for")
    tls = sshd_hub.prefix / "state" / "tljh-wizard" / "tls"
    assert chain_to(pebble.root_pem(), (tls / "fullchain.pem").read_bytes(), name)
    assert stat.S_IMODE((tls / "privkey.pem").stat().st_mode) == 0o600
    assert bind_server.query(f"_acme-challenge.{name}.", "TXT") == []
    assert bind_server.key_secret not in output
    records = session_state(sshd_hub)["records"]
    assert records["https.certificate"]["mode"] == "acme-dns" and records["https.certificate"]["renewal_time"]
