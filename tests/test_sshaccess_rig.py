"""The SSH access step against a real sshd laid out like a hub's (tests/rig/sshd_access.py): keys installed into
TLJH-named accounts let a real OpenSSH client (BatchMode) in; password login turned off only with proof."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.support.hubs import tljh_system_username
from wizard.answers import Answers
from wizard.diagnosis import Status
from wizard.sshaccess import engine
from wizard.sshaccess.keys import MARK


def _keygen(path: Path, comment: str) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True)
    return path.with_suffix(".pub").read_text().strip()


def answers_for(admins, admin_keys=None, user_keys=None, password="keep") -> Answers:
    answers = Answers()
    answers.set("authenticator.type", "native")
    answers.set("authenticator.admin_users", list(admins))
    if admin_keys is not None:
        answers.set("ssh.admin_keys", admin_keys)
    if user_keys is not None:
        answers.set("ssh.user_keys", user_keys)
    answers.set("ssh.password_authentication", password)
    return answers


def run_step(answers, target):
    plan = engine.plan(answers, target)
    assert not plan.refusals, plan.refusals
    return plan, engine.execute(plan, target)


def home(account: str) -> Path:
    import pwd

    return Path(pwd.getpwnam(account).pw_dir)


def test_admin_keys_let_a_real_ssh_client_in_as_tljh_names_the_accounts(access_sshd, hub_names, tmp_path):
    rig = access_sshd()
    short, long = hub_names("ann"), hub_names("bo", long=True)
    assert len("jupyter-" + long) > 32
    key = _keygen(tmp_path / "admin_key", "admin@laptop")
    answers = answers_for([short, long], [key])
    target = rig.target()
    with target:
        plan, outcome = run_step(answers, target)
        assert [c.account for c in plan.changes] == sorted([tljh_system_username(short), tljh_system_username(long)])
        assert all(c.create for c in plan.changes)
        fingerprint = subprocess.run(["ssh-keygen", "-l", "-f", str(tmp_path / "admin_key.pub")], capture_output=True,
                                     text=True, check=True).stdout.split()[1]
        assert any(fingerprint in line for line in plan.lines())
        assert [d.status for d in outcome] == [Status.OK, Status.OK, Status.SKIPPED], outcome
        # The wizard holds none of the admin keys: the step says which login to try, exactly.
        assert outcome[-1].data["logins"] == sorted(f"ssh -p {rig.port} {tljh_system_username(u)}@{rig.host}"
                                                    for u in (short, long))

    for hub_user in (short, long):
        account = tljh_system_username(hub_user)
        done = rig.ssh(account, tmp_path / "admin_key", "id")
        assert done.returncode == 0, done.stderr
        assert f"({account})" in done.stdout and "jupyterhub-admins" in done.stdout
        assert rig.ssh(account, tmp_path / "admin_key", "sudo", "-n", "true").returncode == 0
        ssh_dir = home(account) / ".ssh"
        keys_file = ssh_dir / "authorized_keys"
        dir_stat, file_stat = ssh_dir.lstat(), keys_file.lstat()
        import pwd

        uid = pwd.getpwnam(account).pw_uid
        assert (stat.S_IMODE(dir_stat.st_mode), dir_stat.st_uid) == (0o700, uid)
        assert (stat.S_IMODE(file_stat.st_mode), file_stat.st_uid) == (0o600, uid)
        assert keys_file.read_text() == f"{key} {MARK}\n"
        # TLJH's ensure_user: chmod o-rwx on the home
        assert stat.S_IMODE(home(account).stat().st_mode) & 0o007 == 0

    # A second apply changes nothing.
    with rig.target() as target:
        target.connect()
        before = target.round_trips
        again = engine.plan(answers, target)
        assert again.changes == [] and again.actions == []
        assert target.round_trips - before == 1  # every account, key file and sshd setting in one round trip


def test_removing_a_key_removes_only_the_wizards_line(access_sshd, hub_names, tmp_path):
    rig = access_sshd()
    admin = hub_names("cy")
    account = tljh_system_username(admin)
    wizard_key, kept_key, own_key = (_keygen(tmp_path / name, name) for name in ("wiz", "kept", "own"))
    with rig.target() as target:
        run_step(answers_for([admin], [wizard_key, kept_key]), target)
    keys_file = home(account) / ".ssh" / "authorized_keys"
    # The user adds a key of their own (from a Jupyter terminal), with a comment line.
    with open(keys_file, "a") as handle:
        handle.write("# my laptop\n" + own_key + "\n")
    with rig.target() as target:
        plan, outcome = run_step(answers_for([admin], [kept_key]), target)
        assert [k.comment for k in plan.changes[0].removed] == ["wiz"] and plan.changes[0].added == []
        assert [d.status for d in outcome if d.id == "apply.ssh-keys"] == [Status.OK]
    assert keys_file.read_text() == f"{kept_key} {MARK}\n# my laptop\n{own_key}\n"
    assert rig.ssh(account, tmp_path / "wiz", "id").returncode != 0
    assert rig.ssh(account, tmp_path / "own", "id").returncode == 0
    assert rig.ssh(account, tmp_path / "kept", "id").returncode == 0


def test_user_keys_go_to_that_users_account_only(access_sshd, hub_names, tmp_path):
    rig = access_sshd()
    admin, student = hub_names("di"), hub_names("ed")
    admin_key, student_key = _keygen(tmp_path / "a", "a"), _keygen(tmp_path / "s", "s")
    with rig.target() as target:
        plan, outcome = run_step(answers_for([admin], [admin_key], {student: [student_key]}), target)
    assert {c.account: c.admin for c in plan.changes} == {tljh_system_username(admin): True,
                                                           tljh_system_username(student): False}
    student_account = tljh_system_username(student)
    done = rig.ssh(student_account, tmp_path / "s", "id")
    assert done.returncode == 0 and "jupyterhub-users" in done.stdout and "jupyterhub-admins" not in done.stdout
    assert rig.ssh(student_account, tmp_path / "a", "id").returncode != 0


def test_verify_logs_in_as_the_admin_with_the_key_the_wizard_holds(access_sshd, hub_names):
    rig = access_sshd()
    admin = hub_names("fa")
    operator_public = rig.client_key.with_suffix(".pub").read_text().strip()
    with rig.target() as target:
        plan, outcome = run_step(answers_for([admin], [operator_public]), target)
    assert plan.verify == (tljh_system_username(admin), f"the key {rig.client_key}")
    verify = outcome[-1]
    assert verify.id == "apply.ssh-verify" and verify.status is Status.OK, verify
    assert f"({tljh_system_username(admin)})" in verify.data["id"]


def test_a_planted_symlink_is_refused_not_followed(access_sshd, hub_names, tmp_path):
    rig = access_sshd()
    admin = hub_names("gi")
    key = _keygen(tmp_path / "k", "k")
    with rig.target() as target:
        run_step(answers_for([admin], [key]), target)
    account = tljh_system_username(admin)
    keys_file = home(account) / ".ssh" / "authorized_keys"
    keys_file.unlink()
    victim = tmp_path / "victim"
    victim.write_text("root's file\n")
    os.symlink(victim, keys_file)
    other = _keygen(tmp_path / "k2", "k2")
    with rig.target() as target:
        plan = engine.plan(answers_for([admin], [key, other]), target)
    assert any("symlink" in reason for reason in plan.refusals)
    assert victim.read_text() == "root's file\n"


def test_password_login_off_with_proof(access_sshd, tmp_path):
    rig = access_sshd()
    assert rig.password_login(rig.password_user, rig.password)
    with rig.target() as target:
        plan, outcome = run_step(answers_for([], password="disable"), target)
        assert [a for a, _ in plan.actions] == ["sshd-passwords"]
        assert outcome[-1].status is Status.OK, outcome
        assert "proven" in outcome[-1].summary
    assert (rig.dropin_dir / "01-tljh-wizard.conf").read_text() == engine.DROPIN_TEXT
    assert not rig.password_login(rig.password_user, rig.password)
    assert rig.ssh(rig.operator, rig.client_key, "true").returncode == 0
    # Once off, a second plan has nothing to do.
    with rig.target() as target:
        assert engine.plan(answers_for([], password="disable"), target).actions == []


def test_a_failing_sshd_t_leaves_the_configuration_untouched(access_sshd, tmp_path):
    rig = access_sshd()
    fake = tmp_path / "sshd-failing-t"
    # sshd itself for -T; a refusal for -t, as when the configuration does not parse.
    fake.write_text('#!/bin/sh\nfor a in "$@"; do [ "$a" = "-t" ] && { echo "line 3: Bad configuration option" >&2; '
                    f'exit 255; }}; done\nexec {engine.SshdPaths().sshd} "$@"\n')
    fake.chmod(0o755)
    config_before = rig.config.read_text()
    with rig.target(sshd=str(fake)) as target:
        plan = engine.plan(answers_for([], password="disable"), target)
        outcome = engine.execute(plan, target)
    assert outcome[-1].status is Status.ERROR and "sshd -t refused" in outcome[-1].summary
    assert "unchanged" in outcome[-1].summary
    assert list(rig.dropin_dir.iterdir()) == []
    assert rig.config.read_text() == config_before
    assert rig.password_login(rig.password_user, rig.password)


def test_refused_when_the_operator_connected_with_a_password(access_sshd):
    from wizard.hub.ssh import SSHTarget, fingerprint

    rig = access_sshd()

    class PasswordTarget(SSHTarget):
        """The operator's connection made with a password (the wizard itself always uses keys)."""

        def connect(self):
            import paramiko

            client = paramiko.SSHClient()
            client.load_host_keys(str(rig.known_hosts))
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
            client.connect(self.host, self.port, username=self.user, password=rig.password, allow_agent=False,
                           look_for_keys=False, timeout=10)
            self._client = client
            self.host_key_fingerprint = fingerprint(client.get_transport().get_remote_server_key())

    target = PasswordTarget(rig.host, port=rig.port, user=rig.password_user, sudo_password=rig.password,
                            allow_agent=False, look_for_keys=False, known_hosts_files=[rig.known_hosts])
    target.sshd_paths = rig.paths()
    with target:
        target.connect()
        assert engine.operator_auth(target) == "password"
        plan = engine.plan(answers_for([], password="disable"), target)
    assert plan.dropin_text is None and plan.actions == []
    assert any("your own connection logged in with password" in reason for reason in plan.refusals)
    assert list(rig.dropin_dir.iterdir()) == []


