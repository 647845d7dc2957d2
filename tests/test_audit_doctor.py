"""The doctor's hub-side findings against the rig's real sshd (ports, capacity, hygiene — all gathered in one round
trip) and its TLS posture probes against real TLS/HTTP servers on loopback (tests/rig/web.py, the test PKI).

Sources a test cannot make real on a shared machine (a kernel OOM kill, pending security updates, a reboot flag) are
files on the hub the probe is pointed at (``Sources.files``); the ports, the disks and sshd's effective settings are
measured for real: a process named nginx listening, a tmpfs filled up, ``sshd -T -f CONFIG``.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.rig.pki import TestPKI
from tests.rig.web import WebFront
from wizard.audit import checks, host, hubfacts, tls
from wizard.diagnosis import Status
from wizard.hub.ssh import SSHTarget

DOMAIN = "hub.doctor.test"


def target_for(hub) -> SSHTarget:
    return SSHTarget(hub.host, port=hub.port, user=hub.admin.name, key_file=str(hub.client_key), allow_agent=False,
                     look_for_keys=False, known_hosts_files=[hub.known_hosts], prefix=str(hub.prefix))


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S+0000")


NOW = dt.datetime.now(dt.timezone.utc)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# A listener named as the kernel will show it (/proc/PID/comm, what `ss -p` prints): prctl(PR_SET_NAME).
_LISTENER = r"""
import ctypes, socket, sys
ctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0)
sockets = []
for port in sys.argv[2:]:
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(port))); s.listen(); sockets.append(s)
print("ready", flush=True)
sys.stdin.read()
"""


class NamedListener:
    """A process called ``name`` listening on ``ports`` of 127.0.0.1 until closed (stopped by its PID)."""

    def __init__(self, name: str, *ports: int):
        self.process = subprocess.Popen([sys.executable, "-c", _LISTENER, name, *map(str, ports)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline().strip() == "ready"
        self.pid = self.process.pid

    def close(self):
        self.process.stdin.close()
        self.process.kill()
        self.process.wait()


def gather(hub, tmp_path: Path, **settings) -> tuple[hubfacts.HubFacts, int]:
    """The facts through the rig's sshd; (facts, round trips it took)."""
    empty = tmp_path / "empty-source"
    empty.write_text("")
    tmp_path.chmod(0o755)
    # apt-get -s takes seconds on a busy machine, and this machine's own logs are not the test's: quiet defaults
    files = {name: str(empty) for name in ("apt_simulation", "apt_config", "kernel_log", "auth_log")}
    files.update(settings.pop("files", {}))
    sources = hubfacts.Sources(files=files, **settings)
    with target_for(hub) as target:
        target.connect()
        before = target.round_trips
        facts = hubfacts.gather(target, sources)
        return facts, target.round_trips - before


# ---------------------------------------------------------------------------------------------------------------
# ports

def test_a_program_holding_the_hubs_web_ports_is_named_with_both_ways_out(sshd_hub, tmp_path):
    http_port, https_port = free_port(), free_port()
    other = NamedListener("nginx", http_port, https_port)
    try:
        facts, trips = gather(sshd_hub, tmp_path, ports=(http_port, https_port))
    finally:
        other.close()
    assert trips == 1
    finding = host.ports_finding(facts, {"https": {"enabled": True}})
    assert finding.status is Status.ERROR
    assert finding.summary == (f"another program listens: nginx (pid {other.pid}) on port {http_port} and "
                               f"{https_port}: TLJH's proxy cannot serve there")
    assert "systemctl disable --now nginx" in finding.fix and "another program holds 80/443" in finding.fix
    assert "proxy_pass http://127.0.0.1:8080;" in finding.details  # the reverse-proxy way, for nginx


def test_tljhs_own_proxy_on_the_ports_is_fine_and_nothing_listening_is_an_error(sshd_hub, tmp_path):
    http_port, https_port = free_port(), free_port()
    proxy = NamedListener("traefik", http_port, https_port)
    try:
        facts, _ = gather(sshd_hub, tmp_path, ports=(http_port, https_port))
    finally:
        proxy.close()
    finding = host.ports_finding(facts, {"https": {"enabled": True}})
    assert finding.status is Status.OK and "traefik" in finding.summary

    facts, _ = gather(sshd_hub, tmp_path, ports=(http_port, https_port))  # the proxy is gone
    finding = host.ports_finding(facts, {"https": {"enabled": True}})
    assert finding.status is Status.ERROR and "nothing listens" in finding.summary


