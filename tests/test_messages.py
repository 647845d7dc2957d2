"""Messages that must point the operator the right way: the file at fault, why nothing happened."""

from __future__ import annotations

import subprocess
import sys

import pexpect

from wizard.session import Session

WIZARD = [sys.executable, "-m", "wizard"]


def test_a_bad_secrets_file_is_blamed_on_itself_not_on_the_answers_file(tmp_path):
    answers = tmp_path / "a.yaml"
    answers.write_text("version: 1\nconnection: {host: hub.example.edu}\n")
    secrets = tmp_path / "s.yaml"
    secrets.write_text("version: 7\n")
    secrets.chmod(0o600)
    run = subprocess.run([*WIZARD, "apply", str(answers), "--secrets", str(secrets), "--dry-run"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert f"{secrets}: unsupported secrets file version 7" in run.stderr
    assert f"{answers}:" not in run.stderr


def test_restore_backup_answered_no_says_nothing_was_restored(tmp_path):
    hub = tmp_path / "hub"
    out = tmp_path / "bundles"
    made = subprocess.run([*WIZARD, "backup", "--sandbox", str(hub), "-o", str(out)], capture_output=True,
                          text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    bundle = next(out.glob("*.tar.gz"))
    config = hub / "config" / "config.yaml"
    before = config.read_bytes() if config.exists() else None
    child = pexpect.spawn(WIZARD[0], [*WIZARD[1:], "restore-backup", "--sandbox", str(hub), str(bundle)],
                          encoding="utf-8", timeout=60)
    child.expect("Type yes: ")
    child.sendline("no")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2
    assert "not restored: the answer was not 'yes'" in child.before
    assert (config.read_bytes() if config.exists() else None) == before


def test_renew_on_a_letsencrypt_session_names_that_mode():
    from wizard.diagnosis import Status
    from wizard.https import issue

    with Session.open("admin@hub.example.edu:22") as session:
        session.accept("https.mode", "letsencrypt")
        verdict = issue.renew(session, None, None)
    assert verdict.status is Status.ERROR
    assert "HTTPS mode is letsencrypt" in verdict.summary and "TLJH's proxy renews" in verdict.summary
    assert "acme-dns)" not in verdict.summary


def test_the_exit_summary_gives_each_step_one_status():
    """A step continued despite a failed check is listed as that, never also as pending; a skipped step only as
    skipped."""
    from wizard.context import open_context
    from wizard.steps import STEPS
    from wizard.walk import exit_summary

    ctx = open_context("admin@hub.example.edu:22")
    try:
        session = ctx.session
        session.go_to("authenticator", finished="connect")
        session.go_to("domain", finished="authenticator")
        session.go_to("https", failed="domain")
        session.go_to("limits", failed="https")
        session.skip_step("https")
        session.go_to("environment", finished="limits")
        summary = exit_summary(ctx, finished=False)
    finally:
        ctx.session.close()
    lines = {line.split(":")[0].strip(): line.split(":", 1)[1] for line in summary.splitlines()[1:]
             if ":" in line and not line.startswith("    ")}
    for title in [step.title for step in STEPS[:-1]]:
        holders = [status for status, titles in lines.items() if title in titles.split(", ")
                   or titles.strip().startswith(title)]
        assert len(holders) <= 1, (title, holders, summary)
    assert "Domain & DNS" in lines["continued despite a failed check"]
    assert "Domain & DNS" not in lines["pending"] and "HTTPS" not in lines["pending"]
    assert "HTTPS" in lines["skipped (the hub keeps its own settings)"]
    assert "HTTPS" not in lines["continued despite a failed check"]


def test_the_missing_access_policy_names_the_fields_as_shown_and_as_keys():
    """The message is shown beside the TUI's fields and printed for answers files: it names both forms."""
    from wizard.answers import Answers, field_for

    for kind, grant in (("github", "allowed_organizations"), ("google", "hosted_domain"),
                        ("generic", "allowed_groups"), ("ldap", "allowed_groups")):
        answers = Answers.from_documents({"version": 1, "authenticator": {"type": kind}})
        [message] = [p.message for p in answers.problems() if "access policy" in p.message]
        for name in ("allowed_users", grant, "allow_all"):
            assert f"{field_for('authenticator.' + name).label} ({name})" in message, message
