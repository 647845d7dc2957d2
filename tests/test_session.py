"""Sessions: private files, atomic state, one wizard per session, stale locks taken over, list and forget."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from wizard.session import Session, SessionError, SessionLocked, list_sessions, session_name

NAME = "ubuntu@hub.example.edu:22"


def _mode(path):
    return path.stat().st_mode & 0o777


def test_state_is_private_and_saved_after_every_answer(_isolated_state):
    with Session.open(NAME) as session:
        session.accept("connection.host", "hub.example.edu")
        session.accept("connection.sudo_password", "SENTINEL-sudo")
        state = json.loads((session.dir / "state.json").read_text())
        assert state["answers"]["connection"]["host"] == "hub.example.edu"
        assert "SENTINEL-sudo" not in (session.dir / "state.json").read_text()
        assert "SENTINEL-sudo" in (session.dir / "secrets.json").read_text()
        for path in (_isolated_state, _isolated_state / "sessions", session.dir):
            assert _mode(path) == 0o700
        for path in session.dir.iterdir():
            if path.is_file():
                assert _mode(path) == 0o600, path
        assert not [p for p in session.dir.iterdir() if p.name.endswith(".tmp")]


def test_a_bad_answer_is_refused_and_not_saved():
    with Session.open(NAME) as session:
        with pytest.raises(ValueError, match="connection.port"):
            session.accept("connection.port", "ssh")
    with Session.open(NAME) as session:
        assert not session.answers.answered("connection.port")


def test_session_name_and_step_progress():
    assert session_name("hub.example.edu", "ubuntu", 22) == NAME
    assert session_name("2001:db8::1", None, 2222) == "root@[2001:db8::1]:2222"
    with Session.open(NAME) as session:
        session.go_to("authenticator", finished="connect")
        session.journal("write config.yaml", "intent", sha256="abc")
    with Session.open(NAME) as session:
        assert session.current_step == "authenticator"
        assert session.finished_steps == ["connect"]
        assert session.state["journal"][-1]["action"] == "write config.yaml"


def test_a_second_wizard_cannot_drive_the_same_session():
    with Session.open(NAME):
        with pytest.raises(SessionLocked, match=f"process {os.getpid()}"):
            Session.open(NAME)
    Session.open(NAME).close()  # released on close


def test_a_stale_lock_from_a_dead_process_is_taken_over():
    script = textwrap.dedent(f"""
        import os
        from wizard.session import Session
        s = Session.open({NAME!r})
        s.accept("connection.host", "hub.example.edu")
        os._exit(0)  # dies holding the lock, without closing
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    lock_text = (Session.open(NAME, lock=False).dir / "lock").read_text()
    assert lock_text.strip().isdigit() and int(lock_text) != os.getpid()
    with Session.open(NAME) as session:
        assert session.answers.get("connection.host") == "hub.example.edu"
        assert (session.dir / "lock").read_text().strip() == str(os.getpid())


def test_list_and_forget_through_the_cli():
    with Session.open(NAME) as session:
        session.go_to("https")
    Session.open("demo").close()
    result = subprocess.run([sys.executable, "-m", "wizard", "sessions"], capture_output=True, text=True, check=True)
    assert NAME in result.stdout and "HTTPS" in result.stdout and "demo" in result.stdout
    listed = json.loads(subprocess.run([sys.executable, "-m", "wizard", "sessions", "--json"], capture_output=True,
                                       text=True, check=True).stdout)
    assert {item["name"] for item in listed} == {NAME, "demo"}
    subprocess.run([sys.executable, "-m", "wizard", "sessions", "--forget", "demo"], check=True, capture_output=True)
    assert [info.name for info in list_sessions()] == [NAME]


def test_forgetting_a_session_in_use_is_refused():
    with Session.open(NAME):
        result = subprocess.run([sys.executable, "-m", "wizard", "sessions", "--forget", NAME], capture_output=True,
                                text=True)
        assert result.returncode == 2 and "in use" in result.stderr
    assert list_sessions()


@pytest.mark.parametrize("name", ["../etc", ".hidden", "a/b", "", "x" * 300])
def test_bad_session_names_are_refused(name):
    with pytest.raises(SessionError):
        Session.open(name)


def test_corrupt_state_is_reported_not_a_traceback():
    Session.open(NAME).close()
    with Session.open(NAME, lock=False) as session:
        (session.dir / "state.json").write_text("{not json")
    with pytest.raises(SessionError, match="unreadable"):
        Session.open(NAME)


def test_the_log_masks_secret_answers():
    with Session.open(NAME) as session:
        session.accept("authenticator.type", "github")
        session.accept("authenticator.client_secret", "SENTINEL-client-secret")
        session.logger().info("connecting with %s", "SENTINEL-client-secret")
        text = session.log_path.read_text()
        assert "SENTINEL" not in text and "********" in text
        assert _mode(session.log_path) == 0o600


def test_a_shared_state_root_keeps_its_mode(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    monkeypatch.setenv("TLJH_WIZARD_STATE_DIR", str(shared))
    with Session.open(NAME) as session:
        assert _mode(shared) == 0o755  # the operator's folder, untouched
        assert _mode(shared / "sessions") == 0o700 and _mode(session.dir) == 0o700