# ---------------------------------------------------------------------------------------------------------------
# capacity

@pytest.fixture
def small_tmpfs(tmp_path):
    """A 4 MiB tmpfs mounted in the test's directory (as root), unmounted afterwards."""
    point = tmp_path / "home"
    point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs", str(point)], check=True)
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)


def fill(point: Path, leave: int) -> None:
    """Fill the filesystem at ``point`` until ``leave`` bytes stay free."""
    stat = os.statvfs(point)
    free = stat.f_bavail * stat.f_frsize
    with open(point / "fill", "ab") as handle:
        handle.write(b"\0" * (free - leave))


def test_a_full_home_is_an_error_an_almost_full_one_a_warning(sshd_hub, tmp_path, small_tmpfs):
    fill(small_tmpfs, 256 * 1024)  # 6% of 4 MiB free
    facts, _ = gather(sshd_hub, tmp_path, disks={"root": "/", "home": str(small_tmpfs)})
    found = {d.id: d for d in host.disk_findings(facts)}
    assert found["audit.disk.home"].status is Status.WARNING and "almost full" in found["audit.disk.home"].summary
    assert found["audit.disk.prefix"].data["path"] == str(sshd_hub.prefix)

    (small_tmpfs / "fill").unlink()
    fill(small_tmpfs, 40 * 1024)  # 1% free
    facts, _ = gather(sshd_hub, tmp_path, disks={"root": "/", "home": str(small_tmpfs)})
    home = next(d for d in host.disk_findings(facts) if d.id == "audit.disk.home")
    assert home.status is Status.ERROR
    assert home.summary.startswith(f"{small_tmpfs} is full: ") and "(1%)" in home.summary
    assert "/home" in home.fix


def oom_lines(user: str, when: dt.datetime, unit_prefix: str = "jupyter-") -> list[str]:
    """What the kernel logs for one OOM kill in a cgroup (mm/oom_kill.c), as journalctl -k -o short-iso shows it."""
    stamp = iso(when)
    memcg = f"/system.slice/{unit_prefix}{user}.service"
    return [
        f"{stamp} hub kernel: python3 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0",
        f"{stamp} hub kernel: oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,"
        f"oom_memcg={memcg},task_memcg={memcg},task=python3,pid=4242,uid=1001",
        f"{stamp} hub kernel: Memory cgroup out of memory: Killed process 4242 (python3) total-vm:2540740kB, "
        "anon-rss:2091108kB, file-rss:0kB, shmem-rss:0kB, UID:1001 pgtables:4400kB oom_score_adj:0",
    ]


def test_an_oom_kill_of_a_users_server_in_the_kernel_log_is_found(sshd_hub, tmp_path):
    log = tmp_path / "kern.log"
    lines = (oom_lines("alice", NOW - dt.timedelta(hours=2)) + oom_lines("alice", NOW - dt.timedelta(hours=1))
             + oom_lines("bob", NOW - dt.timedelta(days=3))  # before the window
             + oom_lines("postgres", NOW - dt.timedelta(hours=1), unit_prefix=""))  # not a user's server
    log.write_text("\n".join(lines) + "\n")
    os.chmod(tmp_path, 0o755)
    facts, trips = gather(sshd_hub, tmp_path, files={"kernel_log": str(log)})
    assert trips == 1
    since = facts.now - 24 * 3600
    finding = host.oom_finding(facts, since, 24)
    assert finding.status is Status.WARNING
    assert finding.summary == "2 OOM kills of user servers in the last 24 h: alice (2)"
    assert [kill["unit"] for kill in finding.data["kills"]] == ["jupyter-alice.service"] * 2
    # memory is short: no swap is now a warning too
    assert host.swap_finding(facts, pressure=True).status in (Status.WARNING, Status.OK)

    log.write_text("\n".join(oom_lines("postgres", NOW, unit_prefix="")) + "\n")
    facts, _ = gather(sshd_hub, tmp_path, files={"kernel_log": str(log)})
    assert host.oom_finding(facts, facts.now - 24 * 3600, 24).status is Status.OK


