"""The audit's judgments, one by one, without servers: config.yaml policy and drift, the certificate's renewal window,
backup age, and how `check` finds the session for HOST|SESSION."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time

import pytest

from tests.answers_samples import SENTINELS, documents
from tests.rig.pki import NOW, TestPKI
from wizard import cli, yamlio
from wizard.answers import Answers
from wizard.audit import checks
from wizard.audit.cli import find_session
from wizard.diagnosis import Status
from wizard.hub import apply as applier
from wizard.hub import backup
from wizard.session import Session, SessionError
from wizard.tljh import config as tljh_config


def subject(records=None, local_dir=None, https="acme-dns", **changes) -> checks.AuditSubject:
    public, secret = documents("github", https)
    for key, value in changes.items():
        section, _, name = key.partition("__")
        public.setdefault(section, {})[name] = value
    return checks.AuditSubject("ubuntu@hub.example.edu:22", Answers.from_documents(public, secret), records or {},
                               local_dir)


def rendered_config(answers: Answers) -> str:
    return tljh_config.dump(tljh_config.render(answers))


def by_id(findings):
    return {finding.id: finding for finding in findings}


# ---------------------------------------------------------------------------------------------------------------
# policy from the live config.yaml

def test_a_rendered_config_passes_every_policy():
    found = by_id(checks.config_policy(rendered_config(subject().answers)))
    assert {key: value.status for key, value in found.items()} == {
        checks.AUTHENTICATOR: Status.OK, checks.LIMITS: Status.OK, checks.CULLING: Status.OK}
    assert found[checks.AUTHENTICATOR].summary == "GitHubOAuthenticator with an access policy"
    assert found[checks.LIMITS].summary == "limits set: memory 2G, cpu 1"


def test_an_empty_config_is_tljhs_default_firstuse_without_limits():
    found = by_id(checks.config_policy(""))
    assert found[checks.AUTHENTICATOR].status is Status.ERROR
    assert "FirstUseAuthenticator" in found[checks.AUTHENTICATOR].summary
    assert found[checks.LIMITS].status is Status.WARNING
    assert found[checks.CULLING].status is Status.OK  # TLJH culls by default


def test_a_real_authenticator_without_an_allow_policy_is_an_error():
    text = yamlio.dump({"auth": {"type": "oauthenticator.github.GitHubOAuthenticator",
                                 "GitHubOAuthenticator": {"client_id": "x"}}})
    finding = by_id(checks.config_policy(text))[checks.AUTHENTICATOR]
    assert finding.status is Status.ERROR and "no allow policy" in finding.summary


def test_culling_off_and_half_limits_are_warnings():
    text = yamlio.dump({"limits": {"memory": "1G"}, "services": {"cull": {"enabled": False}}})
    found = by_id(checks.config_policy(text))
    assert found[checks.CULLING].status is Status.WARNING
    assert found[checks.LIMITS].status is Status.WARNING and "cpu" in found[checks.LIMITS].summary


def test_unparsable_config_is_an_error_for_each_policy():
    found = checks.config_policy("auth: [unclosed\n")
    assert [f.status for f in found] == [Status.ERROR] * 3


# ---------------------------------------------------------------------------------------------------------------
# drift

PRISTINE = "users:\n  admin:\n  - admin\n"


def applied(tmp_path, status="done", old_text=PRISTINE) -> tuple[checks.AuditSubject, str]:
    """A subject whose session recorded an apply (as ``wizard.hub.apply`` does), and the file that apply wrote."""
    new_text = applier.render_text(subject().answers, old_text, "2.0.0")
    (tmp_path / "store").mkdir(exist_ok=True)
    (tmp_path / "store" / "config-20251124-160000-000001.yaml").write_text(old_text)
    record = {"id": "20251124-160000-000001", "old_sha256": applier.sha256(old_text),
              "new_sha256": applier.sha256(new_text), "status": status, "started": 1764000000.0,
              "finished": 1764000000.0}
    return subject({applier.RECORD: record}, local_dir=tmp_path), new_text


def test_config_unchanged_since_the_apply_is_ok(tmp_path):
    audited, text = applied(tmp_path)
    finding = checks.config_drift(audited, text)
    assert finding.status is Status.OK and "(2025-11-24 16:00 UTC)" in finding.summary


def test_config_drift_shows_a_masked_diff_rebuilt_from_the_store(tmp_path):
    audited, text = applied(tmp_path)
    assert SENTINELS["authenticator.client_secret"] in text
    edited = text.replace("memory: 2G", "memory: 8G").replace(SENTINELS["authenticator.client_secret"], "new-secret")
    finding = checks.config_drift(audited, edited)
    assert finding.status is Status.WARNING and "(2 changed lines)" in finding.summary
    assert finding.details.startswith("--- config.yaml (last apply)\n+++ config.yaml (on the hub now)\n")
    assert "-  memory: 2G" in finding.details and "+  memory: 8G" in finding.details
    assert SENTINELS["authenticator.client_secret"] not in finding.details and "new-secret" not in finding.details


def test_drift_without_the_stored_file_is_still_found_by_hash(tmp_path):
    audited, text = applied(tmp_path)
    (tmp_path / "store" / "config-20251124-160000-000001.yaml").unlink()
    assert checks.config_drift(audited, text).status is Status.OK
    finding = checks.config_drift(audited, text + "# edited\n")
    assert finding.status is Status.WARNING and finding.details == ""


def test_a_rolled_back_apply_expects_the_old_file(tmp_path):
    audited, text = applied(tmp_path, status="rolled-back")
    assert checks.config_drift(audited, PRISTINE).status is Status.OK
    assert checks.config_drift(audited, text).status is Status.WARNING


def test_an_unfinished_apply_no_apply_and_a_missing_config_are_reported(tmp_path):
    audited, text = applied(tmp_path, status="in-progress")
    finding = checks.config_drift(audited, text)
    assert finding.status is Status.WARNING and "did not finish" in finding.summary
    assert "no apply recorded" in checks.config_drift(subject(), "x: 1\n").summary
    assert checks.config_drift(applied(tmp_path)[0], None).status is Status.ERROR


# ---------------------------------------------------------------------------------------------------------------
# the certificate's renewal window

@pytest.fixture(scope="module")
def pki():
    return TestPKI()


def verdict(pki, days_left, records=None, warn_days=21):
    leaf = pki.leaf("hub.example.edu", not_after=NOW + dt.timedelta(days=days_left))
    return checks.renewal_verdict(leaf.cert, subject(records), checks.AuditOptions(warn_days=warn_days, now=NOW),
                                  {"names": ["hub.example.edu"], "issuer": "Test Intermediate E1"})


@pytest.mark.parametrize("days,status", [(60, Status.OK), (20, Status.WARNING), (8, Status.WARNING),
                                         (5, Status.ERROR), (0.5, Status.ERROR)])
def test_days_left_against_warn_days(pki, days, status):
    assert verdict(pki, days).status is status


def test_warn_days_is_honoured(pki):
    assert verdict(pki, 40, warn_days=45).status is Status.WARNING
    assert verdict(pki, 10, warn_days=5).status is Status.OK


def test_the_cas_renewal_window_wins_when_the_wizard_issued_the_served_certificate(pki):
    leaf = pki.leaf("hub.example.edu", not_after=NOW + dt.timedelta(days=60))
    until = leaf.cert.not_valid_after_utc.isoformat(timespec="seconds")
    record = {"mode": "acme-dns", "not_after": until, "renewal_source": "ari",
              "renewal_time": (NOW - dt.timedelta(hours=1)).isoformat(timespec="seconds")}
    options = checks.AuditOptions(now=NOW)
    finding = checks.renewal_verdict(leaf.cert, subject({"https.certificate": record}), options, {})
    assert finding.status is Status.WARNING and "due for renewal" in finding.summary
    assert finding.fix == "tljh-wizard renew ubuntu@hub.example.edu:22"
    record["renewal_time"] = (NOW + dt.timedelta(days=20)).isoformat(timespec="seconds")
    assert checks.renewal_verdict(leaf.cert, subject({"https.certificate": record}), options, {}).status is Status.OK
    other = dict(record, not_after=(NOW + dt.timedelta(days=3)).isoformat(timespec="seconds"))  # not the one served
    assert checks.renewal_verdict(leaf.cert, subject({"https.certificate": other}), options, {}).status is Status.OK


def test_https_off_is_a_warning():
    finding = checks.certificate_finding(subject(https="none"), checks.AuditOptions())
    assert finding.status is Status.WARNING


# ---------------------------------------------------------------------------------------------------------------
# backups

def write_bundle(folder, name="tljh-backup-hub-20261101-000000.tar.gz", content=b"bundle"):
    folder.mkdir(parents=True, exist_ok=True)
    bundle = folder / name
    bundle.write_bytes(content)
    backup.checksum_path(bundle).write_text(f"{hashlib.sha256(content).hexdigest()}  {name}\n")
    return bundle


def test_backup_age(tmp_path):
    options = checks.AuditOptions(backup_days=7)
    assert checks.backup_finding(subject(local_dir=tmp_path), options).status is Status.WARNING
    bundle = write_bundle(tmp_path / "backups")
    old = time.time() - 10 * 86400
    os.utime(bundle, (old, old))
    finding = checks.backup_finding(subject(local_dir=tmp_path), options)
    assert finding.status is Status.WARNING and "10 days old" in finding.summary
    os.utime(bundle, None)
    finding = checks.backup_finding(subject(local_dir=tmp_path), options)
    assert finding.status is Status.OK and "checksum verified" in finding.summary


def test_a_damaged_newest_bundle_is_an_error(tmp_path):
    bundle = write_bundle(tmp_path / "backups")
    bundle.write_bytes(b"bundle, damaged")
    finding = checks.backup_finding(subject(local_dir=tmp_path), checks.AuditOptions())
    assert finding.status is Status.ERROR and "damaged" in finding.summary


def test_bundles_in_the_answers_bundle_dir_count(tmp_path):
    write_bundle(tmp_path / "elsewhere")
    audited = subject(local_dir=tmp_path / "session", backups__bundle_dir=str(tmp_path / "elsewhere"))
    assert checks.backup_finding(audited, checks.AuditOptions()).status is Status.OK


# ---------------------------------------------------------------------------------------------------------------
# finding the session

def make_session(name: str, host: str) -> None:
    with Session.open(name, host=host) as session:
        session.accept("connection.host", host)


def test_find_session_by_name_by_login_and_by_host():
    make_session("ubuntu@hub.example.edu:22", "hub.example.edu")
    make_session("root@[2001:db8::1]:2222", "2001:db8::1")
    assert find_session("ubuntu@hub.example.edu:22").name == "ubuntu@hub.example.edu:22"
    assert find_session("ubuntu@hub.example.edu").name == "ubuntu@hub.example.edu:22"
    assert find_session("hub.example.edu").name == "ubuntu@hub.example.edu:22"
    assert find_session("2001:db8::1").name == "root@[2001:db8::1]:2222"
    assert find_session("[2001:db8::1]:2222").name == "root@[2001:db8::1]:2222"
    with pytest.raises(SessionError, match="no session"):
        find_session("other.example.edu")
    make_session("admin@hub.example.edu:22", "hub.example.edu")
    with pytest.raises(SessionError, match="several sessions"):
        find_session("hub.example.edu")


def test_check_without_a_session_exits_2(capsys):
    assert cli.main(["check", "nowhere.example.edu"]) == 2
    assert "no session for 'nowhere.example.edu'" in capsys.readouterr().err


def test_check_of_an_unreachable_hub_exits_2_with_json(capsys):
    """Nothing listens on the hub's SSH port: one error for the hub, the hub's checks skipped, DNS and certificate
    skipped without a domain."""
    with Session.open("tljhw@127.0.0.1:9", host="127.0.0.1") as session:
        session.accept("connection.host", "127.0.0.1")
        session.accept("connection.port", 9)
        session.accept("connection.user", "tljhw")
        session.accept("https.mode", "letsencrypt")
    code = cli.main(["check", "tljhw@127.0.0.1:9", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 2 and report["exit_code"] == 2 and report["status"] == "error"
    statuses = {f["id"]: f["status"] for f in report["findings"]}
    assert statuses[checks.HUB] == "error"
    assert {statuses[key] for key in (checks.CONFIG, checks.ENVIRONMENT, checks.AUTHENTICATOR)} == {"skipped"}
    assert statuses["dns"] == "skipped" and statuses[checks.CERTIFICATE] == "skipped"


def test_a_session_without_a_host_reports_the_hub_unreachable(capsys):
    # Not "demo": the demo's session audits its sandbox hub (tests/test_demo_followups.py).
    with Session.open("nohost") as session:
        session.accept("https.mode", "none")
    assert cli.main(["check", "nohost"]) == 2
    out = capsys.readouterr().out
    assert "ERROR    audit.hub: cannot reach the hub: no hub given" in out
    assert "WARNING  audit.certificate: HTTPS is off" in out
    assert "SKIPPED  audit.config" in out
    assert cli.main(["check", "nohost", "--quiet"]) == 2
    quiet = capsys.readouterr().out.splitlines()
    assert quiet and all(line.startswith(("ERROR ", "WARNING ", "         fix:")) for line in quiet)


def test_every_text_of_every_finding_is_masked():
    secret = SENTINELS["authenticator.client_secret"]
    finding = checks.redacted(
        checks.Diagnosis("x", Status.WARNING, f"a {secret}", details=f"b {secret}", fix=f"c {secret}",
                         data={"diff": f"+ key: {secret}", "list": [secret, 3]}),
        subject().secret_values())
    assert secret not in json.dumps(finding.to_json())
    assert finding.data == {"diff": "+ key: ********", "list": ["********", 3]}


def test_the_readme_documents_every_finding_id():
    """README's `check` table names every finding id the audit and the DNS check can report."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    ids = set()
    for path in [*(root / "wizard" / "audit").glob("*.py"), root / "wizard" / "dns" / "check.py",
                 root / "wizard" / "dns" / "caa.py"]:
        if path.exists():
            ids |= set(re.findall(r'"((?:audit|dns)\.[a-z_]+)"', path.read_text()))
    ids.discard("audit.disk")  # reported as audit.disk.root/home/prefix
    ids |= {"audit.disk.root", "audit.disk.home", "audit.disk.prefix", "dns.caa"}
    missing = sorted(i for i in ids if f"`{i}`" not in readme)
    assert not missing, missing


