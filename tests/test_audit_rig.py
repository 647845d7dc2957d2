"""`tljh-wizard check` against the fixture hub (real sshd, BIND, Pebble, a REAL JupyterHub) after a full setup: a
clean audit, smoke test included, exits 0; then each drift, injected in turn and undone, gives its own finding and exit
code, a broken user environment fails ``check --smoke`` at the spawn; the hub's files are byte-identical before and
after every check, but for what the running hub itself writes (its log, activity times in its database).

The setup is the wizard's own engines end to end: a certificate issued by Pebble through DNS-01 on BIND and installed
on the hub (``wizard.https.issue``), the environment frozen, a backup bundle pulled and the answers applied with the
smoke test's credential (the plan's ``smoke-credential`` action) on the rig's real hub (``real_hub``,
tests/rig/sshd.py: JupyterHub behind configurable-http-proxy). The hub's HTTPS front is ``TLSServer``
(tests/rig/pki.py), a stand-in for Traefik's TLS side that serves whatever certificate config.yaml's ``https.tls``
files hold at each handshake.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.rig.bind import BindFixture, BindServer, new_tsig_secret, zone_text
from tests.rig.pebble import PebbleFixture, PebbleServer
from tests.rig.pki import TestPKI, TLSServer
from tests.rig.sshd import make_real
from tests.rig.web import WebFront
from tests.support.hubs import jupyter_server_renamed
from wizard.environment import sample
from wizard.environment.snapshot import freeze_hub
from wizard.hub import apply, backup
from wizard.hub.ssh import SSHTarget, wizard_known_hosts
from wizard.session import Session, session_name

ROOT = Path(__file__).resolve().parent.parent
ZONE = "audit.test."
DOMAIN = "hub.audit.test"
ADDRESS = "127.0.0.1"  # the hub's "reserved IP": where BIND points the domain and the proxy stand-in listens


# What the running hub and proxy write by themselves, whoever asks: their logs (the journal's stand-in) and the
# hub's database (compared row by row instead, by ``hub_database``).
RUNTIME_FILES = {"hub/standin/jupyterhub.log", "hub/standin/traefik.log", "state/jupyterhub.sqlite",
                 "state/jupyterhub.sqlite-journal"}


def hub_files(prefix: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under the hub's TLJH prefix but ``RUNTIME_FILES``: content and mode."""
    out = {}
    for path in sorted(prefix.rglob("*")):
        name = str(path.relative_to(prefix))
        if path.is_file() and not path.is_symlink() and name not in RUNTIME_FILES:
            out[name] = (path.read_bytes(), path.stat().st_mode)
    return out


def hub_database(prefix: Path) -> dict[str, list[tuple]]:
    """Every row of the hub's database (users, servers, tokens, OAuth clients, roles, services...) without its
    DATETIME columns (activity times the hub updates on its own)."""
    db = sqlite3.connect(f"file:{prefix / 'state' / 'jupyterhub.sqlite'}?mode=ro", uri=True)
    try:
        out = {}
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
            columns = [name for _, name, kind, *_ in db.execute(f"PRAGMA table_info({table})")
                       if kind.upper() != "DATETIME"]
            out[table] = sorted(db.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall(), key=repr)
        return out
    finally:
        db.close()


def hub_state(prefix: Path) -> tuple[dict, dict]:
    return hub_files(prefix), hub_database(prefix)