def test_memory_limit_times_active_users_is_held_against_the_ram_now(sshd_hub, tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:        4028440 kB\nSwapTotal:             0 kB\n")  # a 4 GB VM after a resize
    units = tmp_path / "units"
    units.write_text("".join(f"jupyter-user{i}.service loaded active running /bin/bash -c cd /home/jupyter-user{i}\n"
                             for i in range(3)))
    os.chmod(tmp_path, 0o755)
    facts, _ = gather(sshd_hub, tmp_path, files={"meminfo": str(meminfo), "units": str(units)})
    finding = host.memory_finding(facts, {"limits": {"memory": "2G"}}, None)
    assert finding.status is Status.WARNING
    assert finding.summary.startswith("3 servers running x 2 GB:") or finding.summary.startswith("3 servers running")
    assert finding.data["running"] == 3
    fits = host.memory_finding(facts, {"limits": {"memory": "1G"}}, None)
    assert fits.status is Status.OK


# ---------------------------------------------------------------------------------------------------------------
# hygiene

APT_SIMULATION = """NOTE: This is only a simulation!
Inst libssl3 [3.0.15-1~deb12u1] (3.0.17-1~deb12u2 Debian-Security:12/stable-security [amd64])
Inst openssl [3.0.15-1~deb12u1] (3.0.17-1~deb12u2 Debian:12.11/stable, Debian-Security:12/stable-security [amd64])
Inst tzdata [2024b-0+deb12u1] (2025b-0+deb12u1 Debian:12.11/stable [all])
Conf libssl3 (3.0.17-1~deb12u2 Debian-Security:12/stable-security [amd64])
"""


def sshd_config(tmp_path: Path, password: str) -> Path:
    key = tmp_path / "hostkey"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    config = tmp_path / f"sshd_config_{password}"
    config.write_text(f"HostKey {key}\nPasswordAuthentication {password}\nKbdInteractiveAuthentication no\n"
                      "UsePAM no\n")
    return config


def hygiene_files(tmp_path: Path, *, dirty: bool) -> dict:
    tmp_path.chmod(0o755)
    (tmp_path / "apt-sim").write_text(APT_SIMULATION if dirty else "NOTE: This is only a simulation!\n")
    (tmp_path / "apt-config").write_text('APT "";\nAPT::Periodic "";\n'
                                         f'APT::Periodic::Update-Package-Lists "1";\n'
                                         f'APT::Periodic::Unattended-Upgrade "{0 if dirty else 1}";\n')
    auth = []
    if dirty:
        for minute in range(5):
            when = iso(NOW - dt.timedelta(minutes=minute))
            auth.append(f"{when} hub sshd[100{minute}]: Failed password for root from 203.0.113.7 port 4{minute} ssh2")
            auth.append(f"{when} hub sshd[200{minute}]: Invalid user oracle from 198.51.100.9 port 5{minute}")
            auth.append(f"{when} hub sshd[200{minute}]: Failed password for invalid user oracle from 198.51.100.9 "
                        f"port 5{minute} ssh2")
        auth.append(f"{iso(NOW - dt.timedelta(days=2))} hub sshd[99]: Failed password for root from 192.0.2.1 port 1")
    (tmp_path / "auth.log").write_text("\n".join(auth) + "\n")
    reboot = tmp_path / "reboot-required"
    if dirty:
        reboot.write_text("*** System restart required ***\n")
        (tmp_path / "reboot-required.pkgs").write_text("linux-image-6.1.0-30-amd64\n")
    unattended = tmp_path / "unattended-upgrade"
    unattended.write_text("#!/bin/sh\n")
    return dict(files={"apt_simulation": str(tmp_path / "apt-sim"), "apt_config": str(tmp_path / "apt-config"),
                       "auth_log": str(tmp_path / "auth.log")},
                reboot_required=str(reboot), unattended_binary=str(unattended),
                sshd_config=str(sshd_config(tmp_path, "yes" if dirty else "no")))


def hygiene(facts) -> dict:
    since = facts.now - 24 * 3600
    password = host.ssh_password_finding(facts)
    found = [host.updates_finding(facts), host.reboot_finding(facts), host.unattended_finding(facts), password,
             host.failed_logins_finding(facts, since, 24, password.status is Status.WARNING)]
    return {d.id: d for d in found}


def test_host_hygiene_each_problem_is_a_warning_with_its_fix(sshd_hub, tmp_path):
    facts, trips = gather(sshd_hub, tmp_path, **hygiene_files(tmp_path, dirty=True))
    assert trips == 1
    found = hygiene(facts)
    assert {key: d.status for key, d in found.items()} == {key: Status.WARNING for key in found}
    assert found[host.UPDATES].summary == ("2 security updates pending (libssl3, openssl), 3 updates in all")
    assert found[host.REBOOT].summary == "a reboot is required (for linux-image-6.1.0-30-amd64)"
    assert "installed but off" in found[host.UNATTENDED].summary
    assert "PasswordAuthentication yes" in found[host.SSH_PASSWORD].summary  # from the real `sshd -T -f`
    assert found[host.SSH_FAILED].data["failed"] == 10  # the 2-day-old one is outside the window
    assert "203.0.113.7 (5)" in found[host.SSH_FAILED].summary and "198.51.100.9 (5)" in found[host.SSH_FAILED].summary
    assert all(d.fix for d in found.values())


def test_a_tidy_host_has_no_hygiene_finding(sshd_hub, tmp_path):
    facts, _ = gather(sshd_hub, tmp_path, **hygiene_files(tmp_path, dirty=False))
    found = hygiene(facts)
    assert {key: d.status for key, d in found.items()} == {key: Status.OK for key in found}, \
        {key: d.summary for key, d in found.items()}


# ---------------------------------------------------------------------------------------------------------------
# TLS posture

PKI = TestPKI("Doctor Test")


@pytest.fixture
def careless_front(tmp_path):
    """The hub's web front as a careless server leaves it: TLS 1.0 on, no HSTS, plain HTTP served as is."""
    leaf = PKI.leaf(DOMAIN)
    with WebFront(tmp_path / "tls", chain_pem=PKI.fullchain(leaf), key_pem=leaf.key_pem, legacy=True) as secure, \
            WebFront(tmp_path / "http") as plain:
        yield secure, plain


@pytest.fixture
def careful_front(tmp_path):
    leaf = PKI.leaf(DOMAIN)
    with WebFront(tmp_path / "tls", chain_pem=PKI.fullchain(leaf), key_pem=leaf.key_pem,
                  hsts="max-age=31536000; includeSubDomains") as secure:
        with WebFront(tmp_path / "http", redirect_to=f"https://{DOMAIN}") as plain:
            yield secure, plain


def test_tls_1_0_no_redirect_and_no_hsts_are_each_found(careless_front):
    secure, plain = careless_front
    protocols = tls.protocols_finding("127.0.0.1", secure.port, DOMAIN)
    assert protocols.status is Status.WARNING
    assert protocols.data["accepted"] == ["TLS 1.0", "TLS 1.1"]
    redirect = tls.redirect_finding("127.0.0.1", plain.port, DOMAIN, letsencrypt=True)
    assert redirect.status is Status.WARNING and "answers 200 without a redirect" in redirect.summary
    assert plain.requests[-1] == ("GET", "/", DOMAIN)
    hsts = tls.hsts_finding("127.0.0.1", secure.port, DOMAIN)
    assert hsts.status is Status.WARNING and "no Strict-Transport-Security" in hsts.summary
    assert "[http.middlewares.hsts.headers]" in hsts.details and "traefik_config.d/hsts.toml" in hsts.details


def test_a_careful_front_passes_every_posture_probe(careful_front):
    secure, plain = careful_front
    assert tls.protocols_finding("127.0.0.1", secure.port, DOMAIN).status is Status.OK
    redirect = tls.redirect_finding("127.0.0.1", plain.port, DOMAIN, letsencrypt=True)
    assert redirect.status is Status.OK and f"https://{DOMAIN}/" in redirect.summary
    hsts = tls.hsts_finding("127.0.0.1", secure.port, DOMAIN)
    assert hsts.status is Status.OK and hsts.summary == "HSTS on (max-age 31536000 s)"


def test_nothing_on_port_80_is_an_error_when_lets_encrypt_needs_it():
    port = free_port()
    finding = tls.redirect_finding("127.0.0.1", port, DOMAIN, letsencrypt=True)
    assert finding.status is Status.ERROR and "Let's Encrypt" in finding.fix
    assert tls.redirect_finding("127.0.0.1", port, DOMAIN, letsencrypt=False).status is Status.WARNING


def test_hsts_max_age_parsing_follows_rfc_6797():
    assert tls.hsts_max_age("max-age=31536000; includeSubDomains") == 31536000
    assert tls.hsts_max_age('includeSubDomains; max-age="600"') == 600
    assert tls.hsts_max_age("includeSubDomains") is None
    assert tls.hsts_max_age("max-age=abc") is None


# ---------------------------------------------------------------------------------------------------------------
# check --bundle

def _flat(document: dict) -> dict:
    return {f"{section}.{key}": value for section, values in document.items() if isinstance(values, dict)
            for key, value in values.items()}


@pytest.mark.parametrize("auth", ["github", "ldap"])
def test_a_bundle_made_with_sentinel_secrets_everywhere_contains_none_of_them(sshd_hub, tmp_path, auth, capsys):
    """Every secret answer is a sentinel; so are secret-shaped values in config.yaml; the hub's logs quote them all
    (and a token of their own). The bundle has the findings, facts, config and logs — and no sentinel."""
    import json
    import tarfile

    from tests.answers_samples import SENTINELS, documents
    from wizard import cli
    from wizard.hub.ssh import wizard_known_hosts
    from wizard.session import Session, session_name

    public, secret = documents(auth, "acme-dns")
    public.pop("domain")  # no DNS or TLS probes: they would look for hub.example.edu beyond loopback
    values = {**_flat(public), **_flat(secret)}
    values.update({"connection.host": sshd_hub.host, "connection.port": sshd_hub.port,
                   "connection.user": sshd_hub.admin.name, "connection.key_file": str(sshd_hub.passphrase_key),
                   "connection.tljh_prefix": str(sshd_hub.prefix),
                   "connection.key_passphrase": sshd_hub.key_passphrase})  # the key's real one: it must open it
    answered = [value for key, value in values.items() if key in SENTINELS]
    assert len(answered) == 4  # sudo password, key passphrase, TSIG secret, and this authenticator's secret
    config_sentinels = {"admin_password": "SENTINEL-config-admin-pw-31c4", "api_token": "SENTINEL-config-token-8e2d",
                        "client_secret": "SENTINEL-config-client-secret-55aa"}
    config = sshd_hub.prefix / "config" / "config.yaml"
    config.write_text(
        "auth:\n  type: oauthenticator.github.GitHubOAuthenticator\n  GitHubOAuthenticator:\n"
        f"    client_id: gh-id\n    client_secret: {config_sentinels['client_secret']}\n"
        f"    allowed_organizations: [example-org]\n  SharedPasswordAuthenticator:\n"
        f"    admin_password: {config_sentinels['admin_password']}\n"
        f"services:\n  announcement:\n    api_token: {config_sentinels['api_token']}\n"
        "limits:\n  memory: 2G\n  cpu: 1\n")
    every = [*answered, *config_sentinels.values()]
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "hub.log").write_text(
        "".join(f"2026-11-30T06:00:0{i}+0000 hub jupyterhub[1]: loaded config value {value}\n"
                for i, value in enumerate(every))
        + "2026-11-30T06:00:09+0000 hub jupyterhub[1]: 200 GET /hub/api/users (alice@127.0.0.1) 4.12ms\n")
    (logs / "proxy.log").write_text('{"RequestHeaders":{"Authorization":"Bearer abc.SENTINEL-bearer-77"}}\n')
    (logs / "spawn.log").write_text("jupyter-alice[9]: GET /user/alice/api?token=SENTINELTOKEN0042 200\n"
                                    f"jupyter-alice[9]: client_secret={config_sentinels['client_secret']}\n")
    empty = tmp_path / "empty"
    empty.write_text("")
    tmp_path.chmod(0o755)
    logs.chmod(0o755)
    sources = tmp_path / "sources.yaml"
    sources.write_text(json.dumps({"files": {
        "log_hub": str(logs / "hub.log"), "log_proxy": str(logs / "proxy.log"), "log_spawn": str(logs / "spawn.log"),
        "apt_simulation": str(empty), "kernel_log": str(empty), "auth_log": str(empty)}}))

    wizard_known_hosts().parent.mkdir(parents=True, exist_ok=True)
    wizard_known_hosts().write_text(sshd_hub.known_hosts_line + "\n")
    name = session_name(sshd_hub.host, sshd_hub.admin.name, sshd_hub.port)
    with Session.open(name, host=sshd_hub.host) as session:
        for key, value in values.items():
            session.accept(key, value)
    out = tmp_path / "out" / "support.tar.gz"
    out.parent.mkdir()
    code = cli.main(["check", name, "--bundle", str(out), "--probe-sources", str(sources), "--bundle-lines", "50"])
    printed = capsys.readouterr()
    assert code in (1, 2) and f"support bundle: {out}" in printed.out
    assert (out.stat().st_mode & 0o777) == 0o600
    with tarfile.open(out) as archive:
        texts = {member.name.split("/", 1)[1]: archive.extractfile(member).read().decode()
                 for member in archive.getmembers()}
    assert "logs/hub.log" in texts, texts["findings.txt"]
    assert {"README.txt", "findings.txt", "findings.json", "host.json", "config.yaml", "logs/hub.log",

            "logs/proxy.log", "logs/spawn.log"} <= set(texts)
    everything = "\n".join(texts.values()) + printed.out + printed.err
    for sentinel in [*every, "SENTINEL-bearer-77", "SENTINELTOKEN0042"]:
        assert sentinel not in everything, sentinel
    assert "SENTINEL" not in everything
    # what is not secret is there
    assert "200 GET /hub/api/users" in texts["logs/hub.log"] and "********" in texts["logs/hub.log"]
    assert "memory: 2G" in texts["config.yaml"] and "client_id: gh-id" in texts["config.yaml"]
    report = json.loads(texts["findings.json"])
    assert {f["id"] for f in report["findings"]} >= {"audit.config", "audit.ports", "audit.disk.home"}
    assert json.loads(texts["host.json"])["host"]["cpus"] >= 1


