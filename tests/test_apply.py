"""The apply engine against the real sshd rig and the tljh-config stand-in: happy path, failing and hanging reloads,
a connection killed mid-apply, a wizard killed mid-apply and resumed, injection strings, secrets in process lists."""

import hashlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.support.hubs import CLIENT_SECRET, config_file, rig_answers, rig_documents, rig_target
from wizard import yamlio
from wizard.answers import Answers
from wizard.hub import apply, sandbox
from wizard.session import Session


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_happy_path(sshd_hub):
    answers = rig_answers(sshd_hub)
    original = config_file(sshd_hub).read_bytes()
    with rig_target(sshd_hub, answers) as target, Session.open(target.name) as session:
        plan, result = apply.apply(target, answers, session)
        round_trips = target.round_trips
        record = session.record("apply")
        journal = [(e["action"], e["phase"]) for e in session.state["journal"]]
        store = session.store_path(f"config-{record['id']}.yaml")
    assert result.ok, result.summary()
    assert [a.id for a in plan.actions] == ["backup", "write-config", "reload-proxy", "reload-hub", "verify"]
    assert CLIENT_SECRET not in plan.diff and "********" in plan.diff
    written = config_file(sshd_hub).read_bytes()
    assert written.decode() == plan.new_text
    assert config_file(sshd_hub).stat().st_mode & 0o777 == 0o600
    config = yamlio.loads(written.decode())
    assert config["auth"]["GitHubOAuthenticator"]["client_secret"] == CLIENT_SECRET
    assert config["users"]["admin"] == ["alice"] and config["limits"] == {"memory": "2G", "cpu": 1}
    reloads = sandbox.reloads(sshd_hub.prefix)
    assert [(r["component"], r["config_sha256"]) for r in reloads] == [("proxy", sha(written)), ("hub", sha(written))]
    hub_backup = Path(record["hub_backup"])
    assert hub_backup.read_bytes() == original and hub_backup.stat().st_mode & 0o777 == 0o600
    assert store.read_bytes() == original and store.stat().st_mode & 0o777 == 0o600
    assert record["status"] == "done"
    actions = ["backup", "write-config", "reload-proxy", "reload-hub", "verify"]
    assert journal == [(a, p) for a in actions for p in ("intent", "done")]
    assert round_trips == 6  # read, backup, write, reload proxy, reload hub, verify

    with rig_target(sshd_hub, answers) as target, Session.open(target.name) as session:
        again, result = apply.apply(target, answers, session)
        assert result.ok and again.actions == [] and target.round_trips == 1
    assert len(sandbox.reloads(sshd_hub.prefix)) == 2


PROXY_CASES = {
    "no https section": ("users: {admin: [alice]}\n", False),
    "https as TLJH's default, partly spelled out": ("https: {enabled: false, port: 443}\n", False),
    "https was on": ("https: {enabled: true, letsencrypt: {email: a@example.edu, domains: [hub.example.edu]}}\n",
                     True),
}


@pytest.mark.parametrize("old_text, reloads_proxy", PROXY_CASES.values(), ids=PROXY_CASES)
def test_the_proxy_reloads_only_when_what_it_is_built_from_changes(old_text, reloads_proxy):
    """TLJH builds Traefik's settings from ``http``, ``https`` and ``traefik_api`` merged over its defaults
    (``tljh/traefik.py``): answers without HTTPS render ``https: {enabled: false}``, which asks nothing new of a proxy
    whose config.yaml had no https section; turning HTTPS off does."""
    hub = SimpleNamespace(host="hub.example.edu", port=22, admin=SimpleNamespace(name="admin", sudo_password=None),
                          client_key="/dev/null", prefix="/opt/tljh", host_key_fingerprint=None)
    answers = Answers.from_documents(*rig_documents(hub, https="none"))
    current = apply.plan(answers, old_text)
    assert "enabled: false" in current.new_text
    assert ("reload-proxy" in [a.id for a in current.actions]) is reloads_proxy, current.new_text


def _failing_apply(rig, reload_timeout=apply.RELOAD_TIMEOUT, **script):
    hub = rig
    answers = rig_answers(hub)
    config_file(hub).write_bytes(b"# the operator's own comment\nusers:\n  admin:\n  - admin\n")
    original = config_file(hub).read_bytes()
    sandbox.script_reloads(hub.prefix, **script)
    with rig_target(hub, answers) as target, Session.open(target.name) as session:
        plan, result = apply.apply(target, answers, session, reload_timeout=reload_timeout)
        record = session.record("apply")
    assert not result.ok and result.rolled_back and result.rollback_errors == []
    assert config_file(hub).read_bytes() == original
    assert config_file(hub).stat().st_mode & 0o777 == 0o600
    assert record["status"] == "rolled-back"
    return plan, result


