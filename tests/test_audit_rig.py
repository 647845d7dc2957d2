"""`tljh-wizard check` against the fixture hub (real sshd, BIND, Pebble) after a full setup: a clean audit exits 0;
then each drift, injected in turn and undone, gives its own finding and exit code; the hub's files are byte-identical
before and after every check.

The setup is the wizard's own engines end to end: a certificate issued by Pebble through DNS-01 on BIND and installed
on the hub (``wizard.https.issue``), the answers applied, the environment frozen and a backup bundle pulled. The
hub's proxy is ``TLSServer`` (tests/rig/pki.py), a stand-in for Traefik that serves whatever certificate
config.yaml's ``https.tls`` files hold at each handshake.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.rig.bind import BindFixture, BindServer, new_tsig_secret, zone_text
from tests.rig.pebble import PebbleFixture, PebbleServer
from tests.rig.pki import TestPKI, TLSServer
from tests.rig.web import WebFront
from wizard.environment import sample
from wizard.environment.snapshot import freeze_hub
from wizard.hub import apply, backup
from wizard.hub.ssh import SSHTarget, wizard_known_hosts
from wizard.session import Session, session_name

ROOT = Path(__file__).resolve().parent.parent
ZONE = "audit.test."
DOMAIN = "hub.audit.test"
ADDRESS = "127.0.0.1"  # the hub's "reserved IP": where BIND points the domain and the proxy stand-in listens


def hub_files(prefix: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under the hub's TLJH prefix: content and mode."""
    out = {}
    for path in sorted(prefix.rglob("*")):
        if path.is_file() and not path.is_symlink():
            out[str(path.relative_to(prefix))] = (path.read_bytes(), path.stat().st_mode)
    return out


class Rig:
    """The hub set up by the wizard, and a way to run `tljh-wizard check` on it."""

    def __init__(self, hub, bind, session_name_: str, tls: TLSServer, trust: Path, http: WebFront, sources: Path):
        self.hub, self.bind, self.name, self.tls, self.trust = hub, bind, session_name_, tls, trust
        self.http, self.sources = http, sources

    def run_check(self, *extra: str) -> subprocess.CompletedProcess:
        """`tljh-wizard check` as cron would run it; the hub's files must be byte-identical afterwards."""
        before = hub_files(self.hub.prefix)
        result = subprocess.run(
            [sys.executable, "-m", "wizard", "check", self.name, "--resolver", self.bind.address,
             "--nameserver-port", str(self.bind.port), "--tls-address", f"{ADDRESS}:{self.tls.port}",
             "--ca-file", str(self.trust), "--http-address", f"{ADDRESS}:{self.http.port}",
             "--probe-sources", str(self.sources), *extra],
            capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
        assert hub_files(self.hub.prefix) == before, "check changed a file on the hub"
        assert result.stderr == "", result.stderr
        return result

    def check(self) -> tuple[int, dict]:
        result = self.run_check("--json")
        report = json.loads(result.stdout)
        assert report["exit_code"] == result.returncode
        return result.returncode, report


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
def rig(sshd_hub, dns_and_ca, tmp_path):
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
            plan, result = apply.apply(target, session.answers, session)
            assert result.ok, result.summary()
            assert plan.changed and "reload-hub" in result.done
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


def test_check_after_a_full_setup_is_clean_then_each_drift_is_found(rig):
    code, report = rig.check()
    assert problems(report) == {} and code == 0
    ids = [f["id"] for f in report["findings"]]
    assert {"dns.a", "audit.certificate", "audit.config", "audit.environment", "audit.authenticator",
            "audit.limits", "audit.culling", "audit.backup", "audit.ports", "audit.disk.home", "audit.oom",
            "audit.updates", "audit.ssh_password", "audit.tls_protocols", "audit.http_redirect"} <= set(ids)

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

    # one line per finding in text mode, same exit code
    result = rig.run_check()
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert len(lines) == len(report["findings"]) and all(line.startswith("OK ") or line.startswith("SKIPPED ")
                                                         for line in lines)
    assert rig.run_check("--quiet").stdout == ""  # cron mails nothing when all is well