# ---------------------------------------------------------------------------------------------------------------
# the probe registry and the hub-facts parsers

def test_probes_run_after_what_they_need_and_are_skipped_when_it_failed(monkeypatch):
    order = []

    def needing(name):
        def run(state):
            order.append(name)
            return checks.Diagnosis(f"t.{name}", Status.OK, name)
        return run

    def failing(state):
        raise checks.ProbeFailed(checks.Diagnosis("t.base", Status.ERROR, "no base"))

    probes = [checks.Probe("base", lambda state: order.append("base") or 42, findings=False),
              checks.Probe("uses", lambda state: checks.Diagnosis("t.uses", Status.OK, str(state.value("base"))),
                           needs=("base",)),
              checks.Probe("broken", failing),
              checks.Probe("after-broken", needing("after"), needs=("broken",), skip_ids=("t.after",)),
              checks.Probe("alone", needing("alone"))]
    monkeypatch.setattr(checks, "PROBES", probes)
    found = {d.id: d for d in checks.audit(subject(), checks.AuditOptions(), target_factory=lambda: None)}
    assert found["t.uses"].summary == "42"
    assert found["t.base"].status is Status.ERROR
    assert found["t.after"].status is Status.SKIPPED and "t.base failed" in found["t.after"].summary
    assert "after" not in order
    # one probe alone brings what it needs, nothing else
    only = checks.audit(subject(), checks.AuditOptions(probes=("uses",)), target_factory=lambda: None)
    assert [d.id for d in only] == ["t.uses"]
    with pytest.raises(ValueError, match="no probe named 'nope'"):
        checks.audit(subject(), checks.AuditOptions(probes=("nope",)), target_factory=lambda: None)