class Rig:
    """The hub set up by the wizard, and a way to run `tljh-wizard check` on it."""

    def __init__(self, hub, bind, session_name_: str, tls: TLSServer, trust: Path, http: WebFront, sources: Path):
        self.hub, self.bind, self.name, self.tls, self.trust = hub, bind, session_name_, tls, trust
        self.http, self.sources = http, sources

    def run_check(self, *extra: str) -> subprocess.CompletedProcess:
        """`tljh-wizard check` as cron would run it; the hub's files must be byte-identical afterwards."""
        before = hub_state(self.hub.prefix)
        result = subprocess.run(
            [sys.executable, "-m", "wizard", "check", self.name, "--resolver", self.bind.address,
             "--nameserver-port", str(self.bind.port), "--tls-address", f"{ADDRESS}:{self.tls.port}",
             "--ca-file", str(self.trust), "--http-address", f"{ADDRESS}:{self.http.port}",
             "--probe-sources", str(self.sources), "--hub-api-url", self.hub.hub_api_url, *extra],
            capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
        after = hub_state(self.hub.prefix)
        assert after[0] == before[0], f"check changed files on the hub: {changed(before[0], after[0])}"
        assert after[1] == before[1], "check left rows in the hub's database"
        assert result.stderr == "", result.stderr
        return result

    def check(self, *extra: str) -> tuple[int, dict]:
        result = self.run_check("--json", *extra)
        report = json.loads(result.stdout)
        assert report["exit_code"] == result.returncode
        return result.returncode, report

    def smoke_leftovers(self) -> list[str]:
        """What of the smoke test's temporary user is still on the hub: in the hub's API (asked with the smoke
        credential itself) or database, as a process running from the user environment, as a home."""
        from wizard.hub import services, smoke

        prefix = self.hub.prefix
        left = []
        token = (prefix / "state" / "tljh-wizard" / "smoke-token").read_text().strip()
        request = urllib.request.Request(f"{self.hub.hub_api_url}/users/{smoke.USER}",
                                         headers={"Authorization": f"token {token}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                left.append(f"the hub API answers {response.status} for the user")
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                left.append(f"the hub API answers {exc.code} for the user")
        db = sqlite3.connect(f"file:{prefix / 'state' / 'jupyterhub.sqlite'}?mode=ro", uri=True)
        try:
            if db.execute("SELECT 1 FROM users WHERE name = ?", (smoke.USER,)).fetchall():
                left.append("the user in the hub's database")
            if db.execute("SELECT identifier FROM oauth_clients WHERE identifier LIKE ?",
                          (f"%{smoke.USER}",)).fetchall():
                left.append("its server's OAuth client in the hub's database")
            if db.execute("SELECT 1 FROM spawners UNION ALL SELECT 1 FROM servers").fetchall():
                left.append("a server in the hub's database")
        finally:
            db.close()
        user_env = f"{prefix}/user/".encode()
        for pid in services.tree_processes(prefix):
            try:
                if user_env in Path(f"/proc/{pid}/cmdline").read_bytes():
                    left.append(f"process {pid} runs from the user environment")
            except OSError:
                continue
        if (prefix / "standin-homes" / smoke.USER).exists():
            left.append("its home")
        return left


def changed(before: dict, after: dict) -> list[str]:
    return sorted(name for name in set(before) | set(after) if before.get(name) != after.get(name))


def problems(report: dict) -> dict[str, tuple[str, str]]:
    return {f["id"]: (f["status"], f["summary"]) for f in report["findings"] if f["status"] in ("warning", "error")}


def answers_for(hub, bind, pebble) -> dict:
    return {
        "connection.host": hub.host, "connection.port": hub.port, "connection.user": hub.admin.name,
        "connection.key_file": str(hub.client_key), "connection.tljh_prefix": str(hub.prefix),
        "authenticator.type": "github", "authenticator.client_id": "audit-client",
        "authenticator.client_secret": "SENTINEL-audit-client-secret", "authenticator.allowed_organizations":
            ["example-org"], "authenticator.admin_users": ["alice"],
        "domain.name": DOMAIN, "domain.reserved_ipv4": ADDRESS, "domain.ip_reserved_confirmed": True,
        "domain.resolvers": [bind.address],
        "https.mode": "acme-dns", "https.email": "admin@audit.test", "https.tsig_server": bind.address,
        "https.tsig_zone": bind.zone, "https.tsig_key_name": bind.key_name, "https.tsig_secret": bind.key_secret,
        "https.tos_agreed": True, "https.staging_directory": pebble.directory_url,
        "https.production_directory": pebble.directory_url,
        "limits.memory": "2G", "limits.cpu": 1, "limits.cull_timeout": 3600, "limits.cull_every": 300,
        "environment.default_app": "jupyterlab",
    }


@pytest.fixture(scope="module")
def dns_and_ca(tmp_path_factory):
    """BIND serving the hub's zone and its parent (the DNS check climbs to ``test.`` for CAA, as on the internet),
    and Pebble resolving through it."""
    key_name, secret = "audit-key.", new_tsig_secret()
    zones = {"test.": zone_text("test.", {"ns.test.": ["127.0.0.1"]}),
             ZONE: zone_text(ZONE, {f"ns.{ZONE}": ["127.0.0.1"]})}
    with BindServer(tmp_path_factory.mktemp("audit-bind"), zones, keys={key_name: secret}) as server:
        bind = BindFixture(server=server, zone=ZONE, key_name=key_name, key_secret=secret)
        with PebbleServer(tmp_path_factory.mktemp("audit-pebble"), bind.address) as pebble:
            yield bind, PebbleFixture(pebble)


@pytest.fixture
def rig(sshd_rig, dns_and_ca, tmp_path):
    sshd_hub = make_real(sshd_rig, start_hub=False)  # the apply below starts (or restarts) it
    bind_server, pebble = dns_and_ca
    from wizard.https.issue import AcmeEnvironment, issue_and_install
    from wizard.tljh.config import tls_paths

    bind_server.add("hub", "A", ADDRESS)
    wizard_known_hosts().parent.mkdir(parents=True, exist_ok=True)
    wizard_known_hosts().write_text(sshd_hub.known_hosts_line + "\n")
    trust = tmp_path / "trust.pem"
    trust.write_text(pebble.root_pem() + TestPKI_ROOTS.root_pem.decode())
    name = session_name(sshd_hub.host, sshd_hub.admin.name, sshd_hub.port)
    with Session.open(name, host=sshd_hub.host) as session:
        for key, value in answers_for(sshd_hub, bind_server, pebble).items():
            session.accept(key, value)
        cert_path, key_path = tls_paths(session.answers)
        tls = TLSServer(tmp_path, loader=lambda: (cert_path, key_path))
        env = AcmeEnvironment(ca_bundle=str(pebble.ca_cert_path), trust_roots=str(trust),
                              nameserver_port=bind_server.port, verify_address=(ADDRESS, tls.port),
                              verify_timeout=30)
        with SSHTarget(sshd_hub.host, port=sshd_hub.port, user=sshd_hub.admin.name, key_file=str(sshd_hub.client_key),
                       allow_agent=False, look_for_keys=False, known_hosts_files=[sshd_hub.known_hosts],
                       prefix=str(sshd_hub.prefix)) as target:
            target.hub_api_url = sshd_hub.hub_api_url
            record, verdict = issue_and_install(session, target, env)
            assert verdict.status.value == "ok", verdict.summary
            freeze_hub(target, session.dir / "snapshots", host=DOMAIN)
            backup.pull(target, session.dir / "backups")
            plan = apply.plan(session.answers, apply.read_config(target, require_tljh=True), session=session,
                              smoke=True, smoke_credential=True)
            result = apply.Applier(target, session).execute(plan)
            assert result.ok, result.summary()
            assert plan.changed and {"smoke-credential", "reload-hub", "verify", "smoke"} <= set(result.done)
    http = WebFront(tmp_path, redirect_to=f"https://{DOMAIN}")
    try:
        yield Rig(sshd_hub, bind_server, name, tls, trust, http, tidy_host_sources(sshd_hub, tmp_path))
    finally:
        http.close()
        tls.close()
        bind_server.delete("hub")


def tidy_host_sources(hub, tmp_path: Path) -> Path:
    """--probe-sources for a well-kept hub: TLJH's proxy on 80/443, nothing pending, nothing failed. The rig's own
    sshd settings (keys only) are read for real with `sshd -T`; the disks are this machine's."""
    folder = tmp_path / "host"
    folder.mkdir()
    folder.chmod(0o755)
    (folder / "listeners").write_text('LISTEN 0 4096 *:80 *:* users:(("traefik",pid=700,fd=7))\n'
                                      'LISTEN 0 4096 *:443 *:* users:(("traefik",pid=700,fd=8))\n')
    (folder / "empty").write_text("")
    (folder / "apt-config").write_text('APT::Periodic::Unattended-Upgrade "1";\n')
    (folder / "unattended-upgrade").write_text("#!/bin/sh\n")
    sources = folder / "sources.yaml"
    sources.write_text(json.dumps({
        "files": {"listeners": str(folder / "listeners"), "apt_simulation": str(folder / "empty"),
                  "apt_config": str(folder / "apt-config"), "kernel_log": str(folder / "empty"),
                  "auth_log": str(folder / "empty")},
        "unattended_binary": str(folder / "unattended-upgrade"), "reboot_required": str(folder / "no-reboot"),
        "sshd_config": str(hub.log.parent / "sshd_config")}))
    return sources


TestPKI_ROOTS = TestPKI("Audit Test")


def smoke_steps(report: dict) -> dict[str, str]:
    return {f["id"]: f["status"] for f in report["findings"] if f["id"].startswith("smoke")}


SMOKE_OK = {"smoke.user": "ok", "smoke.spawn": "ok", "smoke.kernel": "ok", "smoke.cleanup": "ok"}


def test_check_after_a_full_setup_is_clean_then_each_drift_is_found(rig):
    assert rig.smoke_leftovers() == []  # the apply's own smoke test left nothing
    # 0. `check --smoke`, as cron runs it on a healthy hub: every probe ok, the smoke test too, nothing left behind
    code, report = rig.check("--smoke")
    assert problems(report) == {} and code == 0
    assert smoke_steps(report) == SMOKE_OK
    assert rig.smoke_leftovers() == []
    clean_ids = [f["id"] for f in report["findings"]]
    assert {"dns.a", "audit.certificate", "audit.config", "audit.environment", "audit.authenticator",
            "audit.limits", "audit.culling", "audit.backup", "audit.ports", "audit.disk.home", "audit.oom",
            "audit.updates", "audit.ssh_password", "audit.tls_protocols", "audit.http_redirect"} <= set(clean_ids)

    # 1. config.yaml edited on the hub
    config = rig.hub.prefix / "config" / "config.yaml"
    original = config.read_bytes()
    config.write_bytes(original.replace(b"memory: 2G", b"memory: 8G"))
    code, report = rig.check()
    found = problems(report)
    assert list(found) == ["audit.config"] and code == 1
    details = next(f["details"] for f in report["findings"] if f["id"] == "audit.config")
    assert "-  memory: 2G" in details and "+  memory: 8G" in details
    assert "SENTINEL-audit-client-secret" not in json.dumps(report)
    config.write_bytes(original)

    # 2. a package added to the user environment
    user = rig.hub.prefix / "user"
    sample.write_record(user, sample.conda_record("numpy", "2.1.3", "py312h58c1407_0"))
    code, report = rig.check()
    found = problems(report)
    assert list(found) == ["audit.environment"] and code == 1
    assert "1 added (numpy)" in found["audit.environment"][1]
    sample.remove_record(user, "numpy")

    # 3. the A record changed in BIND
    rig.bind.delete("hub", "A")
    rig.bind.add("hub", "A", "127.0.0.2")
    try:
        code, report = rig.check()
    finally:
        rig.bind.delete("hub", "A")
        rig.bind.add("hub", "A", ADDRESS)
    found = problems(report)
    assert "dns.a" in found and found["dns.a"][0] == "error" and code == 2
    assert "127.0.0.2" in found["dns.a"][1]
    assert set(found) <= {"dns.a", "dns.resolvers"}

    # 4. a certificate served that expires in 5 days
    from wizard.tljh.config import tls_paths

    with Session.open(rig.name, create=False, lock=False) as session:
        cert_path, key_path = map(Path, tls_paths(session.answers))
    saved = cert_path.read_bytes(), key_path.read_bytes()
    leaf = TestPKI_ROOTS.leaf(DOMAIN, not_after=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=5))
    cert_path.write_bytes(TestPKI_ROOTS.fullchain(leaf))
    key_path.write_bytes(leaf.key_pem)
    try:
        code, report = rig.check()
    finally:
        cert_path.write_bytes(saved[0])
        key_path.write_bytes(saved[1])
    found = problems(report)
    assert list(found) == ["audit.certificate"] and code == 2
    assert "expires in 4.9 days" in found["audit.certificate"][1] or "expires in 5.0 days" in \
        found["audit.certificate"][1]
    code, report = rig.check()
    assert code == 0 and problems(report) == {}  # the Pebble certificate is back

    # 5. the user environment broken (its jupyter_server gone): the smoke test fails at the spawn, and only there
    with jupyter_server_renamed(rig.hub.prefix):
        code, report = rig.check("--smoke")
    found = problems(report)
    assert code == 2 and list(found) == ["smoke.spawn"] and found["smoke.spawn"][0] == "error", found
    assert "the server of tljh-wizard-smoke did not start" in found["smoke.spawn"][1]
    spawn = next(f for f in report["findings"] if f["id"] == "smoke.spawn")
    assert "No module named 'jupyter_server'" in spawn["details"]  # the spawn log's tail
    # what cron mails (text, --quiet) shows the fix line: it says where the log is and what to look at
    assert "`tljh-wizard check --details` prints them" in spawn["fix"] and f"{rig.hub.prefix}/user" in spawn["fix"]
    assert smoke_steps(report) == {"smoke.user": "ok", "smoke.spawn": "error", "smoke.cleanup": "ok"}
    assert rig.smoke_leftovers() == []

    # repaired: one line per finding in text mode, the smoke test's too, all ok, exit 0 again
    result = rig.run_check("--smoke")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert [line.split()[1].rstrip(":") for line in lines] == clean_ids
    assert all(line.startswith("OK ") or line.startswith("SKIPPED ") for line in lines)
    assert [line for line in lines if line.startswith("OK       smoke.")] == [
        "OK       smoke.user: temporary user tljh-wizard-smoke created through the hub API",
        *(line for line in lines if line.startswith("OK       smoke.spawn: the server of tljh-wizard-smoke started in ")),
        *(line for line in lines if line.startswith("OK       smoke.kernel: one cell ran in the default kernel: Python 3.")),
        "OK       smoke.cleanup: server stopped, user tljh-wizard-smoke deleted, its home removed"]
    assert rig.smoke_leftovers() == []
    assert rig.run_check("--quiet").stdout == ""  # cron mails nothing when all is well
