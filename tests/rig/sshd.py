"""A real OpenSSH sshd on a loopback port, standing in for a TLJH hub (see TESTING.md).

Fixtures:
- ``sshd_rig`` (session): starts ``/usr/sbin/sshd`` as a child process with its own config and ed25519 host key,
  with two test users (``tljhw-admin``: passwordless sudo; ``tljhw-sudopw``: sudo asks for ``SUDO_PASSWORD``), client
  keys (one plain, one with a passphrase), a TLJH-shaped tree owned by root under a temp prefix (built by
  ``wizard.hub.sandbox.create_tree``, with the ``tljh-config`` stand-in in ``hub/bin``) and a ``/hub/api`` stand-in.
  The tree has real hub and user environments (``wizard.hub.hubenv``): ``SSHHub.hub_python``
  (``PREFIX/hub/bin/python``) imports JupyterHub 5, oauthenticator, ldapauthenticator, nativeauthenticator,
  firstuseauthenticator, jupyterhub_idle_culler and the ``tljh`` STAND-IN (``tljh.configurer``, faithful to TLJH
  2.0.0's), so tests can run the hub's own code over SSH (``sudo PREFIX/hub/bin/python ...``);
  ``PREFIX/user/bin/python`` imports jupyter_server and ipykernel. ``SSHHub.services`` holds the loopback ports
  reserved for the hub, its proxy and the proxy's API.
- ``sshd_hub`` (function): the same rig with the TLJH tree reset to pristine for the test.
- ``real_hub`` (function): the rig with its hub made REAL (``wizard.hub.services.bring_up``): configurable-http-proxy
  and a JupyterHub process started as TLJH's unit starts it, from the tree's ``config.yaml`` through the ``tljh``
  stand-in; ``hub_api_url`` is the real ``/hub/api`` and ``tljh-config reload hub`` restarts the real hub. The hub is
  kept from one test to the next while its config.yaml is pristine and it runs (a start costs seconds), and rebuilt
  otherwise. What cannot run here is replaced, each named in ``wizard/hub/services.py`` and
  ``wizard/hub/standin_tljh/tljh/jupyterhub_config.py``: systemd -> the systemctl stand-in, Traefik ->
  configurable-http-proxy, TLJH's user-creating systemd spawner -> JupyterHub's local-process spawner.
- ``running_sshd(workdir, prefix)``: the same sshd as a context manager, for benchmarks.

A server that cannot start FAILS the run with sshd's stderr; it never skips.

The users and the sudoers file are machine-wide and shared by concurrent test sessions, so they are created
idempotently under a lock and left in place; everything else (keys, config, the authorized-keys files, the tree)
belongs to one session and is removed with it.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

from tests.rig.process import stop_process

SSHD = "/usr/sbin/sshd"
HOST = "127.0.0.1"
SUDO_PASSWORD = "rig-sudo-Pw-5e1f9a"  # a sentinel: tests check it never shows up in process listings or files
KEY_PASSPHRASE = "rig-key-Phrase-c3d7"
ADMIN_USER = "tljhw-admin"
PASSWORD_USER = "tljhw-sudopw"
SUDOERS_FILE = Path("/etc/sudoers.d/tljh-wizard-rig")
SUDOERS = (
    "# Test users of tljh-wizard's sshd rig (tests/rig/sshd.py).\n"
    f"{ADMIN_USER} ALL=(ALL) NOPASSWD:ALL\n"
    f"Defaults:{PASSWORD_USER} timestamp_timeout=0\n"
    f"{PASSWORD_USER} ALL=(ALL) ALL\n"
)
SETUP_LOCK = Path("/run/tljh-wizard-rig.lock")


@dataclass(frozen=True)
class RigUser:
    name: str
    sudo_password: str | None  # None: passwordless sudo


@dataclass(frozen=True)
class SSHHub:
    """Everything a test needs to reach the fixture hub."""

    host: str
    port: int
    admin: RigUser
    password_user: RigUser
    sudo_password: str
    client_key: Path  # ed25519, no passphrase
    passphrase_key: Path  # ed25519 protected by ``key_passphrase``
    key_passphrase: str
    known_hosts: Path  # a file holding ``known_hosts_line`` only
    known_hosts_line: str  # "[127.0.0.1]:PORT ssh-ed25519 AAAA..."
    host_public_key: str  # "ssh-ed25519 AAAA..."
    host_key_fingerprint: str  # "SHA256:..." as OpenSSH prints it
    prefix: Path  # the TLJH install prefix on the hub
    pid: int  # the listening sshd
    hub_api_url: str  # the /hub/api stand-in
    log: Path  # sshd's stderr
    python: str  # the interpreter the tljh-config stand-in runs with
    users: tuple[RigUser, ...] = field(default=())
    services: dict = field(default_factory=dict)  # hub/standin/services.json: ip, http_port, hub_port, ...

    @property
    def hub_python(self) -> Path:
        """The hub environment's interpreter (JupyterHub, the authenticators, the culler, ``tljh`` stand-in)."""
        return self.prefix / "hub" / "bin" / "python"

    @property
    def user_python(self) -> Path:
        """The user environment's interpreter (jupyter_server, ipykernel)."""
        return self.prefix / "user" / "bin" / "python"

    def reset_tree(self) -> None:
        from wizard.hub.sandbox import create_tree

        create_tree(self.prefix, python=self.python, hub_env=_ports(self.services))

    def ssh_argv(self, user: str | None = None, *command: str) -> list[str]:
        """The OpenSSH client command line for ``command`` on the hub, with strict host key checking."""
        return [
            "ssh", "-p", str(self.port), "-i", str(self.client_key), "-o", "IdentitiesOnly=yes",
            "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={self.known_hosts}",
            "-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            f"{user or self.admin.name}@{self.host}", *command,
        ]

    def session_pids(self) -> list[int]:
        """The per-connection sshd processes (children of the listener, and their sshd children)."""
        found, frontier = [], [self.pid]
        while frontier:
            parent = frontier.pop()
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    stat = (entry / "stat").read_text()
                    comm = (entry / "comm").read_text().strip()
                except OSError:
                    continue
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                if ppid == parent and comm.startswith("sshd"):
                    found.append(int(entry.name))
                    frontier.append(int(entry.name))
        return found


