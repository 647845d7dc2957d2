"""The SSH target against the real sshd rig: host keys, auth, sudo both ways, one connection, errors, files."""

import os
import socket
import subprocess
from pathlib import Path

import pytest

from tests.rig.sshd import command_lines
from wizard.hub.ssh import SSHTarget
from wizard.hub.target import (
    CommandTimeout,
    ConnectError,
    ConnectionLost,
    HostKeyChanged,
    HostKeyUnknown,
    SudoError,
)


def target(hub, user=None, known=True, **options):
    settings = dict(port=hub.port, user=user or hub.admin.name, key_file=str(hub.client_key), allow_agent=False,
                    look_for_keys=False, known_hosts_files=[hub.known_hosts] if known else [], prefix=str(hub.prefix))
    settings.update(options)
    return SSHTarget(hub.host, **settings)


def test_unknown_host_key_is_refused_without_acceptance(sshd_hub, tmp_path):
    own = tmp_path / "own_known_hosts"
    with pytest.raises(HostKeyUnknown) as caught:
        target(sshd_hub, known=False, own_known_hosts=own).connect()
    assert caught.value.fingerprint == sshd_hub.host_key_fingerprint
    assert sshd_hub.host_key_fingerprint in str(caught.value)
    assert not own.exists()
    declined = []
    with pytest.raises(HostKeyUnknown):
        target(sshd_hub, known=False, own_known_hosts=own,
               accept_host_key=lambda *shown: declined.append(shown) or False).connect()
    assert declined == [(f"[127.0.0.1]:{sshd_hub.port}", "ssh-ed25519", sshd_hub.host_key_fingerprint)]
    assert not own.exists()


def test_unknown_host_key_accepted_is_remembered_in_the_wizards_file(sshd_hub, tmp_path):
    own = tmp_path / "state" / "known_hosts"
    shown = []
    with target(sshd_hub, known=False, own_known_hosts=own, accept_host_key=lambda *a: shown.append(a) or True) as hub:
        assert hub.run(["echo", "hello"]).stdout == b"hello\n"
    assert shown[0][2] == sshd_hub.host_key_fingerprint
    assert own.read_text() == sshd_hub.known_hosts_line + "\n"
    assert own.stat().st_mode & 0o777 == 0o600
    with target(sshd_hub, known=False, own_known_hosts=own) as again:  # known now: no question asked
        assert again.run(["true"]).ok


def test_changed_host_key_is_refused_naming_both_fingerprints(sshd_hub, tmp_path):
    other = tmp_path / "other_host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    other_line = other.with_suffix(".pub").read_text().split()
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd_hub.port} {other_line[0]} {other_line[1]}\n")
    from tests.rig.sshd import fingerprint

    old_fp = fingerprint(" ".join(other_line[:2]))
    accepted = []
    with pytest.raises(HostKeyChanged) as caught:
        target(sshd_hub, known_hosts_files=[known], own_known_hosts=tmp_path / "own",
               accept_host_key=lambda *a: accepted.append(a) or True).connect()
    message = str(caught.value)
    assert old_fp in message and sshd_hub.host_key_fingerprint in message and str(known) in message
    assert accepted == []  # a changed key is never offered for acceptance
    assert known.read_text().count("\n") == 1 and not (tmp_path / "own").exists()


def test_pinned_host_key_accepts_the_right_key_and_refuses_another(sshd_hub, tmp_path):
    with target(sshd_hub, known=False, own_known_hosts=tmp_path / "own",
                pinned_host_key=sshd_hub.host_key_fingerprint) as hub:
        assert hub.run(["true"]).ok
    wrong = "SHA256:" + "A" * 43
    with pytest.raises(HostKeyChanged) as caught:  # the pin wins even over a known_hosts entry
        target(sshd_hub, own_known_hosts=tmp_path / "own2", pinned_host_key=wrong).connect()
    assert wrong in str(caught.value) and sshd_hub.host_key_fingerprint in str(caught.value)


def test_sudo_passwordless(sshd_hub):
    with target(sshd_hub) as hub:
        assert hub.run(["id", "-u"], sudo=True).stdout == b"0\n"
        assert hub.run(["id", "-un"]).stdout.decode().strip() == sshd_hub.admin.name