# ---------------------------------------------------------------------------------------------------------------
# the HTTPS step's choice when another program holds 80/443

def behind_answers(**https):
    from tests.answers_samples import documents
    from wizard.answers import Answers

    public, secret = documents("github", "none")
    public["https"].update(https)
    return Answers.from_documents(public, secret)


def test_behind_another_server_renders_tljhs_documented_port_keys_and_validates():
    from wizard.tljh import config as tljh_config

    answers = behind_answers(web_ports="behind", behind_port=8081, front_server="apache")
    assert answers.problems() == []
    rendered = tljh_config.render(answers)
    assert rendered["http"] == {"port": 8081, "address": "127.0.0.1"} and rendered["https"] == {"enabled": False}
    assert tljh_config.validate(rendered) == []  # TLJH 2.0.0's schema accepts it
    refused = behind_answers(web_ports="behind", mode="letsencrypt", email="admin@example.edu").problems()
    assert [(e.key, e.message[:34]) for e in refused] == [("https.mode", "behind another web server, TLJH se")]
    # the usual choice renders no http section: the hub's own stays as it is
    assert "http" not in tljh_config.render(behind_answers(web_ports="tljh"))


def test_the_https_step_names_the_program_on_80_443_and_offers_the_ways_out(sshd_hub, tmp_path):
    from wizard.context import RunOptions, WizardContext
    from wizard.session import Session
    from wizard.steps.https import https_checks
    from wizard.steps.review import plan

    http_port, https_port = free_port(), free_port()
    other = NamedListener("apache2", http_port, https_port)
    try:
        with Session.open("https-ports") as session, target_for(sshd_hub) as target:
            for key, value in {"domain.name": DOMAIN, "domain.reserved_ipv4": "127.0.0.1",
                               "https.mode": "existing", "https.cert_path": str(tmp_path / "missing.pem"),
                               "https.key_path": str(tmp_path / "missing.key")}.items():
                session.accept(key, value)
            ctx = WizardContext(session, target=target, options=RunOptions(web_ports=(http_port, https_port)))
            found = {d.id: d for d in https_checks(ctx)}
            assert found[host.PORTS].status is Status.ERROR
            assert f"apache2 (pid {other.pid}) on port {http_port} and {https_port}" in found[host.PORTS].summary
            assert "Ports 80/443 = behind" in found[host.PORTS].fix
            assert "<VirtualHost *:443>" in found[host.PORTS].details  # apache's snippet, not nginx's
            assert "ProxyPass / http://127.0.0.1:8080/" in found[host.PORTS].details

            session.accept("https.web_ports", "stop")
            stop = {d.id: d for d in https_checks(ctx)}[host.PORTS]
            assert stop.status is Status.WARNING and "systemctl disable --now apache2" in stop.fix
            # Review refuses to plan while it holds them (from the step's own check: no other round trip)
            trips = target.round_trips
            held = [p for p in plan(ctx).problems if p.startswith("https.web_ports:")]
            assert held and "apache2 holds ports 80/443" in held[0] and target.round_trips == trips

            session.accept("https.mode", "none")
            session.accept("https.web_ports", "behind")
            session.accept("https.front_server", "apache")
            (behind,) = https_checks(ctx)
            assert behind.id == "https.behind" and behind.status is Status.OK
            assert f"ServerName {DOMAIN}" in behind.details and "ws://127.0.0.1:8080/" in behind.details
            assert not [p for p in plan(ctx).problems if p.startswith("https.web_ports:")]
    finally:
        other.close()