def test_no_include_of_the_dropin_directory_is_explained_not_worked_around(access_sshd):
    rig = access_sshd(include=False)
    with rig.target() as target:
        plan = engine.plan(answers_for([], password="disable"), target)
    assert plan.dropin_text is None
    assert any("does not Include" in reason and str(rig.dropin_dir) in reason for reason in plan.refusals)
    assert rig.password_login(rig.password_user, rig.password)


def test_check_reports_an_offboarded_users_key_and_orphan_accounts(access_sshd, hub_names, tmp_path):
    from wizard.sshaccess import audit

    rig = access_sshd()
    admin, leaver, stranger = hub_names("ha"), hub_names("io"), hub_names("ju")
    key = _keygen(tmp_path / "k", "k")
    with rig.target() as target:
        run_step(answers_for([admin, leaver], [key]), target)
    # A stranger's account (made by hand, not for any hub user) with a key of its own.
    account = tljh_system_username(stranger)
    subprocess.run(["useradd", "--create-home", account], check=True)
    ssh_dir = home(account) / ".ssh"
    ssh_dir.mkdir(mode=0o700)
    (ssh_dir / "authorized_keys").write_text(_keygen(tmp_path / "s", "stranger@somewhere") + "\n")

    # The leaver is off-boarded: no longer admin, no longer allowed.
    answers = answers_for([admin], [key], password="disable")
    answers.set("authenticator.type", "github")
    answers.set("authenticator.allowed_users", [admin])
    with rig.target() as target:
        found = audit.findings(answers, target)
    by_id = {}
    for item in found:
        by_id.setdefault(item.id, []).append(item)
    assert by_id["ssh.keys"][0].status is Status.OK
    offboarded = by_id["ssh.offboarded"]
    assert [d.data["account"] for d in offboarded] == [tljh_system_username(leaver)]
    assert "no longer allowed" in offboarded[0].summary and "no longer admin" in offboarded[0].summary
    assert "apply the answers again" in offboarded[0].fix
    orphans = by_id["ssh.orphans"][0]
    assert orphans.status is Status.WARNING and account in orphans.details and "stranger@somewhere" in orphans.details
    assert tljh_system_username(admin) not in orphans.details
    assert by_id["ssh.passwords"][0].status is Status.WARNING
    assert "although the answers turned them off" in by_id["ssh.passwords"][0].summary
    # The same findings come out of `check` (its probe, over the audit's one connection).
    from wizard.audit import checks

    subject = checks.AuditSubject("rig", answers)
    audited = checks.audit(subject, checks.AuditOptions(probes=("ssh",)), rig.target)
    assert [d.data["account"] for d in audited if d.id == "ssh.offboarded"] == [tljh_system_username(leaver)]

    # Applying the new answers removes the wizard's line from the leaver's account.
    with rig.target() as target:
        plan, _outcome = run_step(answers, target)
    assert [(c.account, len(c.removed)) for c in plan.changes] == [(tljh_system_username(leaver), 1)]
    assert rig.ssh(tljh_system_username(leaver), tmp_path / "k", "id").returncode != 0


