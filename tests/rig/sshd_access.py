"""An sshd laid out like a Debian/Ubuntu hub's, for the SSH access step (see TESTING.md and ``tests/rig/sshd.py``).

The rig's main sshd reads keys from a directory of its own and lets only its two users in; this one is what a hub
runs: ``Include DIR/sshd_config.d/*.conf`` as the first line (the rig's OWN drop-in directory — the machine's
``/etc/ssh`` is never touched), ``UsePAM yes``, ``PasswordAuthentication yes``, and keys from
``~/.ssh/authorized_keys`` (plus the rig's directory, for the operator's login as ``tljhw-admin``).

Fixtures:
- ``access_sshd`` (function): a factory ``access_sshd(include=True, extra="")`` starting such an sshd as a child
  process (``extra``: more lines for its config); each is stopped by PID afterwards.
- ``hub_names`` (function): unique hub user names for a test (``name("a")``, ``name("b", long=True)``); every
  ``jupyter-*`` account made for them is deleted (``userdel -r``) afterwards, whatever the test did.

Machine-wide: the rig users (``tests/rig/sshd.py``), and TLJH's groups ``jupyterhub-users``/``jupyterhub-admins``
with TLJH's sudoers rule — a stand-in of TLJH's ``tljh/installer.py`` ``ensure_usergroups`` — created idempotently
under the rig's lock and left in place.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.rig.process import die_with_parent, stop_process
from tests.rig.sshd import (
    ADMIN_USER,
    HOST,
    PASSWORD_USER,
    SETUP_LOCK,
    SSHD,
    SUDO_PASSWORD,
    _ensure_users,
    _fail,
    _free_port,
    _keygen,
    _run,
    _wait_for_banner,
    fingerprint,
    install_sudoers,
)

TLJH_SUDOERS = Path("/etc/sudoers.d/jupyterhub-admins")
# The rule TLJH's installer writes (tljh/installer.py ensure_usergroups).
TLJH_SUDOERS_TEXT = "%jupyterhub-admins ALL = (ALL) NOPASSWD: ALL\nDefaults exempt_group = jupyterhub-admins\n"


def ensure_tljh_groups() -> None:
    """Stand-in of TLJH's ``ensure_usergroups``: both groups and the admins' sudoers rule (idempotent, locked)."""
    with open(SETUP_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for group in ("jupyterhub-admins", "jupyterhub-users"):
            done = _run(["groupadd", "--force", group])
            if done.returncode != 0:
                _fail(f"groupadd {group} failed: {done.stderr}")
        install_sudoers(TLJH_SUDOERS, TLJH_SUDOERS_TEXT)


@dataclass
class AccessSshd:
    host: str
    port: int
    pid: int
    config: Path
    dropin_dir: Path
    log: Path
    client_key: Path  # the operator's key (tljhw-admin)
    known_hosts: Path
    host_fingerprint: str
    operator: str = ADMIN_USER
    password_user: str = PASSWORD_USER
    password: str = SUDO_PASSWORD

    def paths(self, **changes):
        from wizard.sshaccess.engine import SshdPaths

        return SshdPaths(sshd=changes.get("sshd", SSHD), config=str(self.config), dropin_dir=str(self.dropin_dir),
                         config_dir=str(self.config.parent))

    def target(self, **changes):
        """The operator's connection as the wizard makes it (paramiko, key, strict host key)."""
        from wizard.hub.ssh import SSHTarget

        target = SSHTarget(self.host, port=self.port, user=changes.get("user", self.operator),
                           key_file=str(changes.get("key_file", self.client_key)), allow_agent=False,
                           look_for_keys=False, known_hosts_files=[self.known_hosts],
                           own_known_hosts=self.known_hosts.with_name("wizard_known_hosts"))
        target.sshd_paths = self.paths(**{k: v for k, v in changes.items() if k == "sshd"})
        return target

    def ssh(self, user: str, key: Path, *command: str) -> subprocess.CompletedProcess:
        """The real OpenSSH client, BatchMode, strict host key, only ``key``."""
        argv = ["ssh", "-p", str(self.port), "-i", str(key), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={self.known_hosts}",
                "-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10",
                f"{user}@{self.host}", *command]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)

    def password_login(self, user: str, password: str) -> bool:
        """Does sshd let ``user`` in with ``password``? (paramiko: OpenSSH's client cannot type in BatchMode)"""
        import paramiko

        client = paramiko.SSHClient()
        client.load_host_keys(str(self.known_hosts))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(self.host, self.port, username=user, password=password, allow_agent=False,
                           look_for_keys=False, timeout=10)
            return True
        except paramiko.AuthenticationException:
            return False
        finally:
            client.close()

    def reload(self) -> None:
        os.kill(self.pid, 1)


