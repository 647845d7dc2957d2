"""Mode acme-dns end to end on the fixtures: Pebble issues (staging run, then production), BIND carries the
challenges, the sshd hub receives the certificate, a stand-in for TLJH's Traefik serves the installed files, and
``renew`` replaces them when due (the engine, then ``tljh-wizard renew``). Also mode existing's install."""

from __future__ import annotations

import datetime as dt
import itertools
import stat

import pytest
from cryptography import x509

from tests.rig.pki import TestPKI, TLSServer, chain_to
from tests.support.hubs import hub_target
from wizard import yamlio
from wizard.cli import main
from wizard.diagnosis import Status
from wizard.https import issue
from wizard.https.acme_dns import ACCOUNT_KEY
from wizard.https.progress import PHASES
from wizard.hub import sandbox
from wizard.session import Session

_serial = itertools.count(1)


@pytest.fixture
def session(sshd_hub, bind_server, pebble):
    n = next(_serial)
    with Session.open(f"{sshd_hub.admin.name}@127.0.0.1:{sshd_hub.port}") as opened:
        for key, value in {
            "connection.host": "127.0.0.1", "connection.port": sshd_hub.port, "connection.user": sshd_hub.admin.name,
            "connection.key_file": str(sshd_hub.client_key), "connection.tljh_prefix": str(sshd_hub.prefix),
            "domain.name": f"flow{n}.wizard.test", "https.mode": "acme-dns", "https.email": "admin@wizard.test",
            "https.extra_domains": [f"www.flow{n}.wizard.test"],
            "https.staging_directory": pebble.directory_url, "https.production_directory": pebble.directory_url,
            "https.tsig_server": bind_server.address, "https.tsig_zone": "wizard.test",
            "https.tsig_key_name": bind_server.key_name, "https.tsig_secret": bind_server.key_secret,
            "https.tos_agreed": True,
        }.items():
            opened.accept(key, value)
        yield opened


@pytest.fixture
def tls_dir(sshd_hub):
    return sshd_hub.prefix / "state" / "tljh-wizard" / "tls"


@pytest.fixture
def proxy(tmp_path, tls_dir):
    """Stand-in for TLJH's Traefik: serves whatever https.tls.cert/key hold at each connection."""
    server = TLSServer(tmp_path, loader=lambda: (tls_dir / "fullchain.pem", tls_dir / "privkey.pem"))
    yield server
    server.close()


@pytest.fixture
def env(pebble, bind_server, proxy, tmp_path):
    roots = tmp_path / "pebble-root.pem"
    roots.write_text(pebble.root_pem())
    return issue.AcmeEnvironment(ca_bundle=str(pebble.ca_cert_path), trust_roots=str(roots),
                                 nameserver_port=bind_server.port, verify_address=("127.0.0.1", proxy.port),
                                 verify_timeout=30)


def test_acme_dns_issues_installs_and_verifies(session, sshd_hub, bind_server, pebble, env, tls_dir):
    names = issue.domains(session.answers)
    phases = []
    with hub_target(sshd_hub) as target:
        record, verdict = issue.issue_and_install(session, target, env,
                                                  progress=lambda phase, message: phases.append(phase))
    assert verdict.status is Status.OK, verdict.summary
    # the installed chain verifies to Pebble's root for every name; the key is root's alone
    installed = (tls_dir / "fullchain.pem").read_bytes()
    for name in names:
        assert chain_to(pebble.root_pem(), installed, name)[-1].subject.rfc4514_string().startswith("CN=Pebble Root")
    key_stat = (tls_dir / "privkey.pem").stat()
    assert stat.S_IMODE(key_stat.st_mode) == 0o600 and key_stat.st_uid == 0
    config = yamlio.loads((sshd_hub.prefix / "config" / "config.yaml").read_text())
    assert config["https"]["tls"] == {"cert": str(tls_dir / "fullchain.pem"), "key": str(tls_dir / "privkey.pem")}
    # the TXT records are gone from the zone
    assert all(bind_server.query(f"_acme-challenge.{name}.", "TXT") == [] for name in names)
    # staging ran first; everything the operator watches was reported, in order
    assert session.record("https.ratelimit")["staging_passed"].keys() == set(names)
    assert [p for p in PHASES if p in phases] == list(PHASES)
    assert phases.index("install") > max(i for i, p in enumerate(phases) if p == "finalize")
    # the session remembers what renew needs; the account key lives 0600 in its secret store
    stored = session.record("https.certificate")
    assert stored["names"] == names and stored["verified"] == "ok" and stored["renewal_time"] < stored["not_after"]
    assert stat.S_IMODE(session.store_path(ACCOUNT_KEY).stat().st_mode) == 0o600
    assert [r["component"] for r in sandbox.reloads(sshd_hub.prefix)] == ["proxy"]


def test_renew_waits_until_due_then_replaces_the_certificate(session, sshd_hub, env, tls_dir):
    with hub_target(sshd_hub) as target:
        issue.issue_and_install(session, target, env)
        first = (tls_dir / "fullchain.pem").read_bytes()
        not_due = issue.renew(session, target, env)
        assert not_due.status is Status.OK and not_due.data["renewed"] is False
        assert not_due.summary.startswith("not due: renewal time ")
        assert (tls_dir / "fullchain.pem").read_bytes() == first
        # the renewal time passes
        record = session.record("https.certificate")
        session.record("https.certificate", {**record, "renewal_time": "2000-01-01T00:00:00+00:00"})
        renewed = issue.renew(session, target, env)
    assert renewed.status is Status.OK and renewed.data["renewed"] is True, renewed.summary
    second = (tls_dir / "fullchain.pem").read_bytes()
    assert second != first
    assert x509.load_pem_x509_certificates(second)[0].serial_number != \
        x509.load_pem_x509_certificates(first)[0].serial_number
    assert session.record("https.certificate")["renewal_time"] > "2001"
    assert [r["component"] for r in sandbox.reloads(sshd_hub.prefix)] == ["proxy", "proxy"]


