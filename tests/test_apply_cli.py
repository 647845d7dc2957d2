"""The apply, backup and restore-backup commands end to end (subprocesses), on the sandbox and on the sshd rig, and
`tljh-wizard demo` in a pseudo-terminal."""

import os
import sys
from pathlib import Path

import pytest

from tests.support.cli import wizard, write_answers
from tests.support.hubs import CLIENT_SECRET, rig_documents, sandbox_documents
from wizard import yamlio
from wizard.hub import sandbox


def tree_state(root: Path) -> dict:
    state = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        state[str(path)] = (info.st_mode, info.st_size, info.st_mtime_ns,
                            path.read_bytes() if path.is_file() else None)
    return state


def test_dry_run_against_the_sandbox_changes_no_file(tmp_path, _isolated_state):
    hub = sandbox.create_tree(tmp_path / "hub")
    answers, secrets = write_answers(tmp_path, *sandbox_documents())
    before = tree_state(hub)
    done = wizard("apply", answers, "--secrets", secrets, "--sandbox", hub, "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "+++ config.yaml (after apply)" in done.stdout and "GitHubOAuthenticator" in done.stdout
    assert "1. pull a backup bundle of TLJH's config/ and state/" in done.stdout
    assert "2. freeze the user environment" in done.stdout and "3. back up config.yaml" in done.stdout
    assert "tljh-config reload hub" in done.stdout
    assert CLIENT_SECRET not in done.stdout + done.stderr
    assert tree_state(hub) == before
    assert not (_isolated_state / "sessions").exists()


@pytest.mark.slow
def test_apply_to_the_sandbox(tmp_path):
    hub = sandbox.create_tree(tmp_path / "hub")
    answers, secrets = write_answers(tmp_path, *sandbox_documents())
    done = wizard("apply", answers, "--secrets", secrets, "--sandbox", hub, "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Applied" in done.stdout
    config = yamlio.loads((hub / "config" / "config.yaml").read_text())
    assert config["auth"]["GitHubOAuthenticator"]["client_secret"] == CLIENT_SECRET
    assert [r["component"] for r in sandbox.reloads(hub)] == ["proxy", "hub"]
    again = wizard("apply", answers, "--secrets", secrets, "--sandbox", hub, "--yes")
    assert again.returncode == 0 and "Nothing to do." in again.stdout


def test_missing_answer_is_named_and_nothing_changes(tmp_path):
    hub = sandbox.create_tree(tmp_path / "hub")
    public, secret = sandbox_documents()
    del public["domain"]["name"]
    answers, secrets = write_answers(tmp_path, public, secret)
    before = tree_state(hub)
    done = wizard("apply", answers, "--secrets", secrets, "--sandbox", hub, "--yes")
    assert done.returncode == 2 and "domain.name" in done.stderr
    assert tree_state(hub) == before


def test_without_yes_and_without_a_terminal_nothing_is_applied(tmp_path):
    hub = sandbox.create_tree(tmp_path / "hub")
    answers, secrets = write_answers(tmp_path, *sandbox_documents())
    done = wizard("apply", answers, "--secrets", secrets, "--sandbox", hub)
    assert done.returncode == 2 and "--yes" in done.stderr
    assert (hub / "config" / "config.yaml").read_text() == sandbox.PRISTINE_CONFIG


@pytest.mark.slow
def test_apply_over_ssh_and_a_rolled_back_failure(sshd_hub, tmp_path):
    # HTTPS off: a certificate order is gated on a DNS check (tests/test_https_apply.py), not this test's subject
    public, secret = rig_documents(sshd_hub, user=sshd_hub.password_user, https="none")
    answers, secrets = write_answers(tmp_path, public, secret)
    sandbox.script_reloads(sshd_hub.prefix, hub=["fail"])
    common = ["--secrets", secrets, "--known-hosts", sshd_hub.known_hosts, "--hub-api-url", sshd_hub.hub_api_url,
              "--yes"]
    failed = wizard("apply", answers, *common)
    assert failed.returncode == 2 and "restored byte for byte" in failed.stdout, failed.stdout + failed.stderr
    assert (sshd_hub.prefix / "config" / "config.yaml").read_text() == sandbox.PRISTINE_CONFIG
    done = wizard("apply", answers, *common)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "GitHubOAuthenticator" in (sshd_hub.prefix / "config" / "config.yaml").read_text()


def test_unknown_host_key_without_a_terminal_is_refused_with_its_fingerprint(sshd_hub, tmp_path):
    public, secret = rig_documents(sshd_hub)
    del public["connection"]["host_key"]
    answers, secrets = write_answers(tmp_path, public, secret)
    done = wizard("apply", answers, "--secrets", secrets, "--known-hosts", tmp_path / "empty", "--dry-run")
    assert done.returncode == 2
    assert sshd_hub.host_key_fingerprint in done.stderr and "not known" in done.stderr


def test_backup_and_restore_commands(sshd_hub, tmp_path):
    config = sshd_hub.prefix / "config" / "config.yaml"
    original = config.read_bytes()
    host = f"{sshd_hub.admin.name}@{sshd_hub.host}:{sshd_hub.port}"
    options = ["--key", sshd_hub.client_key, "--prefix", sshd_hub.prefix, "--known-hosts", sshd_hub.known_hosts]
    pulled = wizard("backup", host, *options, "-o", tmp_path / "bundles")
    assert pulled.returncode == 0, pulled.stderr
    bundle = Path(pulled.stdout.splitlines()[0])
    assert bundle.stat().st_mode & 0o777 == 0o600
    config.write_bytes(b"users: {}\n")
    refused = wizard("restore-backup", host, bundle, *options)
    assert refused.returncode == 2 and "--yes" in refused.stderr and config.read_bytes() == b"users: {}\n"
    restored = wizard("restore-backup", host, bundle, *options, "--yes", "--reload")
    assert restored.returncode == 0, restored.stderr
    assert config.read_bytes() == original
    assert [r["component"] for r in sandbox.reloads(sshd_hub.prefix)] == ["proxy", "hub"]


def test_demo_in_a_pseudo_terminal_reaches_the_first_screen(tmp_path):
    import pexpect

    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "36"}
    child = pexpect.spawn(sys.executable, ["-m", "wizard", "demo"], env=env, dimensions=(36, 120), timeout=60)
    try:
        child.expect("Start")
        child.expect("demo sandbox")
        child.sendcontrol("q")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)