def _ports(services: dict) -> dict:
    return {key: services[key] for key in ("http_port", "hub_port", "proxy_api_port") if key in services}


def command_lines() -> list[list[str]]:
    """The argv of every process on this machine (the hub of the rig), read from /proc like ps does."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                raw = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if raw:
                found.append([part.decode("utf-8", "replace") for part in raw.rstrip(b"\0").split(b"\0")])
    return found


def _fail(message: str, log: Path | None = None) -> None:
    stderr = log.read_text(errors="replace") if log and log.exists() else ""
    pytest.fail(f"sshd rig: {message}\n--- sshd stderr ---\n{stderr}", pytrace=False)


def _run(argv: list[str], stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(argv, input=stdin, text=True, capture_output=True)


def _ensure_users() -> None:
    """Create the test users and their sudo rules once per machine (idempotent; serialised by a lock)."""
    with open(SETUP_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for name in (ADMIN_USER, PASSWORD_USER):
            if _run(["getent", "passwd", name]).returncode != 0:
                done = _run(["useradd", "--create-home", "--shell", "/bin/bash", name])
                if done.returncode not in (0, 9):  # 9: exists (another session won the race)
                    _fail(f"useradd {name} failed: {done.stderr}")
        # sshd with UsePAM no refuses a locked ('!') account: give one a disabled password, the other a real one.
        _run(["usermod", "-p", "*", ADMIN_USER])
        done = _run(["chpasswd"], stdin=f"{PASSWORD_USER}:{SUDO_PASSWORD}\n")
        if done.returncode != 0:
            _fail(f"chpasswd failed: {done.stderr}")
        install_sudoers(SUDOERS_FILE, SUDOERS)


def install_sudoers(path: Path, text: str) -> None:
    """``text`` as the sudoers drop-in ``path`` (0440), checked by ``visudo -c`` before it replaces anything; nothing
    is written when the file already holds it. The caller holds the rig's setup lock."""
    if path.exists() and path.read_text() == text:
        return
    tmp = path.with_name(f".{path.name}.tmp")  # sudo skips drop-ins whose names contain a dot
    tmp.write_text(text)
    os.chmod(tmp, 0o440)
    check = _run(["visudo", "-c", "-f", str(tmp)])
    if check.returncode != 0:
        tmp.unlink()
        _fail(f"sudoers rule {path.name} rejected: {check.stdout}{check.stderr}")
    os.replace(tmp, path)