def _config(port: int, workdir: Path, keys_dir: Path, include: bool, extra: str = "") -> str:
    head = f"Include {workdir / 'sshd_config.d'}/*.conf\n" if include else ""
    return (head + f"Port {port}\nListenAddress {HOST}\nHostKey {workdir / 'host_ed25519'}\n"
            f"PidFile {workdir / 'sshd.pid'}\nAuthorizedKeysFile .ssh/authorized_keys {keys_dir}/%u\n"
            "PubkeyAuthentication yes\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\nUsePAM yes\n"
            "UseDNS no\nPermitRootLogin no\nSubsystem sftp internal-sftp\nLogLevel VERBOSE\n" + extra)


@pytest.fixture
def access_sshd(tmp_path_factory):
    if not os.access(SSHD, os.X_OK):
        _fail(f"{SSHD} is missing: install openssh-server (tests/run.sh does)")
    _ensure_users()
    ensure_tljh_groups()
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    started: list[tuple[subprocess.Popen, Path]] = []

    def start(include: bool = True, extra: str = "") -> AccessSshd:
        workdir = tmp_path_factory.mktemp("sshd-access")
        os.chmod(workdir, 0o700)
        (workdir / "sshd_config.d").mkdir(mode=0o755)
        _keygen(workdir / "host_ed25519")
        client_key = workdir / "operator_ed25519"
        _keygen(client_key)
        keys_dir = Path(tempfile.mkdtemp(prefix="tljh-wizard-access-", dir="/run"))
        os.chmod(keys_dir, 0o755)
        for name in (ADMIN_USER, PASSWORD_USER):
            (keys_dir / name).write_text(client_key.with_suffix(".pub").read_text())
            os.chmod(keys_dir / name, 0o644)
        log = workdir / "sshd.log"
        for _attempt in range(5):
            port = _free_port()
            config = workdir / "sshd_config"
            config.write_text(_config(port, workdir, keys_dir, include, extra))
            check = _run([SSHD, "-t", "-f", str(config)])
            if check.returncode != 0:
                _fail(f"sshd rejected its config: {check.stderr}")
            with open(log, "ab") as stderr:
                process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdin=subprocess.DEVNULL,
                                           stdout=stderr, stderr=stderr, preexec_fn=die_with_parent)
            started.append((process, keys_dir))
            try:
                _wait_for_banner(port, process, log, time.monotonic() + 10)
                break
            except pytest.fail.Exception:
                if process.poll() is not None and "Address already in use" in log.read_text(errors="replace"):
                    continue
                raise
        else:
            _fail("no free port after 5 attempts", log)
        host_public = " ".join((workdir / "host_ed25519.pub").read_text().split()[:2])
        known_hosts = workdir / "known_hosts"
        known_hosts.write_text(f"[{HOST}]:{port} {host_public}\n")
        return AccessSshd(HOST, port, process.pid, config, workdir / "sshd_config.d", log, client_key, known_hosts,
                          fingerprint(host_public))

    yield start
    for process, keys_dir in started:
        stop_process(process)
        shutil.rmtree(keys_dir, ignore_errors=True)


@pytest.fixture
def hub_names():
    """Unique hub user names; their ``jupyter-*`` accounts are deleted afterwards."""
    from wizard.sshaccess.naming import system_username

    made: list[str] = []

    def name(stem: str, long: bool = False) -> str:
        value = f"{stem}{secrets.token_hex(3)}"
        if long:
            value += "-with-a-very-long-name-" + secrets.token_hex(4)
        made.append(value)
        return value

    yield name
    with open(SETUP_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for value in made:
            account = system_username(value)
            # A session of the account that just ended may still be exiting: userdel refuses while it runs.
            deadline = time.monotonic() + 10
            while _run(["getent", "passwd", account]).returncode == 0:
                done = _run(["userdel", "--remove", account])
                if done.returncode in (0, 12):  # 12: the home could not be removed (the account is gone)
                    break
                if time.monotonic() > deadline:
                    _fail(f"could not delete the test account {account}: {done.stderr}")
                time.sleep(0.1)
