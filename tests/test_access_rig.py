"""The "who can log in" preview and the apply preflight on the sshd rig: the probe runs with the rig hub's own
``PREFIX/hub/bin/python`` (real JupyterHub 5 and authenticator packages, TLJH's configurer as the rig's stand-in),
sent on stdin over the session's SSH connection, and changes nothing on the hub."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.hubs import config_file, rig_documents, rig_target
from wizard import access, yamlio
from wizard.answers import Answers
from wizard.diagnosis import Status


def _tree_state(prefix):
    return sorted((str(p.relative_to(prefix)), p.stat().st_size, p.stat().st_mtime_ns)
                  for p in prefix.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def test_the_preview_runs_on_the_hub_with_its_own_python_and_touches_nothing(sshd_hub):
    public, secret = rig_documents(sshd_hub, auth={"type": "google", "client_id": "X", "hosted_domain": ["example.edu"],
                                                   "admin_users": ["teacher@example.edu"]})
    answers = Answers.from_documents(public, secret)
    before = _tree_state(sshd_hub.prefix / "config") + _tree_state(sshd_hub.prefix / "state")
    with rig_target(sshd_hub, answers) as target:
        config = access.rendered_config(answers)
        preview = access.preview(config, target=target, extra=[access.parse_identity("bob@example.edu")])
    assert preview.where == "hub", preview.skipped
    assert preview.configurer == "tljh.configurer"  # the module on the hub (the rig's stand-in of TLJH's)
    outcome = {v.name: v.outcome for v in preview.verdicts}
    assert outcome == {"teacher@example.edu": "admin", "student@example.edu": "allowed",
                       "outsider@gmail.com": "refused", "bob@example.edu": "allowed"}
    assert after_is(before, sshd_hub)


def after_is(before, hub):
    return before == _tree_state(hub.prefix / "config") + _tree_state(hub.prefix / "state")


def test_the_preflight_on_the_hub_catches_a_config_that_stops_the_hub(sshd_hub):
    public, secret = rig_documents(sshd_hub)
    answers = Answers.from_documents(public, secret)
    broken = {"auth": {"type": "oauthenticator.generic.GenericOAuthenticator", "GenericOAuthenticator": {
        "allowed_groups": ["students"], "userdata_url": "https://id.example.edu/userinfo"}}}
    with rig_target(sshd_hub, answers) as target:
        preview = access.preview(broken, target=target)
    assert preview.where == "hub" and not preview.constructed
    finding = preview.diagnoses()[0]
    assert finding.status is Status.ERROR and "manage_groups" in finding.summary


def _apply(hub, *extra, auth=None):
    public, secret = rig_documents(hub, auth=auth, https="none")  # no certificate work: access is the subject
    answers_path, secrets_path = hub.prefix.parent / "access-answers.yaml", hub.prefix.parent / "access-secrets.yaml"
    answers_path.write_text(yamlio.dump(public))
    secrets_path.write_text(yamlio.dump(secret))
    secrets_path.chmod(0o600)
    return subprocess.run([sys.executable, "-m", "wizard", "apply", str(answers_path), "--secrets", str(secrets_path),
                           "--known-hosts", str(hub.known_hosts), "--hub-api-url", hub.hub_api_url, *extra],
                          capture_output=True, text=True, timeout=300)


def test_apply_dry_run_prints_the_preview_computed_on_the_hub(sshd_hub):
    before = config_file(sshd_hub).read_bytes()
    done = _apply(sshd_hub, "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "Who can log in (GitHubOAuthenticator, computed by its own code with the hub's own Python" in done.stdout
    assert "member-of-example-org" in done.stdout and "outsider" in done.stdout
    assert config_file(sshd_hub).read_bytes() == before


@pytest.mark.slow
def test_a_preflight_error_blocks_the_apply_before_any_write_unless_skipped(sshd_hub):
    (sshd_hub.prefix / "config" / "config.yaml").write_text("auth:\n  type: oauthenticator.github.GitHubOAuthenticator\n")
    before = config_file(sshd_hub).read_bytes()
    # every account of GitHub without a confirmation cannot be written by the wizard (answers refuse it), so the rig
    # breaks the hub environment instead: a class the hub's Python cannot import
    site = sshd_hub.prefix / "hub" / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    block = site / "zz_block_oauthenticator.pth"
    block.write_text("import sys; sys.modules['oauthenticator.github'] = None\n")
    try:
        done = _apply(sshd_hub, "--yes")
        assert done.returncode == 2, done.stdout + done.stderr
        assert "preflight" in done.stderr and "cannot be constructed" in done.stdout
        assert config_file(sshd_hub).read_bytes() == before  # nothing written, no backup taken
        assert not list((sshd_hub.prefix / "config").glob("*.bak"))
    finally:
        block.unlink()
    done = _apply(sshd_hub, "--yes", "--no-preflight")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "allow_all: false" in config_file(sshd_hub).read_text()


def test_access_command_on_a_live_hub_flags_admit_nobody(sshd_hub, tmp_path):
    (sshd_hub.prefix / "config" / "config.yaml").write_text(
        "auth:\n  type: oauthenticator.google.GoogleOAuthenticator\n  GoogleOAuthenticator:\n"
        "    hosted_domain: [example.edu]\n    oauth_callback_url: https://hub.example.edu/hub/oauth_callback\n")
    done = subprocess.run([sys.executable, "-m", "wizard", "access", f"{sshd_hub.admin.name}@{sshd_hub.host}:{sshd_hub.port}",
                           "--key", str(sshd_hub.client_key), "--prefix", str(sshd_hub.prefix),
                           "--known-hosts", str(sshd_hub.known_hosts), "--json", "--as", "ann@example.edu"],
                          capture_output=True, text=True, timeout=300)
    data = json.loads(done.stdout)
    assert done.returncode == 2 and data["where"] == "hub" and data["source"] == "hub config"
    assert {v["name"]: v["outcome"] for v in data["verdicts"]}["ann@example.edu"] == "refused"
    assert any(f["status"] == "error" and "nobody" in f["summary"] for f in data["findings"])


@pytest.mark.slow
def test_check_reports_who_can_log_in_and_flags_a_live_config_that_admits_everybody(sshd_hub):
    from wizard.audit.checks import AuditOptions, AuditSubject, audit

    (sshd_hub.prefix / "config" / "config.yaml").write_text(
        "auth:\n  type: oauthenticator.github.GitHubOAuthenticator\n  GitHubOAuthenticator:\n"
        "    client_id: c\n    allow_all: true\n    oauth_callback_url: https://hub.example.edu/hub/oauth_callback\n")
    public, secret = rig_documents(sshd_hub)
    answers = Answers.from_documents(public, secret)
    findings = audit(AuditSubject("rig", answers), AuditOptions(probes=("access",)),
                     target_factory=lambda: rig_target(sshd_hub, answers))
    by_id = {}
    for finding in findings:
        by_id.setdefault(finding.id, []).append(finding)
    preview = by_id["access.preview"][0]
    assert preview.status is Status.OK and preview.data["where"] == "hub"
    assert "outsider: allowed" in preview.summary
    assert any(f.status is Status.WARNING and "every account" in f.summary for f in by_id["access.preflight"])