def _keygen(path: Path, passphrase: str = "") -> None:
    done = _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", path.name, "-f", str(path)])
    if done.returncode != 0:
        _fail(f"ssh-keygen failed: {done.stderr}")
    os.chmod(path, 0o600)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _wait_for_banner(port: int, process: subprocess.Popen, log: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _fail(f"sshd exited with status {process.returncode}", log)
        try:
            with socket.create_connection((HOST, port), timeout=1) as sock:
                if sock.recv(64).startswith(b"SSH-2.0-"):
                    return
        except OSError:
            pass
        # Poll the listener: sshd gives no readiness signal in -D mode besides accepting connections.
        time.sleep(0.01)
    _fail("sshd did not answer within 10 s", log)


def fingerprint(public_key_line: str) -> str:
    """OpenSSH's ``SHA256:...`` fingerprint of ``"TYPE BASE64 [comment]"``."""
    blob = base64.b64decode(public_key_line.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def start_sshd(workdir: Path, prefix: Path):
    """Start the rig's sshd; returns the hub description, the process, the authorized-keys dir and the API stand-in."""
    from wizard.hub.sandbox import HubApiStandIn, create_tree

    if not os.access(SSHD, os.X_OK):
        _fail(f"{SSHD} is missing: install openssh-server (tests/run.sh does)")
    _ensure_users()
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)

    host_key = workdir / "host_ed25519"
    _keygen(host_key)
    client_key, passphrase_key = workdir / "client_ed25519", workdir / "client_passphrase_ed25519"
    _keygen(client_key)
    _keygen(passphrase_key, KEY_PASSPHRASE)

    # sshd reads authorized keys as the user and checks every directory above them (StrictModes), so they live in
    # a root-owned 0755 directory outside pytest's private temp dirs.
    keys_dir = Path(tempfile.mkdtemp(prefix="tljh-wizard-rig-", dir="/run"))
    os.chmod(keys_dir, 0o755)
    public = client_key.with_suffix(".pub").read_text() + passphrase_key.with_suffix(".pub").read_text()
    for name in (ADMIN_USER, PASSWORD_USER):
        (keys_dir / name).write_text(public)
        os.chmod(keys_dir / name, 0o644)

    create_tree(prefix, python=sys.executable, hub_env={})
    services = json.loads((prefix / "hub" / "standin" / "services.json").read_text())
    log = workdir / "sshd.log"
    for _attempt in range(5):
        port = _free_port()
        config = workdir / "sshd_config"
        config.write_text(
            f"Port {port}\nListenAddress {HOST}\nHostKey {host_key}\nPidFile {workdir / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {keys_dir}/%u\nPubkeyAuthentication yes\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nUsePAM no\nUseDNS no\nPermitRootLogin no\n"
            f"AllowUsers {ADMIN_USER} {PASSWORD_USER}\nSubsystem sftp internal-sftp\nLogLevel VERBOSE\n"
        )
        check = _run([SSHD, "-t", "-f", str(config)])
        if check.returncode != 0:
            _fail(f"sshd rejected its config: {check.stderr}")
        with open(log, "wb") as stderr:
            process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdin=subprocess.DEVNULL,
                                       stdout=stderr, stderr=stderr)
        try:
            _wait_for_banner(port, process, log, time.monotonic() + 10)
            break
        except pytest.fail.Exception:
            if process.poll() is not None and "Address already in use" in log.read_text(errors="replace"):
                continue  # another process took the port between probing and binding
            process.kill()
            raise
    else:
        _fail("no free port after 5 attempts", log)

    host_public = " ".join(host_key.with_suffix(".pub").read_text().split()[:2])
    known_line = f"[{HOST}]:{port} {host_public}"
    known_hosts = workdir / "known_hosts"
    known_hosts.write_text(known_line + "\n")
    api = HubApiStandIn(prefix)
    admin = RigUser(ADMIN_USER, None)
    password_user = RigUser(PASSWORD_USER, SUDO_PASSWORD)
    hub = SSHHub(
        host=HOST, port=port, admin=admin, password_user=password_user, sudo_password=SUDO_PASSWORD,
        client_key=client_key, passphrase_key=passphrase_key, key_passphrase=KEY_PASSPHRASE,
        known_hosts=known_hosts, known_hosts_line=known_line, host_public_key=host_public,
        host_key_fingerprint=fingerprint(host_public), prefix=prefix, pid=process.pid, hub_api_url=api.url,
        log=log, python=sys.executable, users=(admin, password_user), services=services,
    )
    return hub, process, keys_dir, api