def test_sudo_with_password_on_stdin_and_the_data_after_it(sshd_hub):
    user = sshd_hub.password_user
    with target(sshd_hub, user=user.name, sudo_password=user.sudo_password) as hub:
        assert hub.run(["id", "-u"], sudo=True).stdout == b"0\n"
        assert hub.run(["cat"], sudo=True, stdin=b"payload\n").stdout == b"payload\n"  # password not passed on
        hub.write_file(sshd_hub.prefix / "config" / "probe.txt", b"as root\n")
    probe = sshd_hub.prefix / "config" / "probe.txt"
    assert probe.read_bytes() == b"as root\n" and probe.stat().st_uid == 0


def test_sudo_password_missing_or_wrong_is_a_clear_error(sshd_hub):
    user = sshd_hub.password_user
    with target(sshd_hub, user=user.name) as hub, pytest.raises(SudoError, match="password"):
        hub.run(["id", "-u"], sudo=True)
    with target(sshd_hub, user=user.name, sudo_password="wrong-password") as hub, \
            pytest.raises(SudoError, match="wrong sudo password"):
        hub.run(["id", "-u"], sudo=True)


def test_key_with_passphrase(sshd_hub):
    with pytest.raises(ConnectError, match="passphrase") as caught:
        target(sshd_hub, key_file=str(sshd_hub.passphrase_key)).connect()
    assert caught.value.kind == "auth"
    with pytest.raises(ConnectError, match="wrong passphrase"):
        target(sshd_hub, key_file=str(sshd_hub.passphrase_key), key_passphrase="nope").connect()
    with target(sshd_hub, key_file=str(sshd_hub.passphrase_key), key_passphrase=sshd_hub.key_passphrase) as hub:
        assert hub.run(["true"]).ok


def test_agent_keys(sshd_hub, tmp_path, monkeypatch):
    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
    try:
        env = {**os.environ, "SSH_AUTH_SOCK": str(sock)}
        for _ in range(200):  # ssh-add retries until the agent's socket accepts
            if subprocess.run(["ssh-add", str(sshd_hub.client_key)], env=env, capture_output=True).returncode == 0:
                break
        monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
        with target(sshd_hub, key_file=None, allow_agent=True) as hub:
            assert hub.run(["id", "-un"]).stdout.decode().strip() == sshd_hub.admin.name
    finally:
        agent.terminate()
        agent.wait()


def test_auth_failure(sshd_hub, tmp_path):
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    with pytest.raises(ConnectError, match="refused") as caught:
        target(sshd_hub, key_file=str(stranger)).connect()
    assert caught.value.kind == "auth"


def test_dns_failure(sshd_hub):
    def no_such_name(*_args):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(ConnectError, match="resolve") as caught:
        target(sshd_hub, resolve=no_such_name).connect()
    assert caught.value.kind == "dns"


def test_connection_refused(sshd_hub):
    with socket.socket() as held:  # bound but not listening: connecting to it is refused
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        with pytest.raises(ConnectError, match="refused") as caught:
            target(sshd_hub, port=port).connect()
    assert caught.value.kind == "refused"


def test_handshake_timeout(sshd_hub):
    with socket.socket() as silent:  # accepts connections (the kernel does) but never speaks SSH
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        with pytest.raises(ConnectError) as caught:
            target(sshd_hub, port=silent.getsockname()[1], connect_timeout=1).connect()
    assert caught.value.kind == "timeout"


def test_one_connection_for_everything_and_round_trips_counted(sshd_hub):
    with target(sshd_hub) as hub:
        path = sshd_hub.prefix / "config" / "config.yaml"
        hub.write_file(path, b"users: {}\n", lock=str(path) + ".lock")
        assert hub.read_file(path) == b"users: {}\n"
        for _ in range(3):
            hub.run(["true"])
        assert hub.connections == 1
        assert hub.round_trips == 5
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in path.parent.iterdir() if p.name.startswith(".config.yaml")) == []


def test_write_file_mode_owner_and_missing_file(sshd_hub):
    with target(sshd_hub) as hub:
        path = sshd_hub.prefix / "state" / "public.txt"
        hub.write_file(path, b"x", mode=0o644, owner=f"{sshd_hub.admin.name}:{sshd_hub.admin.name}")
        with pytest.raises(FileNotFoundError):
            hub.read_file(sshd_hub.prefix / "state" / "absent")
    import pwd

    assert path.stat().st_mode & 0o777 == 0o644
    assert pwd.getpwuid(path.stat().st_uid).pw_name == sshd_hub.admin.name


