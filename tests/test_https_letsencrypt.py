"""Mode letsencrypt's stages as the HTTPS plan runs them (``wizard.https.plan``), on the sshd hub, with a stand-in for
TLJH's Traefik (``tests/rig/traefik.py``: test CAs, so each stage is immediate).

The engine's order is simulated here (config.yaml's own actions are ``wizard.hub.apply``'s): the BEFORE actions, the
first config.yaml (staging CA) written and the proxy reloaded, then the AFTER actions. The whole apply with Pebble
playing both CAs is in ``tests/test_https_apply.py``.
"""

from __future__ import annotations

import itertools
import json
import socket

import pytest

from tests.rig.traefik import TraefikStandIn
from tests.support.hubs import hub_target
from wizard import yamlio
from wizard.answers import Answers
from wizard.diagnosis import Diagnosis, Status
from wizard.https import plan as https_plan
from wizard.https.ratelimit import RateLimitGuard, RecordStore
from wizard.hub import sandbox
from wizard.hub.apply import render_text
from wizard.session import Session
from wizard.tljh.config import certificate_domains

_serial = itertools.count(1)
DNS_OK = [Diagnosis("dns.a", Status.OK, "A record points at the hub")]
DNS_FAILING = [Diagnosis("dns.aaaa", Status.ERROR, "a stale AAAA record points elsewhere")]


@pytest.fixture
def traefik(sshd_hub, tmp_path):
    standin = TraefikStandIn(sshd_hub.prefix, tmp_path)
    yield standin
    standin.close()


@pytest.fixture
def session(sshd_hub):
    n = next(_serial)
    with Session.open(f"le{n}@127.0.0.1:{sshd_hub.port}") as opened:
        yield opened


def answers_for(sshd_hub, **extra) -> Answers:
    n = next(_serial)
    answers = Answers({})
    for section in ("limits", "environment"):  # this file is about HTTPS
        answers.skip(section)
    for key, value in {"authenticator.type": "github", "authenticator.client_id": "le-client",
                       "authenticator.client_secret": "le-secret", "authenticator.allowed_users": ["alice"],
                       "connection.host": "127.0.0.1", "connection.tljh_prefix": str(sshd_hub.prefix),
                       "domain.name": f"le{n}.wizard.test", "https.mode": "letsencrypt",
                       "https.email": "admin@wizard.test", "https.extra_domains": [f"www.le{n}.wizard.test"],
                       **extra}.items():
        answers.set(key, value)
    return answers


def environment(traefik, tmp_path, **overrides) -> https_plan.HttpsEnvironment:
    roots = tmp_path / "roots.pem"
    roots.write_bytes(traefik.cas["production"].root_pem)
    settings = dict(trust_roots=str(roots), verify_address=("127.0.0.1", traefik.port), staging_timeout=30,
                    production_timeout=30)
    settings.update(overrides)
    return https_plan.HttpsEnvironment(letsencrypt=settings)


def config(sshd_hub) -> dict:
    return yamlio.loads((sshd_hub.prefix / "config" / "config.yaml").read_text())


def planned(sshd_hub, target, answers, session, env, dns=DNS_OK):
    old = target.read_file(f"{sshd_hub.prefix}/config/config.yaml").decode()
    return https_plan.build(answers, old, render_text(answers, old, "2.0.0"), target, session=session, env=env,
                            dns_diagnoses=dns)


def run_like_apply(plan, target, session):
    """BEFORE actions, the first config.yaml and a proxy reload (the engine's write-config/reload-proxy), AFTER."""
    done = []
    for action_id in plan.ids(https_plan.BEFORE):
        done.append(plan.execute(action_id, target, session))
    target.write_file(f"{plan.prefix}/config/config.yaml", (plan.first_text or plan.final_text).encode(), mode=0o600)
    assert target.run([target.tljh_config, "reload", "proxy"], sudo=True).ok
    for action_id in plan.ids(https_plan.AFTER):
        done.append(plan.execute(action_id, target, session))
    return done


def test_staging_then_cleared_acme_json_then_production(sshd_hub, traefik, session, tmp_path):
    answers = answers_for(sshd_hub)
    names = [answers.get("domain.name"), f"www.{answers.get('domain.name')}"]
    acme = sshd_hub.prefix / "state" / "acme.json"
    acme.write_text('{"before": "the apply"}')
    with hub_target(sshd_hub) as target:
        plan = planned(sshd_hub, target, answers, session, environment(traefik, tmp_path))
        assert not plan.refusals, plan.refusals
        assert [step.id for step in plan.steps] == ["https-acme-backup", "https-staging", "https-clear-acme",
                                                    "https-production", "https-production-verify"]
        assert yamlio.loads(plan.first_text)["https"]["letsencrypt"]["staging"] is True
        assert yamlio.loads(plan.final_text)["https"]["letsencrypt"]["staging"] is False
        acme.write_text("")  # Traefik with HTTPS off: nothing stored yet
        outcomes = run_like_apply(plan, target, session)
    assert "staging certificate served" in outcomes[1] and "(STAGING) Test Intermediate E1" in outcomes[1]
    assert "production certificate served" in outcomes[-1]
    assert config(sshd_hub)["https"] == {"enabled": True, "letsencrypt": {"email": "admin@wizard.test",
                                                                          "domains": names, "staging": False}}
    assert json.loads(acme.read_text()) == {"stage": "production"}
    assert [r["component"] for r in sandbox.reloads(sshd_hub.prefix)] == ["proxy", "proxy"]
    assert session.record("https.certificate")["verified"] == "ok"
    assert RateLimitGuard(RecordStore(session)).staged(names)
    assert [v.data["issuer"] for v in plan.verdicts] == ["(STAGING) Test Intermediate E1",
                                                          "Test Production Intermediate E1"]