def test_allowusers_that_would_refuse_the_account_is_reported_as_sshd_decides(access_sshd, hub_names, tmp_path):
    from tests.rig.sshd import ADMIN_USER, PASSWORD_USER

    rig = access_sshd(extra=f"AllowUsers {ADMIN_USER} {PASSWORD_USER}\n")
    admin = hub_names("lu")
    account = tljh_system_username(admin)
    key = _keygen(tmp_path / "k", "k")
    with rig.target() as target:
        plan, outcome = run_step(answers_for([admin], [key]), target)
    finding = next(d for d in plan.findings if d.id == f"ssh.login.{account}")
    assert finding.status is Status.WARNING and "AllowUsers" in finding.summary
    # The fix keeps the operator's own login in the list.
    assert finding.fix.endswith(f"AllowUsers {ADMIN_USER} {PASSWORD_USER} {account}")
    assert rig.ssh(account, tmp_path / "k", "id").returncode != 0  # sshd agrees: refused
    rig.config.write_text(rig.config.read_text().replace(f"AllowUsers {ADMIN_USER} {PASSWORD_USER}",
                                                         f"AllowUsers {ADMIN_USER} {PASSWORD_USER} {account}"))
    rig.reload()
    import time

    for _ in range(50):  # sshd re-executes itself on SIGHUP
        done = rig.ssh(account, tmp_path / "k", "id")
        if done.returncode == 0:
            break
        time.sleep(0.1)
    assert done.returncode == 0, done.stderr
    with rig.target() as target:
        assert not [d for d in engine.plan(answers_for([admin], [key]), target).findings
                    if d.id == f"ssh.login.{account}"]