def test_register_adds_replaces_and_inserts_before(monkeypatch):
    monkeypatch.setattr(checks, "PROBES", [checks.Probe("a", lambda s: []), checks.Probe("c", lambda s: [])])
    checks.register(checks.Probe("b", lambda s: []), before="c")
    checks.register(checks.Probe("d", lambda s: []))
    replacement = checks.register(checks.Probe("a", lambda s: [], needs=("d",)))
    assert [p.name for p in checks.PROBES] == ["a", "b", "c", "d"] and checks.PROBES[0] is replacement


def test_listeners_are_parsed_as_iproute2_prints_them():
    from wizard.audit import hubfacts

    text = ("State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n"
            'LISTEN 0      511          0.0.0.0:80        0.0.0.0:*    users:(("nginx",pid=812,fd=6),'
            '("nginx",pid=811,fd=6))\n'
            'LISTEN 0      511             [::]:443          [::]:*    users:(("apache2",pid=90,fd=4))\n'
            "LISTEN 0      4096               *:8080            *:*\n")
    found = hubfacts.parse_listeners(text)
    assert [(l.address, l.port, l.programs) for l in found] == [
        ("0.0.0.0", 80, [("nginx", 812), ("nginx", 811)]), ("[::]", 443, [("apache2", 90)]), ("*", 8080, [])]