def test_renew_refuses_a_session_without_an_issued_certificate(session, sshd_hub, env):
    with hub_target(sshd_hub) as target:
        verdict = issue.renew(session, target, env, force=True)
    assert verdict.status is Status.ERROR and "nothing to renew" in verdict.summary


def test_renewal_is_due_at_the_recorded_time():
    record = {"renewal_time": "2030-01-01T00:00:00+00:00"}
    assert not issue.renewal_due(record, dt.datetime(2029, 12, 31, tzinfo=dt.timezone.utc))
    assert issue.renewal_due(record, dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc))
    assert issue.renewal_due(None)


def test_existing_certificate_is_validated_then_installed(session, sshd_hub, env, tls_dir, tmp_path):
    pki = TestPKI("Operator")
    names = issue.domains(session.answers)
    leaf = pki.leaf(*names)
    (tmp_path / "fullchain.pem").write_bytes(pki.fullchain(leaf))
    (tmp_path / "privkey.pem").write_bytes(leaf.key_pem)
    (tmp_path / "root.pem").write_bytes(pki.root_pem)
    session.accept("https.mode", "existing")
    session.accept("https.cert_path", str(tmp_path / "fullchain.pem"))
    session.accept("https.key_path", str(tmp_path / "privkey.pem"))
    env.trust_roots = str(tmp_path / "root.pem")
    with hub_target(sshd_hub) as target:
        record, verdict = issue.install_existing(session, target, env)
    assert verdict.status is Status.OK, verdict.summary
    assert (tls_dir / "privkey.pem").read_bytes() == leaf.key_pem
    assert record["mode"] == "existing" and record["verified"] == "ok"


def test_existing_certificate_with_problems_never_reaches_the_hub(session, sshd_hub, env, tls_dir, tmp_path):
    pki = TestPKI("Operator")
    leaf = pki.leaf("other.example.test")
    (tmp_path / "fullchain.pem").write_bytes(leaf.cert_pem)
    (tmp_path / "privkey.pem").write_bytes(pki.leaf("x.example.test").key_pem)
    session.accept("https.mode", "existing")
    session.accept("https.cert_path", str(tmp_path / "fullchain.pem"))
    session.accept("https.key_path", str(tmp_path / "privkey.pem"))
    with hub_target(sshd_hub) as target, pytest.raises(issue.HttpsStepError) as refused:
        issue.install_existing(session, target, env)
    message = str(refused.value)
    assert "does not match" in message and "does not cover" in message and "intermediate" in message
    assert not tls_dir.exists()


# --------------------------------------------------------------------------------------------------------------
# ``tljh-wizard renew SESSION [--force]``: renews when due, leaves things alone when not, exits non-zero on failure


@pytest.fixture
def issued(session, sshd_hub, env, tls_dir):
    """A session whose certificate was issued and installed, then closed (renew opens it itself)."""
    session.accept("connection.host_key", sshd_hub.host_key_fingerprint)
    with hub_target(sshd_hub) as target:
        issue.issue_and_install(session, target, env)
    name = session.name
    session.close()
    return name


def renew_argv(name, env, *extra):
    host, port = env.verify_address
    return ["renew", name, "--ca-bundle", env.ca_bundle, "--trust-roots", env.trust_roots,
            "--dns-port", str(env.nameserver_port), "--verify-address", f"{host}:{port}", *extra]


def test_renew_is_a_no_op_until_due_and_force_renews(issued, env, tls_dir, capsys):
    before = (tls_dir / "fullchain.pem").read_bytes()
    assert main(renew_argv(issued, env)) == 0
    assert capsys.readouterr().out.startswith("OK       https.renew: not due: renewal time ")
    assert (tls_dir / "fullchain.pem").read_bytes() == before
    assert main(renew_argv(issued, env, "--force")) == 0
    assert capsys.readouterr().out.startswith("OK       https.renew: renewed: valid until ")
    assert (tls_dir / "fullchain.pem").read_bytes() != before


def test_renew_when_due(issued, env, tls_dir):
    with Session.open(issued) as reopened:
        record = reopened.record("https.certificate")
        reopened.record("https.certificate", {**record, "renewal_time": "2000-01-01T00:00:00+00:00"})
    before = (tls_dir / "fullchain.pem").read_bytes()
    assert main(renew_argv(issued, env)) == 0
    assert (tls_dir / "fullchain.pem").read_bytes() != before


def test_a_failed_renewal_exits_2_and_keeps_the_old_certificate(issued, env, tls_dir, capsys):
    with Session.open(issued) as reopened:
        reopened.accept("https.tsig_secret", "d3Jvbmcgc2VjcmV0IHdyb25nIHNlY3JldCB3cm9uZyE=")
    before = (tls_dir / "fullchain.pem").read_bytes()
    assert main(renew_argv(issued, env, "--force")) == 2
    out = capsys.readouterr().out
    assert out.startswith("ERROR    https.renew: renewal failed: ") and "BADSIG" in out
    assert "d3Jvbmcgc2VjcmV0" not in out
    assert (tls_dir / "fullchain.pem").read_bytes() == before


def test_renew_of_an_unknown_session_exits_2(capsys):
    assert main(["renew", "nobody@nowhere.test:22"]) == 2
    assert "no session named" in capsys.readouterr().err