def test_a_failing_dns_check_refuses_the_plan(sshd_hub, traefik, session, tmp_path):
    answers = answers_for(sshd_hub)
    with hub_target(sshd_hub) as target:
        plan = planned(sshd_hub, target, answers, session, environment(traefik, tmp_path), dns=DNS_FAILING)
    assert plan.refusals and "the DNS check fails (dns.aaaa)" in plan.refusals[0]


def test_the_dns_override_is_explicit_and_recorded(sshd_hub, traefik, session, tmp_path):
    answers = answers_for(sshd_hub, **{"https.dns_override": True})
    with hub_target(sshd_hub) as target:
        plan = planned(sshd_hub, target, answers, session, environment(traefik, tmp_path), dns=DNS_FAILING)
        assert not plan.refusals and "override is set" in plan.notes[0].summary
        assert not [e for e in session.state["journal"] if e["action"] == "https.dns_override"]  # planning: read-only
        plan.execute("https-acme-backup", target, session)
    assert [e for e in session.state["journal"] if e["action"] == "https.dns_override"][0]["failing"] == ["dns.aaaa"]


def test_port_443_with_nothing_listening_counts_as_reachable():
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    from wizard.https.letsencrypt import port_443_check

    verdict = port_443_check("127.0.0.1", port, 2)
    assert verdict.status is Status.OK and "nothing listens there yet" in verdict.summary


def test_a_staging_certificate_for_the_wrong_names_fails_and_rollback_restores_acme_json(sshd_hub, session,
                                                                                         tmp_path):
    traefik = TraefikStandIn(sshd_hub.prefix, tmp_path, wrong_names=True)
    acme = sshd_hub.prefix / "state" / "acme.json"
    acme.write_text('{"stage": "production", "kept": true}')
    acme.chmod(0o600)
    answers = answers_for(sshd_hub)
    try:
        with hub_target(sshd_hub) as target:
            plan = planned(sshd_hub, target, answers, session, environment(traefik, tmp_path, staging_timeout=0))
            plan.execute("https-acme-backup", target, session)
            acme.write_text("")  # the proxy with the staging CA starts afresh
            target.write_file(f"{plan.prefix}/config/config.yaml", plan.first_text.encode(), mode=0o600)
            with pytest.raises(https_plan.HttpsActionError) as failed:
                plan.execute("https-staging", target, session)
            assert str(failed.value).startswith("gave up after 0 s waiting for the staging certificate: ")
            assert "does not cover" in str(failed.value)
            assert plan.rollback(target, session) == []
    finally:
        traefik.close()
    assert json.loads(acme.read_text()) == {"stage": "production", "kept": True}
    assert oct(acme.stat().st_mode & 0o777) == "0o600"
    assert not RateLimitGuard(RecordStore(session)).staged(certificate_domains(answers))


def test_three_failed_production_runs_within_the_hour_refuse_the_plan(sshd_hub, traefik, session, tmp_path):
    answers = answers_for(sshd_hub)
    guard = RateLimitGuard(RecordStore(session))
    names = certificate_domains(answers)
    for _ in range(3):
        guard.record(names, production=True, passed=False)
    with hub_target(sshd_hub) as target:
        plan = planned(sshd_hub, target, answers, session, environment(traefik, tmp_path))
    assert any("3 failed validations" in reason for reason in plan.refusals), plan.refusals


def test_the_guard_refuses_production_at_the_clear_stage_too(sshd_hub, traefik, session, tmp_path):
    """Failures recorded while the apply runs (another run, the same hour) stop it before production."""
    answers = answers_for(sshd_hub)
    with hub_target(sshd_hub) as target:
        plan = planned(sshd_hub, target, answers, session, environment(traefik, tmp_path))
        plan.execute("https-acme-backup", target, session)
        target.write_file(f"{plan.prefix}/config/config.yaml", plan.first_text.encode(), mode=0o600)
        plan.execute("https-staging", target, session)
        guard = RateLimitGuard(RecordStore(session))
        for _ in range(3):
            guard.record(plan.names, production=True, passed=False)
        with pytest.raises(https_plan.HttpsActionError, match="3 failed validations"):
            plan.execute("https-clear-acme", target, session)
    assert config(sshd_hub)["https"]["letsencrypt"]["staging"] is True  # never switched to production


def test_what_needs_a_certificate_run():
    on = "https:\n  enabled: true\n  letsencrypt:\n    email: a@b.c\n    domains: [hub.wizard.test]\n    " \
         "staging: false\n"
    assert https_plan.needs_letsencrypt_run("users: {}\n", on)
    assert not https_plan.needs_letsencrypt_run(on, on)
    assert not https_plan.needs_letsencrypt_run(on, on.replace("a@b.c", "x@b.c"))  # an e-mail change orders nothing
    assert https_plan.needs_letsencrypt_run(on, on.replace("[hub.wizard.test]", "[hub.wizard.test, www.wizard.test]"))
    assert https_plan.needs_letsencrypt_run(on.replace("staging: false", "staging: true"), on)
    assert not https_plan.needs_letsencrypt_run(on, "https:\n  enabled: false\n")