@pytest.mark.slow
def test_apply_command_replays_ssh_answers(access_sshd, hub_names, tmp_path):
    """``tljh-wizard apply answers.yaml`` (a subprocess): keys installed, password login off, the login verified."""
    import sys

    from wizard import yamlio
    from wizard.hub import sandbox

    rig = access_sshd()
    prefix = tmp_path / "opt-tljh"
    sandbox.create_tree(prefix, python=sys.executable)
    api = sandbox.HubApiStandIn(prefix)
    admin = hub_names("na")
    account = tljh_system_username(admin)
    operator_key = rig.client_key.with_suffix(".pub").read_text().strip()
    answers = {
        "version": 1,
        "connection": {"host": rig.host, "port": rig.port, "user": rig.operator, "key_file": str(rig.client_key),
                       "tljh_prefix": str(prefix)},
        "authenticator": {"type": "native", "admin_users": [admin]},
        "domain": {"name": "hub.example.edu", "reserved_ipv4": "203.0.113.10"},
        "https": {"mode": "none"},
        "ssh": {"admin_keys": [operator_key], "password_authentication": "disable"},
    }
    path = tmp_path / "answers.yaml"
    path.write_text(yamlio.dump(answers))
    argv = [sys.executable, "-m", "wizard", "apply", str(path), "--yes", "--known-hosts", str(rig.known_hosts),
            "--hub-api-url", api.url, "--sshd-config", str(rig.config)]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"{account} (admin {admin})" in done.stdout and fingerprint_of(operator_key) in done.stdout
        assert "OK       apply.ssh-verify" in done.stdout
        assert rig.ssh(account, rig.client_key, "id").returncode == 0
        assert not rig.password_login(rig.password_user, rig.password)
        again = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0 and "Nothing to do." in again.stdout, again.stdout  # a second apply: no change
    finally:
        api.close()


def fingerprint_of(line: str) -> str:
    from wizard.sshaccess.keys import parse_public_key

    return parse_public_key(line).fingerprint


def test_a_drop_in_that_breaks_new_logins_is_reverted(access_sshd, monkeypatch):
    """A drop-in that passes ``sshd -t`` but locks new logins out (simulated: it also says ``AllowUsers nobody``):
    the new key login fails after the reload, so the previous configuration comes back, through the connection that
    stayed open, and sshd is reloaded again."""
    rig = access_sshd()
    monkeypatch.setattr(engine, "DROPIN_TEXT", engine.DROPIN_TEXT + "AllowUsers nobody\n")
    monkeypatch.setattr(engine, "PROOF_ATTEMPTS", 3)
    with rig.target() as target:
        plan = engine.plan(answers_for([], password="disable"), target)
        outcome = engine.execute(plan, target)
        assert target.run(["true"]).ok  # the operator's own connection was never given up
    verdict = outcome[-1]
    assert verdict.status is Status.ERROR and "NOT turned off" in verdict.summary and "reverted" in verdict.summary
    assert "refused" in verdict.summary
    assert list(rig.dropin_dir.iterdir()) == []
    import time

    for _ in range(50):  # the reverting reload re-executes sshd
        if rig.ssh(rig.operator, rig.client_key, "true").returncode == 0:
            break
        time.sleep(0.1)
    assert rig.ssh(rig.operator, rig.client_key, "true").returncode == 0
    assert rig.password_login(rig.password_user, rig.password)