def test_failing_reload_restores_the_config_byte_for_byte(sshd_hub):
    plan, result = _failing_apply(sshd_hub, hub=["fail"])
    assert "reload hub" in result.error
    reloads = [(r["component"], r["outcome"]) for r in sandbox.reloads(sshd_hub.prefix)]
    assert reloads == [("proxy", "ok"), ("hub", "fail"), ("proxy", "ok"), ("hub", "ok")]
    assert sandbox.reloads(sshd_hub.prefix)[-1]["config_sha256"] == sha(plan.old_text.encode())


def test_hanging_reload_is_stopped_and_the_config_restored(sshd_hub):
    _plan, result = _failing_apply(sshd_hub, reload_timeout=2, proxy=["hang"])
    assert "did not finish within 2 s" in result.error
    from tests.rig.sshd import command_lines

    tool = f"{sshd_hub.prefix}/hub/bin/tljh-config"
    assert [argv for argv in command_lines() if tool in argv and "reload" in argv] == []


def test_hub_that_does_not_answer_is_rolled_back(sshd_hub):
    answers = rig_answers(sshd_hub)
    original = config_file(sshd_hub).read_bytes()
    with rig_target(sshd_hub, answers) as target, Session.open(target.name) as session:
        import socket

        with socket.socket() as held:  # nothing listens here: the hub "does not answer"
            held.bind(("127.0.0.1", 0))
            target.hub_api_url = f"http://127.0.0.1:{held.getsockname()[1]}/hub/api"
            _plan, result = apply.apply(target, answers, session, verify_timeout=1)
    assert not result.ok and result.rolled_back and "does not answer" in result.error
    assert config_file(sshd_hub).read_bytes() == original


def test_connection_killed_mid_apply_reconnects_and_completes(sshd_hub):
    answers = rig_answers(sshd_hub)
    old = config_file(sshd_hub).read_bytes()
    seen = []

    def kill_connection(action, phase, _detail):
        if phase == "start" and action in ("write-config", "reload-hub"):
            for pid in sshd_hub.session_pids():
                os.kill(pid, signal.SIGKILL)
            seen.append(config_file(sshd_hub).read_bytes())

    with rig_target(sshd_hub, answers) as target, Session.open(target.name) as session:
        plan, result = apply.apply(target, answers, session, on_progress=kill_connection)
        connections = target.connections
    assert result.ok, result.summary()
    assert connections == 3
    assert seen == [old, plan.new_text.encode()]  # the file was whole at every kill
    assert config_file(sshd_hub).read_bytes() == plan.new_text.encode()


CHILD = r"""
import os, signal, sys
from wizard.answers import Answers
from wizard.hub import apply, connect
from wizard.session import Session

answers_file, secrets_file, known_hosts, api_url, kill_at, listener = sys.argv[1:]

def session_pids():
    found, frontier = [], [int(listener)]
    while frontier:
        parent = frontier.pop()
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = open(f"/proc/{entry}/stat").read()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == parent and "(sshd" in stat:
                    found.append(int(entry)); frontier.append(int(entry))
    return found

def die(action, phase, detail):
    if action == kill_at and phase == "start":
        for pid in session_pids():
            os.kill(pid, signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)

answers = Answers.load(answers_file, secrets_file)
target = connect.ssh_target(answers.section("connection"), known_hosts=[known_hosts], interactive=False)
target.allow_agent = target.look_for_keys = False
target.hub_api_url = api_url
with Session.open(target.name) as session:
    apply.apply(target, answers, session, on_progress=die)
print("not killed")
"""


