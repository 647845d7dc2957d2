"""The SSH access step in both front-ends (Textual and plain prompts), end to end on the hub-like sshd
(tests/rig/sshd_access.py) with a TLJH tree under a temp prefix: the step's checks, the Review's fingerprints, the
apply (keys, password login off with proof, the verifying login) and the Done step's ssh line; then a real OpenSSH
client logs in and a password login is refused."""

from __future__ import annotations

import sys

import pytest

from screens.app import build_app
from tests.rig.bind import free_port
from tests.support.hubs import tljh_system_username
from tests.support.tui import SIZE, fill, resume, settle, wait_for_screen
from wizard.context import RunOptions, open_context
from wizard.diagnosis import Status
from wizard.hub import sandbox


@pytest.mark.slow
async def test_ssh_step_reviewed_applied_and_verified(access_sshd, hub_names, tmp_path, monkeypatch):
    from screens.done import DoneScreen
    from screens.modals import ConfirmModal
    from screens.review import ReviewScreen
    from screens.ssh import SshAccessScreen
    from wizard.sshaccess.keys import parse_public_key

    monkeypatch.chdir(tmp_path)
    rig = access_sshd()
    prefix = tmp_path / "opt-tljh"
    sandbox.create_tree(prefix, python=sys.executable)
    api = sandbox.HubApiStandIn(prefix)
    admin = hub_names("ka")
    account = tljh_system_username(admin)
    key_line = rig.client_key.with_suffix(".pub").read_text().strip()
    ctx = open_context(None, mode="ssh", prefill={
        "connection.host": rig.host, "connection.port": rig.port, "connection.user": rig.operator,
        "connection.key_file": str(rig.client_key), "connection.tljh_prefix": str(prefix)})
    ctx.options = RunOptions(known_hosts=[str(rig.known_hosts)], hub_api_url=api.url, sshd_paths=rig.paths(),
                             metadata_base=f"http://127.0.0.1:{free_port()}", skip_reachability=True)
    for key, value in {"authenticator.type": "github", "authenticator.client_id": "tui-client",
                       "authenticator.client_secret": "tui-Secret-9d1", "authenticator.allowed_users": admin,
                       "authenticator.admin_users": admin, "domain.name": "hub.example.edu",
                       "domain.reserved_ipv4": "203.0.113.10", "https.mode": "none"}.items():
        ctx.session.accept(key, value)
    ctx.session.go_to("ssh", finished="connect")
    app = build_app(ctx)
    try:
        async with app.run_test(size=SIZE) as pilot:
            screen = await resume(pilot, SshAccessScreen)
            fill(screen, ssh__admin_keys=key_line, ssh__password_authentication="disable")
            await pilot.press("ctrl+n")
            await settle(pilot)
            found = {d.id: d for d in screen.diagnoses}
            fingerprint = parse_public_key(key_line).fingerprint
            assert found["ssh.keys"].status is Status.OK and fingerprint in found["ssh.keys"].details
            assert "passwordless sudo" in found["ssh.admins"].summary
            if app.screen is screen:
                await pilot.press("ctrl+n")

            screen = await wait_for_screen(pilot, ReviewScreen)
            await settle(pilot)
            assert screen.plan is not None and not screen.plan.problems, screen.plan.problems
            actions = "\n".join(screen.plan.actions)
            assert f"{account} (admin {admin})" in actions and fingerprint in actions
            assert "password login off" in actions
            await pilot.press("ctrl+n")
            await wait_for_screen(pilot, ConfirmModal)
            await pilot.click("#yes")
            screen = await wait_for_screen(pilot, ReviewScreen)
            await settle(pilot)
            outcome = {d.id: d for d in screen.diagnoses}
            for action in ("apply", "apply.ssh-accounts", "apply.ssh-keys", "apply.sshd-passwords",
                           "apply.ssh-verify"):
                assert outcome[action].status is Status.OK, (action, outcome[action])
            assert screen.applied
            await pilot.press("ctrl+n")
            screen = await wait_for_screen(pilot, DoneScreen)
            text = str(screen.query_one("#ssh-logins").render())
            assert f"ssh -p {rig.port} {account}@hub.example.edu" in text and "authorized_keys" in text
            await pilot.press("ctrl+n")
    finally:
        api.close()
        ctx.close()
        ctx.session.close()
    done = rig.ssh(account, rig.client_key, "id")
    assert done.returncode == 0 and f"({account})" in done.stdout
    assert not rig.password_login(rig.password_user, rig.password)


def test_plain_prompts_for_the_ssh_step_apply_and_verify(access_sshd, hub_names, tmp_path, monkeypatch):
    from wizard.plain import EXIT_DONE, PlainWizard, ScriptedPrompter
    from wizard.sshaccess.keys import parse_public_key

    monkeypatch.chdir(tmp_path)
    rig = access_sshd()
    prefix = tmp_path / "opt-tljh"
    sandbox.create_tree(prefix, python=sys.executable)
    api = sandbox.HubApiStandIn(prefix)
    admin = hub_names("ma")
    account = tljh_system_username(admin)
    key_line = rig.client_key.with_suffix(".pub").read_text().strip()
    ctx = open_context(None, mode="ssh", prefill={
        "connection.host": rig.host, "connection.port": rig.port, "connection.user": rig.operator,
        "connection.key_file": str(rig.client_key), "connection.tljh_prefix": str(prefix)})
    ctx.options = RunOptions(known_hosts=[str(rig.known_hosts)], hub_api_url=api.url, sshd_paths=rig.paths())
    for key, value in {"authenticator.type": "native", "authenticator.admin_users": admin,
                       "domain.name": "hub.example.edu", "domain.reserved_ipv4": "203.0.113.10",
                       "https.mode": "none"}.items():
        ctx.session.accept(key, value)
    ctx.session.go_to("ssh", finished="connect")
    prompter = ScriptedPrompter(
        {"ssh.admin_keys": (rig.client_key.read_text(), key_line), "ssh.password_authentication": "disable"},
        confirms={"Resume": True, "Set up SSH access": True, "Apply these changes": True, "Write the exports": False})
    try:
        assert PlainWizard(ctx, prompter).run() == EXIT_DONE, "\n".join(prompter.transcript)
    finally:
        api.close()
        ctx.close()
        ctx.session.close()
    transcript = "\n".join(prompter.transcript)
    assert "PRIVATE key" in prompter.rejected["ssh.admin_keys"][0]
    assert rig.client_key.read_text().splitlines()[1] not in transcript
    assert parse_public_key(key_line).fingerprint in transcript  # the Review's action list
    rows = [line.split()[:2] for line in transcript.splitlines()]
    for action in ("apply.ssh-keys", "apply.sshd-passwords", "apply.ssh-verify"):
        assert ["OK", action] in rows, (action, transcript[-3000:])
    assert f"ssh -p {rig.port} {account}@hub.example.edu" in transcript
    assert rig.ssh(account, rig.client_key, "id").returncode == 0
    assert not rig.password_login(rig.password_user, rig.password)
