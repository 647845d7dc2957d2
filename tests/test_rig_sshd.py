"""Smoke tests of the sshd rig: a real SSH login, sudo both ways, and the TLJH tree it serves."""

import shlex
import subprocess

from wizard.hub import sandbox


def _ssh(hub, user, *command, stdin=None):
    """Run ``command`` over OpenSSH's client; the remote side gets it as one shell-quoted line."""
    return subprocess.run(hub.ssh_argv(user, shlex.join(command)), input=stdin, capture_output=True, timeout=60)


def test_ssh_command_with_passwordless_sudo(sshd_hub):
    done = _ssh(sshd_hub, sshd_hub.admin.name, "sudo", "-n", "cat", f"{sshd_hub.prefix}/config/config.yaml")
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode() == sandbox.PRISTINE_CONFIG
    assert _ssh(sshd_hub, sshd_hub.admin.name, "sudo", "-n", "id", "-u").stdout == b"0\n"


def test_sudo_password_user_needs_the_password_on_stdin(sshd_hub):
    user = sshd_hub.password_user.name
    refused = _ssh(sshd_hub, user, "sudo", "-n", "id", "-u")
    assert refused.returncode != 0 and b"password" in refused.stderr
    wrong = _ssh(sshd_hub, user, "sudo", "-S", "-k", "-p", "", "id", "-u", stdin=b"not-the-password\n")
    assert wrong.returncode != 0 and wrong.stdout == b"" and b"incorrect password" in wrong.stderr
    done = _ssh(sshd_hub, user, "sudo", "-S", "-k", "-p", "", "id", "-u", stdin=sshd_hub.sudo_password.encode() + b"\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"0\n"


def test_known_hosts_line_and_fingerprint_match_what_openssh_sees(sshd_hub):
    scanned = subprocess.run(["ssh-keyscan", "-p", str(sshd_hub.port), "-t", "ed25519", sshd_hub.host],
                             capture_output=True, text=True, timeout=30)
    line = next(l for l in scanned.stdout.splitlines() if not l.startswith("#"))
    assert line == sshd_hub.known_hosts_line
    listed = subprocess.run(["ssh-keygen", "-l", "-f", str(sshd_hub.known_hosts)], capture_output=True, text=True)
    assert listed.stdout.split()[1] == sshd_hub.host_key_fingerprint


def test_tree_is_tljh_shaped_and_reset_restores_it(sshd_hub):
    prefix = sshd_hub.prefix
    assert (prefix / "config" / "config.yaml").stat().st_mode & 0o777 == 0o600
    assert (prefix / "config" / "config.yaml").stat().st_uid == 0
    assert any(p.name.startswith("python-3.") for p in (prefix / "user" / "conda-meta").glob("*.json"))
    (prefix / "config" / "config.yaml").write_text("changed: true\n")
    (prefix / "state" / "acme.json").write_text("{}")
    sshd_hub.reset_tree()
    assert (prefix / "config" / "config.yaml").read_text() == sandbox.PRISTINE_CONFIG
    assert not (prefix / "state" / "acme.json").exists()


def test_standin_tljh_config_validates_and_records_reloads(sshd_hub):
    tool = f"{sshd_hub.prefix}/hub/bin/tljh-config"
    assert _ssh(sshd_hub, None, "sudo", "-n", tool, "set", "limits.memory", "2G").returncode == 0
    bad = _ssh(sshd_hub, None, "sudo", "-n", tool, "set", "limits.cpu", "lots")
    assert bad.returncode == 1 and b"limits.cpu" in bad.stderr
    assert _ssh(sshd_hub, None, "sudo", "-n", tool, "reload", "proxy").returncode == 0
    assert _ssh(sshd_hub, None, "sudo", "-n", tool, "reload", "hub").returncode == 0
    assert [r["component"] for r in sandbox.reloads(sshd_hub.prefix)] == ["proxy", "hub"]
    assert "memory: 2G" in (sshd_hub.prefix / "config" / "config.yaml").read_text()
