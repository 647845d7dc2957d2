"""The HTTPS part of an apply (``wizard.https.plan``) on the rig: sshd hub, BIND, Pebble, and a stand-in for TLJH's
Traefik (``tests/rig/traefik.py``) that orders its certificates from Pebble — one Pebble playing Let's Encrypt's
staging directory, another the production one."""

from __future__ import annotations

import itertools
import json
import time

import pytest

from tests.rig.pebble import PebbleFixture, PebbleServer
from tests.rig.traefik import PebbleTraefik
from wizard import yamlio

_serial = itertools.count(1)


@pytest.fixture(scope="module")
def staging_pebble(bind_server, tmp_path_factory):
    with PebbleServer(tmp_path_factory.mktemp("pebble-staging"), bind_server.address) as server:
        yield PebbleFixture(server)


@pytest.fixture
def traefik(sshd_hub, bind_server, staging_pebble, pebble, tmp_path):
    standin = PebbleTraefik(sshd_hub.prefix, tmp_path, bind_server, staging_pebble, pebble)
    yield standin
    standin.close()


def wait_for(predicate, seconds=30.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_the_stand_in_orders_staging_then_keeps_it_until_acme_json_is_cleared(sshd_hub, traefik):
    from tests.support.hubs import hub_target
    from wizard.https.verify import check_served

    name = f"standin{next(_serial)}.wizard.test"
    config = sshd_hub.prefix / "config" / "config.yaml"
    staged = lambda: check_served("127.0.0.1", traefik.port, [name], "staging",  # noqa: E731
                                  staging_marker=traefik.staging_marker)
    produced = lambda: check_served("127.0.0.1", traefik.port, [name], "production",  # noqa: E731
                                    cafile=str(traefik.production_roots), staging_marker=traefik.staging_marker)
    with hub_target(sshd_hub) as target:
        def reload_proxy():
            assert target.run([target.tljh_config, "reload", "proxy"], sudo=True).ok

        config.write_text(yamlio.dump({"https": {"enabled": True, "letsencrypt": {
            "email": "a@wizard.test", "domains": [name], "staging": True}}}))
        time.sleep(0.3)
        assert "default certificate" in staged().summary  # Traefik reads its settings when it starts
        reload_proxy()
        assert wait_for(lambda: staged().status.value == "ok"), (staged().summary, traefik.errors)
        config.write_text(config.read_text().replace("staging: true", "staging: false"))
        reload_proxy()
        time.sleep(0.5)
        assert staged().status.value == "ok"  # the trap: acme.json still holds the staging certificate
        (sshd_hub.prefix / "state" / "acme.json").write_text("")
        time.sleep(0.3)
        assert staged().status.value == "ok"  # cleared while running: nothing changes until it starts again
        reload_proxy()
        assert wait_for(lambda: produced().status.value == "ok"), (produced().summary, traefik.errors)
    assert traefik.orders == {"staging": 1, "production": 1}
    assert json.loads((sshd_hub.prefix / "state" / "acme.json").read_text())["stage"] == "production"


# ---------------------------------------------------------------------------------------------------------------
# mode existing, action by action (the whole apply: tests/test_https_apply.py)


def existing_answers(hub, tmp_path, pki, name="hub.wizard.test", **extra):
    from wizard.answers import Answers

    leaf = pki.leaf(name)
    (tmp_path / "fullchain.pem").write_bytes(pki.fullchain(leaf))
    (tmp_path / "privkey.pem").write_bytes(leaf.key_pem)
    (tmp_path / "root.pem").write_bytes(pki.root_pem)
    answers = Answers({})
    for section in ("limits", "environment"):
        answers.skip(section)
    for key, value in {"authenticator.type": "github", "authenticator.client_id": "x",
                       "authenticator.client_secret": "plan-secret", "authenticator.allowed_users": ["alice"],
                       "connection.tljh_prefix": str(hub.prefix), "domain.name": name, "https.mode": "existing",
                       "https.cert_path": str(tmp_path / "fullchain.pem"),
                       "https.key_path": str(tmp_path / "privkey.pem"), **extra}.items():
        answers.set(key, value)
    return answers, leaf


def build_for(hub, target, answers, tmp_path, verify_port):
    from wizard.https import plan as https_plan
    from wizard.hub.apply import render_text

    old = target.read_file(f"{hub.prefix}/config/config.yaml").decode()
    env = https_plan.HttpsEnvironment(acme={"trust_roots": str(tmp_path / "root.pem"),
                                            "verify_address": ("127.0.0.1", verify_port), "verify_timeout": 3})
    return https_plan.build(answers, old, render_text(answers, old, "2.0.0"), target, env=env), old


def test_existing_upload_is_verified_and_rolled_back(sshd_hub, tmp_path):
    import stat

    from tests.rig.pki import TestPKI
    from tests.support.hubs import hub_target
    from wizard.https import plan as https_plan

    tls = sshd_hub.prefix / "state" / "tljh-wizard" / "tls"
    answers, leaf = existing_answers(sshd_hub, tmp_path, TestPKI("Operator"))
    with hub_target(sshd_hub) as target:
        plan, _old = build_for(sshd_hub, target, answers, tmp_path, 9)
        assert [step.id for step in plan.steps] == ["https-upload", "https-verify"]
        assert plan.phase("https-upload") == https_plan.BEFORE and plan.phase("https-verify") == https_plan.AFTER
        assert "plan-secret" not in repr(plan) and leaf.key_pem.decode() not in repr(plan)
        outcome = plan.execute("https-upload", target, None)
        assert "size and sha256 checked on the hub" in outcome
        assert (tls / "privkey.pem").read_bytes() == leaf.key_pem
        key_stat = (tls / "privkey.pem").stat()
        assert stat.S_IMODE(key_stat.st_mode) == 0o600 and key_stat.st_uid == 0
        assert plan.rollback(target) == []
    assert not (tls / "privkey.pem").exists() and not (tls / "fullchain.pem").exists()


def test_existing_files_replace_older_ones_which_a_rollback_puts_back(sshd_hub, tmp_path):
    from tests.rig.pki import TestPKI, TLSServer
    from tests.support.hubs import hub_target

    tls = sshd_hub.prefix / "state" / "tljh-wizard" / "tls"
    tls.mkdir(parents=True)
    (tls / "fullchain.pem").write_bytes(b"old chain\n")
    (tls / "privkey.pem").write_bytes(b"old key\n")
    (tls / "privkey.pem").chmod(0o600)
    answers, leaf = existing_answers(sshd_hub, tmp_path, TestPKI("Operator"))
    old_leaf_server = TLSServer(tmp_path)
    other = TestPKI("Operator").leaf("hub.wizard.test")
    old_leaf_server.use(TestPKI("Operator").fullchain(other), other.key_pem)
    try:
        with hub_target(sshd_hub) as target:
            plan, _old = build_for(sshd_hub, target, answers, tmp_path, old_leaf_server.port)
            plan.execute("https-upload", target, None)
            from wizard.https.plan import HttpsActionError

            with pytest.raises(HttpsActionError, match="still serves another certificate|does not chain"):
                plan.execute("https-verify", target, None)
            assert plan.rollback(target) == []
    finally:
        old_leaf_server.close()
    assert (tls / "fullchain.pem").read_bytes() == b"old chain\n"
    assert (tls / "privkey.pem").read_bytes() == b"old key\n" and oct((tls / "privkey.pem").stat().st_mode)[-3:] == "600"


def test_existing_files_the_hub_already_holds_are_not_uploaded_again(sshd_hub, tmp_path):
    from tests.rig.pki import TestPKI
    from tests.support.hubs import hub_target

    answers, leaf = existing_answers(sshd_hub, tmp_path, TestPKI("Operator"))
    tls = sshd_hub.prefix / "state" / "tljh-wizard" / "tls"
    tls.mkdir(parents=True)
    (tls / "fullchain.pem").write_bytes((tmp_path / "fullchain.pem").read_bytes())
    (tls / "privkey.pem").write_bytes(leaf.key_pem)
    with hub_target(sshd_hub) as target:
        plan, _old = build_for(sshd_hub, target, answers, tmp_path, 9)
    assert plan.steps == [] and "nothing to upload" in plan.notes[0].summary


def test_bad_existing_files_refuse_the_plan_and_nothing_is_read_into_it(sshd_hub, tmp_path):
    from tests.rig.pki import TestPKI
    from tests.support.hubs import hub_target

    answers, _leaf = existing_answers(sshd_hub, tmp_path, TestPKI("Operator"), name="hub.wizard.test")
    answers.set("domain.name", "other.wizard.test")
    with hub_target(sshd_hub) as target:
        plan, _old = build_for(sshd_hub, target, answers, tmp_path, 9)
    assert plan.steps == [] and plan.key is None
    assert any("does not cover other.wizard.test" in reason for reason in plan.refusals), plan.refusals