def test_a_replay_on_the_demo_sandbox_records_the_session(tmp_path):
    """The sandbox cannot be reached by a CA: no certificate is ordered there (the HTTPS work on a real hub:
    tests/test_https_apply.py); config.yaml gets the settings and the replay saves its session."""
    public, secret = sandbox_documents()
    public["https"] = {"mode": "acme-dns", "email": "admin@example.edu", "tsig_server": "127.0.0.1",
                       "tsig_zone": "example.edu.", "tsig_key_name": "k.", "tos_agreed": True}
    secret["https"] = {"tsig_secret": "c2VjcmV0LXNlY3JldC1zZWNyZXQ="}
    public["environment"] = {"freeze": False}
    answers, secrets = write_answers(tmp_path, public, secret)
    hub = tmp_path / "hub"
    done = wizard("apply", answers, "--secrets", secrets, "--sandbox", hub, "--yes", "--no-smoke")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "https-" not in done.stdout and "order the certificate" not in done.stdout
    assert "GitHubOAuthenticator" in (hub / "config" / "config.yaml").read_text()
    # The replay saved its session: sessions lists it, export reads its answers back.
    listed = wizard("sessions")
    assert "demo" in listed.stdout, listed.stdout + listed.stderr
    exported = wizard("export", "demo", "--format", "answers")
    assert exported.returncode == 0 and "example-org" in exported.stdout, exported.stdout + exported.stderr
    from wizard.session import Session

    with Session.open("demo", create=False, lock=False) as session:
        assert {"authenticator", "https"} <= set(session.state["finished_steps"])
