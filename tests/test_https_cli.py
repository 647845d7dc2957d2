"""``tljh-wizard renew SESSION [--force]`` on the fixtures: renews when due, leaves things alone when not, and
exits non-zero on failure."""

from __future__ import annotations

import pytest

from tests.test_https_install import hub_target
from tests.test_https_issue import env, proxy, session, tls_dir  # noqa: F401 (fixtures)
from wizard.cli import main
from wizard.https import issue
from wizard.session import Session


@pytest.fixture
def issued(session, sshd_hub, env, tls_dir):  # noqa: F811
    """A session whose certificate was issued and installed, then closed (renew opens it itself)."""
    session.accept("connection.host_key", sshd_hub.host_key_fingerprint)
    with hub_target(sshd_hub) as target:
        issue.issue_and_install(session, target, env)
    name = session.name
    session.close()
    return name


def renew_argv(name, env, *extra):  # noqa: F811
    host, port = env.verify_address
    return ["renew", name, "--ca-bundle", env.ca_bundle, "--trust-roots", env.trust_roots,
            "--dns-port", str(env.nameserver_port), "--verify-address", f"{host}:{port}", *extra]


def test_renew_is_a_no_op_until_due_and_force_renews(issued, env, tls_dir, capsys):  # noqa: F811
    before = (tls_dir / "fullchain.pem").read_bytes()
    assert main(renew_argv(issued, env)) == 0
    assert capsys.readouterr().out.startswith("OK       https.renew: not due: renewal time ")
    assert (tls_dir / "fullchain.pem").read_bytes() == before
    assert main(renew_argv(issued, env, "--force")) == 0
    assert capsys.readouterr().out.startswith("OK       https.renew: renewed: valid until ")
    assert (tls_dir / "fullchain.pem").read_bytes() != before


def test_renew_when_due(issued, env, tls_dir):  # noqa: F811
    with Session.open(issued) as reopened:
        record = reopened.record("https.certificate")
        reopened.record("https.certificate", {**record, "renewal_time": "2000-01-01T00:00:00+00:00"})
    before = (tls_dir / "fullchain.pem").read_bytes()
    assert main(renew_argv(issued, env)) == 0
    assert (tls_dir / "fullchain.pem").read_bytes() != before


def test_a_failed_renewal_exits_2_and_keeps_the_old_certificate(issued, env, tls_dir, capsys):  # noqa: F811
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