def test_the_doctor_accepts_another_server_in_front_of_a_moved_tljh():
    facts = hubfacts.HubFacts({"listeners": {"text": 'LISTEN 0 511 0.0.0.0:80 0.0.0.0:* users:(("nginx",pid=9,fd=6))\n'
                                                     'LISTEN 0 511 0.0.0.0:443 0.0.0.0:* users:(("nginx",pid=9,fd=7))\n'
                                                     'LISTEN 0 4096 127.0.0.1:8080 0.0.0.0:* '
                                                     'users:(("traefik",pid=5,fd=3))\n'}}, (80, 443), 0.0)
    moved = host.ports_finding(facts, {"http": {"port": 8080}, "https": {"enabled": False}})
    assert moved.status is Status.OK and "moved to 8080" in moved.summary
    assert host.ports_finding(facts, {"https": {"enabled": True}}).status is Status.ERROR


def test_a_moved_tljh_with_nothing_in_front_is_a_warning():
    facts = hubfacts.HubFacts({"listeners": {"text": 'LISTEN 0 4096 127.0.0.1:8080 0.0.0.0:* '
                                                     'users:(("traefik",pid=5,fd=3))\n'}}, (80, 443), 0.0)
    finding = host.ports_finding(facts, {"http": {"port": 8080}, "https": {"enabled": False}})
    assert finding.status is Status.WARNING and "nothing serves port 80, 443 in front of it" in finding.summary


