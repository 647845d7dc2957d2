"""Steps before Review change nothing on the hub: the full-screen wizard (Pilot) and the plain wizard (pexpect) walk
the Base environment step (packages to install, a freeze), the Backups step (a bundle) and the SSH access step to
Review over SSH on the sshd rig, and leave without applying. Review lists every remote action; the hub is byte for
byte what it was — its config and state directories (config.yaml, snapshots, certificates), the user environment's
conda-meta and pip packages, every authorized_keys file — and no backup bundle was pulled.

The user environment is a real venv (pip the real one, from local wheels); conda is a stand-in that records each
command (``wizard.environment.sample.install_conda_standin``): the checks may only run it with ``--dry-run``."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import pexpect
import pytest

from tests.rig.bind import free_port
from tests.support.tui import SIZE, resume, settle, wait_for, wait_for_screen
from wizard.environment import sample
from wizard.session import Session, session_name

WIZARD = str(Path(sys.executable).with_name("tljh-wizard"))
EXPECTED_ACTIONS = ("pull a backup bundle", "conda install xarray", "pip install ipywidgets==8.1.5",
                    "freeze the user environment", "write config.yaml")


@pytest.fixture
def hub(env_hub):
    """The rig's hub with a sample user environment (``tests/rig/userenv.py``)."""
    return env_hub


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def hub_state(prefix: Path, local: list[Path]) -> dict:
    """What a change before Review would touch: every file, directory and mode under config/ and state/, the user
    environment's conda-meta and its installed Python distributions, every authorized_keys file on the machine, and
    the local folders a backup bundle would land in."""
    state: dict = {}
    trees = [prefix / "config", prefix / "state", prefix / "user" / "conda-meta", *local]
    for tree in trees:
        for path in sorted(tree.rglob("*")) if tree.exists() else []:
            info = path.lstat()
            state[str(path)] = (info.st_mode, _digest(path) if path.is_file() and not path.is_symlink() else None)
    state["site-packages"] = sorted(p.name for p in (prefix / "user").glob("lib/python*/site-packages/*"))
    for keys in sorted([*Path("/home").glob("*/.ssh/authorized_keys*"), *Path("/root/.ssh").glob("authorized_keys*")]):
        state[str(keys)] = _digest(keys)
    return state


def unchanged(after: dict, before: dict) -> dict:
    """``after`` as far as this walk could have changed it: an account other tests (running beside this one) create
    under /home meanwhile is theirs; every account the walk's answers name, and every file there before, counts."""
    ours = tuple(f"/home/jupyter-{name}/" for name in ("alice",))  # answers_for's admin and allowed user
    return {key: value for key, value in after.items()
            if key in before or not key.startswith("/home/") or key.startswith(ours)}


def answers_for(rig) -> dict:
    return {
        "connection.host": rig.host, "connection.port": rig.port, "connection.user": rig.admin.name,
        "connection.key_file": str(rig.client_key), "connection.tljh_prefix": str(rig.prefix),
        "authenticator.type": "github", "authenticator.client_id": "readonly-client",
        "authenticator.client_secret": "readonly-Secret-41f2", "authenticator.allowed_users": ["alice"],
        "authenticator.admin_users": ["alice"], "domain.name": "hub.example.edu",
        "domain.reserved_ipv4": "203.0.113.10", "domain.ip_reserved_confirmed": True, "https.mode": "none",
        "limits.memory": "1G", "limits.cpu": 1,
        "environment.conda_packages": ["xarray"], "environment.pip_packages": ["ipywidgets==8.1.5"],
        "environment.freeze": True, "backups.pull_bundle": True,
    }


def prepare(rig, name: str) -> None:
    """A session stopped at the Base environment step, every earlier answer given."""
    with Session.open(name, host=rig.host) as session:
        for key, value in answers_for(rig).items():
            session.accept(key, value)
        session.skip_step("ssh")
        for finished in ("connect", "authenticator", "domain", "https", "limits"):
            session.go_to("environment", finished=finished)