def test_dropped_connection_is_reopened_once_and_the_command_replayed(sshd_hub):
    with target(sshd_hub) as hub:
        assert hub.run(["true"]).ok
        for pid in sshd_hub.session_pids():
            os.kill(pid, 9)
        assert hub.run(["echo", "again"]).stdout == b"again\n"
        assert hub.connections == 2


def test_a_stream_that_cannot_be_replayed_reports_connection_lost(sshd_hub):
    class Unseekable:
        def __init__(self):
            self.sent = False

        def read(self, _size):
            if not self.sent:
                self.sent = True
                for pid in sshd_hub.session_pids():  # the connection dies while the command reads its input
                    os.kill(pid, 9)
                return b"data"
            return b""

    with target(sshd_hub) as hub:
        hub.run(["true"])
        with pytest.raises(ConnectionLost, match="resume"):
            hub.run(["sh", "-c", "cat >/dev/null; sleep 5"], stdin=Unseekable())
        assert hub.run(["true"]).ok and hub.connections == 2


def test_timeout_stops_the_command_on_the_hub(sshd_hub):
    marker = "31.4159"
    with target(sshd_hub) as hub:
        with pytest.raises(CommandTimeout):
            hub.run(["sleep", marker], sudo=True, timeout=1)
    assert ["sleep", marker] not in command_lines()  # the hub is this machine


def test_output_streams_line_by_line_and_to_a_sink(sshd_hub, tmp_path):
    lines = []
    with target(sshd_hub) as hub:
        hub.run(["sh", "-c", "echo one; echo two >&2; printf three"], on_output=lambda *a: lines.append(a))
        with open(tmp_path / "sink", "wb") as sink:
            result = hub.run(["head", "-c", "300000", "/dev/zero"], stdout_to=sink)
    assert sorted(lines) == [("stderr", "two"), ("stdout", "one"), ("stdout", "three")]
    assert result.stdout == b"" and (tmp_path / "sink").stat().st_size == 300000


def test_arguments_reach_the_hub_verbatim(sshd_hub):
    nasty = ["$(touch /tmp/canary-ssh)", "`id`", "'; rm -rf ~; '", "a\nb: c", "ünïcødé ☃", "", "*"]
    with target(sshd_hub) as hub:
        out = hub.run(["printf", "%s\\0", *nasty]).stdout
    assert out.split(b"\0")[:-1] == [n.encode() for n in nasty]
    assert not Path("/tmp/canary-ssh").exists()


def test_users_known_hosts_is_the_default_and_hashed_entries_work(sshd_hub, tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    known = home / ".ssh" / "known_hosts"
    known.write_text(sshd_hub.known_hosts_line + "\n")
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(known)], check=True, capture_output=True)
    assert sshd_hub.host not in known.read_text()  # hashed, as Ubuntu's HashKnownHosts writes them
    monkeypatch.setenv("HOME", str(home))
    with SSHTarget(sshd_hub.host, port=sshd_hub.port, user=sshd_hub.admin.name, key_file=str(sshd_hub.client_key),
                   allow_agent=False, look_for_keys=False, own_known_hosts=tmp_path / "own") as hub:
        assert hub.run(["true"]).ok and hub.host_key_fingerprint == sshd_hub.host_key_fingerprint
    assert not (tmp_path / "own").exists()


def test_write_waits_for_tljh_config_lock(sshd_hub):
    import fcntl

    from wizard.hub.target import LockBusy

    path = sshd_hub.prefix / "config" / "config.yaml"
    before = path.read_bytes()
    with open(f"{path}.lock", "w") as lock, target(sshd_hub) as hub:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as tljh-config does while it edits the file
        with pytest.raises(LockBusy, match="tljh-config"):
            hub.write_file(path, b"users: {}\n", lock=f"{path}.lock", timeout=2)
        assert path.read_bytes() == before
        fcntl.flock(lock, fcntl.LOCK_UN)
        hub.write_file(path, b"users: {}\n", lock=f"{path}.lock", timeout=5)
    assert path.read_bytes() == b"users: {}\n"
