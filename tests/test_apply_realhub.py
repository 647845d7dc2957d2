"""apply on the rig's REAL JupyterHub (tests/rig/sshd.py ``real_hub``): config.yaml written, the hub restarted, the
verification (API, login page, OAuth redirect, idle culler) and the smoke test pass; an authenticator that raises at
start and a user environment whose server cannot start each fail the apply, which restores the old config.yaml byte
for byte and says why; the smoke test after ``env restore``/``env install`` fails naming the step and the way back.
``check --smoke`` on a healthy, broken and repaired hub: tests/test_audit_rig.py."""

import argparse
import json
import subprocess

from tests.support.hubs import CLIENT_SECRET, config_file, jupyter_server_renamed, rig_answers, rig_target
from wizard.diagnosis import Status
from wizard.environment import cli as env_cli
from wizard.hub import apply, services, smoke
from wizard.session import Session


def statuses(applier):
    return {d.id: d.status for d in applier.diagnoses}


def test_apply_on_a_real_hub_verifies_login_and_runs_the_smoke_test(real_hub):
    answers = rig_answers(real_hub)
    before_pid = services.main_pid(real_hub.prefix, "jupyterhub")
    with rig_target(real_hub, answers) as target, Session.open(target.name) as session:
        current = apply.plan(answers, apply.read_config(target), session=session, smoke=True, smoke_credential=True)
        assert [a.id for a in current.actions][-4:] == ["smoke-credential", "reload-hub", "verify", "smoke"]
        applier = apply.Applier(target, session)
        result = applier.execute(current)
        assert result.ok, result.summary()
        stored_token = session.read_secret(smoke.SECRET_NAME)
    assert config_file(real_hub).read_text() == current.new_text
    assert services.main_pid(real_hub.prefix, "jupyterhub") not in (None, before_pid)
    assert all(status in (Status.OK, Status.SKIPPED) for status in statuses(applier).values())
    found = {d.id: d.summary for d in applier.diagnoses}
    assert "Sign in with GitHub" in found["verify.login"]
    assert "client_id gh-client-id" in found["verify.oauth"]
    assert "https://hub.example.edu/hub/oauth_callback" in found["verify.oauth"]
    assert "--timeout=3600 --cull-every=300" in found["verify.culler"]
    assert found["smoke.kernel"].startswith("one cell ran in the default kernel: Python 3.")
    assert statuses(applier)["smoke.cleanup"] is Status.OK
    # The credential: root-only on the hub, in the session's store, never in the hub's log or a command line.
    token_file = real_hub.prefix / "state" / "tljh-wizard" / "smoke-token"
    assert token_file.stat().st_mode & 0o777 == 0o600
    token = token_file.read_text().strip()
    assert stored_token.decode().strip() == token and len(token) == 64
    assert token not in services.log_tail(real_hub.prefix, "jupyterhub", 100000)
    assert CLIENT_SECRET not in services.log_tail(real_hub.prefix, "jupyterhub", 100000)
    # Nothing of the temporary user is left behind.
    listing = json.loads(subprocess.run(
        [str(real_hub.hub_python), "-c", "import sqlite3, json; print(json.dumps([r[0] for r in sqlite3.connect("
         f"{str(real_hub.prefix / 'state' / 'jupyterhub.sqlite')!r}).execute('select name from users')]))"],
        capture_output=True, text=True).stdout)
    assert smoke.USER not in listing
    assert not (real_hub.prefix / "standin-homes" / smoke.USER).exists()  # the stand-in of jupyter-NAME's home


def test_an_authenticator_that_raises_at_start_rolls_back(real_hub):
    """A generic OAuth config with allowed groups and no manage_groups (written past the wizard's checks): the hub
    does not start, the apply fails with the hub's reason and restores the old file byte for byte."""
    answers = rig_answers(real_hub)
    original = config_file(real_hub).read_bytes()
    broken = ("auth:\n  type: oauthenticator.generic.GenericOAuthenticator\n  GenericOAuthenticator:\n"
              "    client_id: generic-id\n    client_secret: generic-secret\n    allowed_groups: [staff]\n"
              "    oauth_callback_url: https://hub.example.edu/hub/oauth_callback\n")
    with rig_target(real_hub, answers) as target, Session.open(target.name) as session:
        current = apply.plan(answers, apply.read_config(target), session=session)
        current.new_text = broken
        result = apply.Applier(target, session, reload_timeout=240).execute(current)
    assert not result.ok and result.rolled_back and not result.rollback_errors, result.summary()
    assert "reload hub" in result.error and "manage_groups to also be set" in result.error, result.error
    assert config_file(real_hub).read_bytes() == original
    assert services.state(real_hub.prefix, "jupyterhub") == "active"


def test_a_broken_user_environment_fails_apply_at_the_smoke_test(real_hub, capsys):
    answers = rig_answers(real_hub)
    original = config_file(real_hub).read_bytes()
    with jupyter_server_renamed(real_hub.prefix):
        with rig_target(real_hub, answers) as target, Session.open(target.name) as session:
            name = target.name
            smoke.install(target, session)  # as an earlier apply would have
            current = apply.plan(answers, apply.read_config(target), session=session, smoke=True)
            result = apply.Applier(target, session).execute(current)
        assert not result.ok and result.rolled_back and not result.rollback_errors, result.summary()
        assert "smoke.spawn" in result.error and "jupyter_server" in result.error  # the spawn log's tail
        assert config_file(real_hub).read_bytes() == original

        # `env restore` / `env install` end with the same smoke test and name the way back.
        with rig_target(real_hub, answers) as target, Session.open(name) as session:
            hub = env_cli.Hub(target, real_hub.host, session.dir / "snapshots")
            assert env_cli.smoke_after(hub, argparse.Namespace(hub=name, no_smoke=False), "SNAPSHOT-ID") == 2
        out = capsys.readouterr().out
        assert "ERROR    smoke.spawn" in out and f"tljh-wizard env restore {name} SNAPSHOT-ID" in out
    assert not (real_hub.prefix / "standin-homes" / smoke.USER).exists()