def test_apt_simulation_finds_debian_and_ubuntu_security_updates():
    from wizard.audit import hubfacts

    text = ("Inst libssl3 [3.0.11-1~deb12u2] (3.0.15-1~deb12u1 Debian-Security:12/stable-security [amd64])\n"
            "Inst curl [7.81.0-1ubuntu1.15] (7.81.0-1ubuntu1.16 Ubuntu:22.04/jammy-security [amd64]) []\n"
            "Inst tzdata (2024a-0ubuntu0.22.04 Ubuntu:22.04/jammy-updates [all])\n"
            "Conf libssl3 (3.0.15-1~deb12u1 Debian-Security:12/stable-security [amd64])\n")
    upgrades = hubfacts.parse_apt_simulation(text)
    assert [(u.package, u.security) for u in upgrades] == [("libssl3", True), ("curl", True), ("tzdata", False)]


def test_log_times_and_failed_logins():
    from wizard.audit import hubfacts

    assert hubfacts.line_time("2026-11-30T06:00:00+0000 hub sshd[1]: x") == 1796018400.0
    assert hubfacts.line_time("2026-11-30T07:00:00.123456+01:00 hub sshd[1]: x") == 1796018400.123456
    assert hubfacts.line_time("Nov 30 06:00:00 hub sshd[1]: x") is None  # kept: no year, no zone
    lines = ["Failed password for root from 203.0.113.7 port 22 ssh2",
             "Invalid user admin from 198.51.100.2 port 4022",
             "Failed password for invalid user admin from 198.51.100.2 port 4022 ssh2",
             "Failed publickey for alice from 192.0.2.5 port 50000 ssh2: ED25519 SHA256:abc",
             "Accepted publickey for alice from 192.0.2.5 port 50001 ssh2"]
    assert hubfacts.parse_failed_logins(lines) == [("root", "203.0.113.7"), ("admin", "198.51.100.2"),
                                                   ("alice", "192.0.2.5")]


