"""An apply started from the Review screen cannot be abandoned: Back, Escape, Skip, Re-run, a second Apply and Quit
are refused while it runs (here: a reload that hangs); "Stop and roll back" gives up on the hanging reload, restores
the old config.yaml and shows it; a later resume plans from what the hub really holds; Done reads the hub again."""

from __future__ import annotations

import pytest

from screens.app import build_app
from tests.support.tui import COMPLETE, SIZE, resume, sandbox_wizard, settle, wait_for, wait_for_screen
from wizard.context import open_context
from wizard.diagnosis import Status
from wizard.hub import apply as hub_apply
from wizard.hub import sandbox
from wizard.steps import done as done_step


async def start_apply(pilot):
    from screens.modals import ConfirmModal
    from screens.review import ReviewScreen

    await pilot.press("ctrl+n")
    await wait_for_screen(pilot, ConfirmModal)
    await pilot.click("#yes")
    return await wait_for_screen(pilot, ReviewScreen)


def hub_reloads(prefix, component="hub"):
    return [r for r in sandbox.reloads(prefix) if r["component"] == component]


async def test_a_hanging_apply_cannot_be_left_and_stop_rolls_it_back(tmp_path):
    from screens.review import ReviewScreen

    ctx, app, prefix = sandbox_wizard(tmp_path, "review", COMPLETE)
    config = prefix / "config" / "config.yaml"
    async with app.run_test(size=SIZE) as pilot:
        await resume(pilot, ReviewScreen)
        await settle(pilot)
        before = config.read_bytes()
        sandbox.script_reloads(prefix, hub=["hang"])
        screen = await start_apply(pilot)
        await wait_for(pilot, lambda: hub_reloads(prefix), "the hub reload to start (and hang)")
        assert screen.applying and config.read_bytes() != before  # the new file is written; the reload hangs
        for key in ("ctrl+b", "escape", "ctrl+s", "ctrl+k", "ctrl+r", "ctrl+n", "ctrl+q"):
            await pilot.press(key)
            await pilot.pause(0.05)
            assert pilot.app.screen is screen and screen.applying, key
        assert app.is_running and screen.query_one("#back").disabled
        assert screen.query_one("#stop-apply").display

        await pilot.click("#stop-apply")
        await wait_for(pilot, lambda: not screen.applying, "the rollback to finish")
        await settle(pilot)
        outcome = {d.id: d for d in screen.diagnoses}
        assert "apply" in outcome, [(d.id, d.summary) for d in screen.diagnoses]
        assert outcome["apply"].status is Status.ERROR
        assert "stopped by the operator" in outcome["apply"].summary
        assert "restored byte for byte" in outcome["apply"].summary
        assert "previous config.yaml" in outcome["apply"].details
        assert config.read_bytes() == before
        assert not screen.query_one("#stop-apply").display and not screen.query_one("#back").disabled
        assert ctx.session.record("apply")["status"] == "rolled-back"
        await pilot.press("ctrl+q")
    assert app.return_value == 3
    ctx.close()
    ctx.session.close()

    # A later resume plans from what the hub really holds: the old file, so the whole apply again.
    ctx = open_context(None, mode="sandbox", sandbox_prefix=prefix)
    app = build_app(ctx)
    async with app.run_test(size=SIZE) as pilot:
        screen = await resume(pilot, ReviewScreen)
        await settle(pilot)
        assert screen.plan is not None and not screen.plan.problems
        assert any("write config.yaml" in action for action in screen.plan.actions)
        assert not any("unfinished apply" in action for action in screen.plan.actions)
        await pilot.press("ctrl+q")
    ctx.close()


async def test_done_reads_the_hubs_config_again(tmp_path):
    from screens.done import DoneScreen
    from screens.review import ReviewScreen

    ctx, app, prefix = sandbox_wizard(tmp_path, "review", COMPLETE)
    async with app.run_test(size=SIZE) as pilot:
        await resume(pilot, ReviewScreen)
        await settle(pilot)
        screen = await start_apply(pilot)
        await wait_for(pilot, lambda: screen.applied, "the apply to finish")
        await settle(pilot)
        await pilot.press("ctrl+n")
        done = await wait_for_screen(pilot, DoneScreen)
        await settle(pilot)
        text = str(done.query_one("#hub-config").render())
        assert "is the applied file" in text, text
        await pilot.press("ctrl+q")
    # Changed on the hub since: Done says so.
    (prefix / "config" / "config.yaml").write_text(sandbox.PRISTINE_CONFIG)
    state = done_step.hub_config_state(ctx)
    assert state.status is Status.ERROR and "the file from before apply" in state.summary
    ctx.close()


@pytest.mark.parametrize("when", ["before", "during"])
def test_the_engine_stop_rolls_back(tmp_path, when):
    """Applier.stop() from another thread: before any action, or while a reload hangs."""
    import threading

    from tests.support.hubs import sandbox_documents
    from wizard.answers import Answers
    from wizard.hub.local import SandboxTarget
    from wizard.session import Session

    target = SandboxTarget(tmp_path / "hub")
    config = tmp_path / "hub" / "config" / "config.yaml"
    before = config.read_bytes()
    sandbox.script_reloads(target.prefix, hub=["hang"])
    with Session.open(target.name) as session:
        applier = hub_apply.Applier(target, session)
        current = hub_apply.plan(Answers.from_documents(*sandbox_documents()), config.read_text())
        if when == "before":
            applier.stop()
        else:
            threading.Thread(target=lambda: (_wait_for_reload(target.prefix), applier.stop()), daemon=True).start()
        result = applier.execute(current)
    assert result.stopped and not result.ok and result.hub_holds == "old" and result.exit_code == 2
    assert config.read_bytes() == before
    assert ("Nothing on the hub was changed" if when == "before" else "restored byte for byte") in result.summary()
    target.close()


def _wait_for_reload(prefix):
    import time

    deadline = time.monotonic() + 60
    while not hub_reloads(prefix) and time.monotonic() < deadline:
        time.sleep(0.05)
