"""Both front-ends walk the same steps: the same answers driven through the full-screen wizard (Pilot) and through
``tljh-wizard demo --plain`` in a pseudo-terminal (pexpect), each on its own demo sandbox hub, going Back once at
every step, leave the same session (answers, secrets, finished / failed / skipped steps) and the same config.yaml
on the hub. The two walks run side by side (the plain one is a process of its own, driven from a thread), each with
its own state directory.

The plain side finds each question by its field's help line (printed once per question), so the script names
only the answers that differ from what is offered; everything else is Enter (keep)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pexpect
import pytest

from tests.rig.bind import DnsWorld, ZoneSpec
from tests.support.plain import PlainDriver
from wizard import yamlio

HUB_V4 = "203.0.113.10"
SECRET = "parity-client-Secret-3e71"
WIZARD = str(Path(sys.executable).with_name("tljh-wizard"))


@pytest.fixture(scope="module")
def dns_world(tmp_path_factory):
    with DnsWorld(tmp_path_factory.mktemp("parity-dns"), {"ok.test": ZoneSpec(f"hub IN A {HUB_V4}")}) as world:
        yield world


def answers_for(world) -> dict[str, dict[str, str]]:
    """Per section: field -> text typed (TUI) / keys sent (plain). Fields not named keep what is offered."""
    return {
        "authenticator": {"client_id": "parity-client", "client_secret": SECRET, "admin_users": "alice",
                          "allowed_users": "alice, bob"},
        "domain": {"name": "hub.ok.test", "reserved_ipv4": HUB_V4, "ip_reserved_confirmed": True,
                   "resolvers": ", ".join(world.resolvers)},
        "https": {"mode": "none"},
        "limits": {"memory": "1G", "cpu": "1"},
        "backups": {"pull_bundle": False, "snapshots_confirmed": True},
        "ssh": {},
    }


# Steps in order, and what each does after its first arrival (where both front-ends go Back once).
WALK = ["connect", "authenticator", "domain", "https", "limits", "environment", "backups", "ssh", "review", "done"]
SKIPPED = {"environment"}


# ---------------------------------------------------------------------------------------------------------------
# the full-screen wizard


async def tui_walk(tmp_path, world) -> None:
    from screens.app import build_app
    from screens.modals import ConfirmModal
    from screens.step import StepScreen
    from tests.support.tui import SIZE, fill, settle, wait_for
    from wizard.context import open_context

    answers = answers_for(world)
    ctx = open_context(None, mode="sandbox", prefill={"connection.host": "localhost"})
    app = build_app(ctx)

    async def arrive(step_id: str) -> StepScreen:
        await wait_for(pilot, lambda: isinstance(app.screen, StepScreen) and app.screen.step_id == step_id
                       and not app.screen.busy, f"the {step_id} screen")
        await settle(pilot)
        return app.screen

    async def leave(screen) -> None:
        """Next until the screen is left: a pause on the results needs a second Next; Apply asks first."""
        for _ in range(6):
            await pilot.press("ctrl+n")
            await settle(pilot)
            if isinstance(app.screen, ConfirmModal):
                await pilot.click("#yes")
                await settle(pilot)
            if app.screen is not screen or app.return_code is not None:
                return
        pytest.fail(f"could not leave {screen.step_id}: {[(d.id, d.status) for d in screen.diagnoses]}")

    async def skip(screen) -> None:
        await pilot.click("#skip")
        await pilot.pause()
        if isinstance(app.screen, ConfirmModal):
            await pilot.click("#yes")
        await wait_for(pilot, lambda: app.screen is not screen, "the skip")

    async def answer(step_id: str) -> None:
        screen = await arrive(step_id)
        if step_id in SKIPPED:
            await skip(screen)
            return
        for section in screen.step.sections:
            fill(screen, **{f"{section}__{name}": value for name, value in answers.get(section, {}).items()})
        await leave(screen)

    async def keep(step_id: str) -> None:  # back on a step already answered: go on with what it shows
        screen = await arrive(step_id)
        await (skip(screen) if step_id in SKIPPED else leave(screen))

    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")  # welcome: Start
        await answer("connect")
        for index, step_id in enumerate(WALK[1:], 1):
            screen = await arrive(step_id)
            await pilot.press("ctrl+b")  # Back once at every step: the previous one keeps its answers
            await keep(WALK[index - 1])
            if step_id == "done":
                screen = await arrive("done")
                await pilot.press("ctrl+n")  # Finish
                await wait_for(pilot, lambda: app.return_code is not None, "the app to exit")
            elif step_id == "review":
                screen = await arrive("review")
                await leave(screen)  # Apply (confirmed), then Next
            else:
                await answer(step_id)
    assert app.return_value == 0
    ctx.close()
    ctx.session.close()


# ---------------------------------------------------------------------------------------------------------------
# the plain wizard in a pty


def plain_walk(tmp_path, world, state: Path) -> None:
    # PROMPT_TOOLKIT_NO_CPR: pexpect does not answer cursor-position requests; each prompt would wait for one.
    env = dict(os.environ, TERM="xterm", COLUMNS="200", LINES="50", TLJH_WIZARD_STATE_DIR=str(state),
               PROMPT_TOOLKIT_NO_CPR="1")
    child = pexpect.spawn(WIZARD, ["demo", "--plain"], cwd=str(tmp_path), env=env, encoding="utf-8",
                          dimensions=(50, 200), timeout=90)
    child.logfile_read = open(tmp_path / "plain-transcript.txt", "a", encoding="utf-8")
    driver = PlainDriver(child, answers_for(world), SKIPPED)
    driver.step("connect", fresh=True)
    for index, step_id in enumerate(WALK[1:], 1):
        driver.back(step_id)
        previous = WALK[index - 1]
        if previous == "review":
            pass  # Review again: nothing left to apply, so it goes straight on to Done
        else:
            driver.step(previous, fresh=False)
        driver.step(step_id, fresh=True)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, (tmp_path / "plain-transcript.txt").read_text()[-3000:]


# ---------------------------------------------------------------------------------------------------------------


def session_of(state: Path) -> dict:
    directory = state / "sessions" / "demo"
    saved = json.loads((directory / "state.json").read_text())
    secrets = json.loads((directory / "secrets.json").read_text()) if (directory / "secrets.json").exists() else {}
    keep = ("answers", "current_step", "finished_steps", "failed_steps", "skipped")
    found = {**{key: saved.get(key) for key in keep}, "secrets": secrets}
    return json.loads(json.dumps(found).replace(str(state), "STATE"))  # each walk has its own sandbox hub


@pytest.mark.slow
async def test_tui_and_plain_walks_leave_the_same_session_and_hub(dns_world, tmp_path, _isolated_state):
    tui_dir, plain_dir = tmp_path / "tui", tmp_path / "plain"
    tui_dir.mkdir()
    plain_dir.mkdir()
    plain = asyncio.get_running_loop().run_in_executor(None, plain_walk, plain_dir, dns_world, tmp_path / "plain-state")
    try:
        await tui_walk(tui_dir, dns_world)
    finally:
        await plain  # its own bounds (pexpect's timeout) end it if it hangs

    tui, plain = session_of(_isolated_state), session_of(tmp_path / "plain-state")
    assert tui["answers"]["authenticator"]["client_id"] == "parity-client"  # the walk really answered
    assert set(tui["finished_steps"]) >= {"connect", "authenticator", "domain", "review", "done"}
    for section in sorted(set(tui["answers"]) | set(plain["answers"])):
        assert tui["answers"].get(section) == plain["answers"].get(section), section
    assert tui == plain

    def hub_config(state: Path) -> dict:
        return yamlio.loads((state / "demo-hub" / "opt" / "tljh" / "config" / "config.yaml").read_text())

    config = hub_config(_isolated_state)
    assert config["auth"]["GitHubOAuthenticator"]["client_secret"] == SECRET
    assert config["limits"] == {"memory": "1G", "cpu": 1}
    assert config == hub_config(tmp_path / "plain-state")