@pytest.mark.parametrize("kill_at,expect_written", [("write-config", False), ("reload-hub", True)])
def test_wizard_killed_mid_apply_then_resumed(sshd_hub, tmp_path, kill_at, expect_written):
    answers = rig_answers(sshd_hub)
    public, secret = rig_documents(sshd_hub)
    (tmp_path / "answers.yaml").write_text(yamlio.dump(public))
    (tmp_path / "secrets.yaml").write_text(yamlio.dump(secret))
    old = config_file(sshd_hub).read_bytes()
    child = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "answers.yaml"), str(tmp_path / "secrets.yaml"),
                            str(sshd_hub.known_hosts), sshd_hub.hub_api_url, kill_at, str(sshd_hub.pid)],
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stdout + child.stderr
    after_crash = config_file(sshd_hub).read_bytes()
    with rig_target(sshd_hub, answers) as target, Session.open(target.name) as session:
        assert session.record("apply")["status"] == "in-progress"
        new = apply.render_text(answers, old.decode(), "2.0.0").encode()
        assert after_crash == (new if expect_written else old)  # whole files only
        plan, result = apply.apply(target, answers, session)
        assert result.ok, result.summary()
        assert session.record("apply")["status"] == "done"
    if expect_written:
        assert plan.resuming and [a.id for a in plan.actions] == ["reload-proxy", "reload-hub", "verify"]
    else:
        assert not plan.resuming and plan.actions[0].id == "backup"
    assert config_file(sshd_hub).read_bytes() == new
    last = sandbox.reloads(sshd_hub.prefix)[-1]
    assert (last["component"], last["config_sha256"]) == ("hub", sha(new))


INJECTIONS = {
    "client_id": "$(touch /tmp/tljh-wizard-canary)",
    "client_secret": "`touch /tmp/tljh-wizard-canary`; a\\nb: c",
    # group names are free text (spaces kept); GitHub organization names have a strict syntax and refuse these
    "allowed_groups": ["'; rm -rf ~; touch /tmp/tljh-wizard-canary; '", "a\\nb: c", "ünïcødé ☃ 日本語"],
}


def test_injection_strings_reach_config_yaml_literally(sshd_hub):
    canary = Path("/tmp/tljh-wizard-canary")
    canary.unlink(missing_ok=True)
    public, secret = rig_documents(sshd_hub, auth={
        "type": "generic", "authorize_url": "https://id.example.edu/authorize", "token_url": "https://id.example.edu/token",
        "userdata_url": "https://id.example.edu/userinfo", "groups_claim": "groups", "admin_users": ["alice"]})
    public["authenticator"].update(client_id=INJECTIONS["client_id"], allowed_groups=INJECTIONS["allowed_groups"])
    secret["authenticator"]["client_secret"] = INJECTIONS["client_secret"]
    answers = Answers.from_documents(public, secret)
    with rig_target(sshd_hub, answers) as target, Session.open(target.name) as session:
        _plan, result = apply.apply(target, answers, session)
    assert result.ok, result.summary()
    config = yamlio.loads(config_file(sshd_hub).read_text())
    section = config["auth"]["GenericOAuthenticator"]
    assert section["client_id"] == INJECTIONS["client_id"]
    assert section["client_secret"] == INJECTIONS["client_secret"]
    assert section["allowed_groups"] == INJECTIONS["allowed_groups"]
    assert set(config) == {"auth", "users", "https", "limits", "services", "user_environment"}
    assert {"client_id", "client_secret", "allowed_groups", "manage_groups", "allow_all"} <= set(section)
    assert not canary.exists()


def test_a_real_line_break_never_gets_that_far():
    with pytest.raises(Exception, match="one line|line break"):
        Answers().set("authenticator.client_id", "a\nb: c")


def test_secrets_never_in_process_listings_logs_or_state(sshd_hub):
    answers = rig_answers(sshd_hub, user=sshd_hub.password_user)
    sentinels = [CLIENT_SECRET.encode(), sshd_hub.sudo_password.encode()]
    leaks, samples, stop = [], [0], threading.Event()

    def sample():
        while not stop.is_set():
            for entry in os.listdir("/proc"):
                if entry.isdigit():
                    try:
                        cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
                    except OSError:
                        continue
                    leaks.extend(s for s in sentinels if s in cmdline)
            samples[0] += 1

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        with rig_target(sshd_hub, answers) as target, Session.open(target.name) as session:
            _plan, result = apply.apply(target, answers, session)
            session_dir = session.dir
    finally:
        stop.set()
        sampler.join()
    assert result.ok, result.summary()
    assert samples[0] > 3 and leaks == []
    for name in ("state.json", "wizard.log"):
        text = (session_dir / name).read_bytes()
        assert text and not any(s in text for s in sentinels), name
    assert CLIENT_SECRET in config_file(sshd_hub).read_text()


def test_a_hub_config_that_is_already_invalid_is_refused_before_anything_is_written():
    from tests.answers_samples import documents
    from wizard.answers import Answers, AnswersError
    from wizard.hub.apply import plan

    answers = Answers.from_documents(*documents("github"))
    with pytest.raises(AnswersError) as info:
        plan(answers, "limts:\n  memory: 1G\n")  # a typo the hub would silently ignore
    assert any(e.key == "limts" and "did you mean 'limits'" in e.message and "hub's own config.yaml" in e.message
               for e in info.value.errors)