@contextlib.contextmanager
def running_sshd(workdir: Path, prefix: Path) -> Iterator[SSHHub]:
    """The rig's sshd for the ``with`` block (the session fixture, benchmarks); afterwards the API stand-in is
    closed, sshd stopped by PID and the authorized-keys directory removed."""
    hub, process, keys_dir, api = start_sshd(workdir, prefix)
    try:
        yield hub
    finally:
        from wizard.hub import services

        services.stop_all(prefix)
        api.close()
        stop_process(process)
        shutil.rmtree(keys_dir, ignore_errors=True)


def make_real(hub: SSHHub, timeout: float = 180.0, start_hub: bool = True) -> SSHHub:
    """``hub`` with its hub made real (see ``real_hub``), reusing a running one whose config.yaml is pristine.
    ``start_hub=False``, for a test whose first step restarts the hub (an apply): a rebuilt tree's hub is left for
    that restart to start (one start of the hub instead of two; the proxy runs)."""
    import dataclasses

    from wizard.hub import services
    from wizard.hub.sandbox import PRISTINE_CONFIG

    prefix = hub.prefix
    config = prefix / "config" / "config.yaml"
    reusable = (services.real_mode(prefix) and services.state(prefix, "jupyterhub") == "active"
                and services.state(prefix, "traefik") == "active" and config.exists()
                and config.read_text() == PRISTINE_CONFIG)
    if not reusable:
        hub.reset_tree()
        try:
            services.bring_up(prefix, timeout, hub=start_hub)
        except services.ServiceError as exc:
            pytest.fail(f"real hub rig: {exc}", pytrace=False)
    else:
        (prefix / "hub" / "standin" / "reloads.log").unlink(missing_ok=True)
    return dataclasses.replace(hub, hub_api_url=services.hub_api_url(prefix))


@pytest.fixture(scope="session")
def sshd_rig(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("sshd")
    os.chmod(workdir, 0o700)
    prefix = tmp_path_factory.mktemp("tljh") / "opt-tljh"
    with running_sshd(workdir, prefix) as hub:
        yield hub


@pytest.fixture
def real_hub(sshd_rig):
    """The rig with a real JupyterHub behind it (see the module docstring)."""
    return make_real(sshd_rig)


@pytest.fixture
def sshd_hub(sshd_rig):
    """The rig with a pristine TLJH tree for this test."""
    sshd_rig.reset_tree()
    return sshd_rig