def test_the_certificate_finding_shows_the_chain_and_names_a_missing_intermediate(tmp_path):
    from tests.answers_samples import documents
    from wizard.answers import Answers

    public, secret = documents("github", "existing")
    public["domain"] = {"name": DOMAIN, "reserved_ipv4": "127.0.0.1", "ip_reserved_confirmed": True}
    subject_ = checks.AuditSubject("t", Answers.from_documents(public, secret))
    (tmp_path / "roots.pem").write_bytes(PKI.root_pem)
    leaf = PKI.leaf(DOMAIN)
    with WebFront(tmp_path / "full", chain_pem=PKI.fullchain(leaf), key_pem=leaf.key_pem) as full, \
            WebFront(tmp_path / "bare", chain_pem=leaf.cert_pem, key_pem=leaf.key_pem) as bare:
        good = checks.certificate_finding(subject_, checks.AuditOptions(tls_address=f"127.0.0.1:{full.port}",
                                                                       ca_file=str(tmp_path / "roots.pem")))
        missing = checks.certificate_finding(subject_, checks.AuditOptions(tls_address=f"127.0.0.1:{bare.port}",
                                                                          ca_file=str(tmp_path / "roots.pem")))
    assert good.status is Status.OK and good.data["chain"] == [
        f"0 s: CN={DOMAIN}", "  i: CN=Doctor Test Intermediate E1",
        "1 s: CN=Doctor Test Intermediate E1", "  i: CN=Doctor Test Root X1"]
    assert missing.status is Status.ERROR and "without its intermediate" in missing.fix
    assert missing.details.splitlines() == [f"0 s: CN={DOMAIN}", "  i: CN=Doctor Test Intermediate E1"]