def test_probe_sources_are_refused_in_one_line_naming_the_key(tmp_path, capsys):
    from wizard.audit import hubfacts
    from wizard.fields import ValidationError

    for data, key in (({"port": [80]}, "unknown key 'port'"), ({"ports": ["80"]}, "ports is a list"),
                      ({"files": {"kernel": "/x"}}, "files maps a source"), ({"disks": {"home": "rel"}}, "disks"),
                      ({"since_hours": 0}, "since_hours"), ({"sshd_config": "etc/ssh"}, "sshd_config")):
        with pytest.raises(ValidationError, match=key):
            hubfacts.Sources.from_mapping(data)
    sources = hubfacts.Sources.from_mapping({"ports": [8080, 8443], "since_hours": 2, "files": {"kernel_log": "/k"}})
    assert sources.ports == (8080, 8443) and sources.since_hours == 2.0 and sources.files == {"kernel_log": "/k"}
    bad = tmp_path / "sources.yaml"
    bad.write_text("ports: [eighty]\n")
    with Session.open("ubuntu@hub.example.edu:22", host="hub.example.edu") as session:
        session.accept("connection.host", "hub.example.edu")
    assert cli.main(["check", "ubuntu@hub.example.edu:22", "--probe-sources", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--probe-sources: ports is a list of TCP ports" in err