@pytest.mark.slow
async def test_tui_walk_to_review_changes_nothing_on_the_hub(hub, tmp_path, monkeypatch):
    from screens.app import build_app
    from screens.environment import EnvironmentScreen
    from screens.review import ReviewScreen
    from screens.step import StepScreen
    from wizard.context import RunOptions, open_context

    monkeypatch.chdir(tmp_path)
    name = session_name(hub.host, hub.admin.name, hub.port)
    prepare(hub, name)
    ctx = open_context(name, mode="ssh", options=RunOptions(
        known_hosts=[str(hub.known_hosts)], hub_api_url=hub.hub_api_url,
        metadata_base=f"http://127.0.0.1:{free_port()}", skip_reachability=True))
    local = [ctx.session.dir / "backups", ctx.session.dir / "environment"]
    before = hub_state(hub.prefix, local)
    app = build_app(ctx)
    try:
        async with app.run_test(size=SIZE) as pilot:
            screen = await resume(pilot, EnvironmentScreen)
            for step_id in ("environment", "backups"):
                await wait_for(pilot, lambda s=step_id: isinstance(app.screen, StepScreen)
                               and app.screen.step_id == s and not app.screen.busy, step_id)
                screen = app.screen
                for _ in range(3):  # Next, and Next again past a pause on the results
                    await pilot.press("ctrl+n")
                    await settle(pilot)
                    if app.screen is not screen:
                        break
                if step_id == "environment":
                    found = {d.id: d.status.value for d in screen.diagnoses}
                    assert found.get("environment.conda") == "ok" and found.get("environment.pip") == "ok", found
            from screens.modals import ConfirmModal
            from screens.ssh import SshAccessScreen

            ssh = await wait_for_screen(pilot, SshAccessScreen)  # skipped: the hub's accounts stay as they are
            await settle(pilot)
            await pilot.click("#skip")
            await pilot.pause()
            if isinstance(app.screen, ConfirmModal):
                await pilot.click("#yes")
            await wait_for(pilot, lambda: app.screen is not ssh, "the skip")
            review = await wait_for_screen(pilot, ReviewScreen)
            await settle(pilot)
            assert review.plan is not None and not review.plan.problems, review.plan.problems
            listed = "\n".join(review.plan.actions)
            for action in EXPECTED_ACTIONS:
                assert action in listed, listed
            assert not review.applying and not review.applied
            app.exit(3)
    finally:
        ctx.close()
        ctx.session.close()
    assert unchanged(hub_state(hub.prefix, local), before) == before
    assert sample.conda_log(hub.prefix) and all("--dry-run" in argv for argv in sample.conda_log(hub.prefix))


@pytest.mark.slow
def test_plain_walk_to_review_changes_nothing_on_the_hub(hub, tmp_path, monkeypatch):
    state = tmp_path / "plain-state"
    monkeypatch.setenv("TLJH_WIZARD_STATE_DIR", str(state))
    name = session_name(hub.host, hub.admin.name, hub.port)
    prepare(hub, name)
    session_dir = state / "sessions" / name
    local = [session_dir / "backups", session_dir / "environment"]
    before = hub_state(hub.prefix, local)
    env = dict(os.environ, TERM="xterm", COLUMNS="200", LINES="50", TLJH_WIZARD_STATE_DIR=str(state),
               PROMPT_TOOLKIT_NO_CPR="1")
    child = pexpect.spawn(WIZARD, ["--plain", f"{hub.admin.name}@{hub.host}:{hub.port}", "--known-hosts",
                                   str(hub.known_hosts), "--hub-api-url", hub.hub_api_url, "--metadata-base",
                                   f"http://127.0.0.1:{free_port()}", "--skip-reachability"],
                          cwd=str(tmp_path), env=env, encoding="utf-8", dimensions=(50, 200), timeout=120)
    transcript = tmp_path / "plain-transcript.txt"
    child.logfile_read = open(transcript, "a", encoding="utf-8")
    from tests.support.plain import PlainDriver

    driver = PlainDriver(child, {}, skipped={"ssh"})  # every answer kept: nothing is typed afresh
    try:
        child.expect_exact("Resume")
        child.send("y")
        child.expect_exact(": Base environment ==")
        child.expect_exact("Set up Base environment now?")
        child.send("y")
        pause, restore, following = "Read the table above, then:", "Restore the newest snapshot?", "Step 7/"
        found = driver.section("environment", [restore, pause, following], fresh=False)  # every answer kept
        if found == 0:
            child.send("n")  # no restore (asked once; the answered prompt is redrawn with the same words)
            found = 1 + child.expect_exact([pause, following])
        if found == 1:
            child.send("\r")  # continue past the results
        driver.step("backups", fresh=False)
        driver.step("ssh", fresh=False)  # skipped
        child.expect_exact(": Review & apply ==")
        child.expect_exact("Apply these changes to")
        child.send("n")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    text = transcript.read_text()
    for action in EXPECTED_ACTIONS:
        assert action in text, text[-3000:]
    assert child.exitstatus == 3, text[-3000:]  # stopped at Review: resumable, nothing applied
    assert unchanged(hub_state(hub.prefix, local), before) == before
    assert all("--dry-run" in argv for argv in sample.conda_log(hub.prefix))
