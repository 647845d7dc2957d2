"""The Textual wizard on the demo sandbox hub: a failing apply is rolled back and says so; Back keeps answers; the
Done screen's exports (answers, secrets 0600, TLJH config, Z2JH values) and cron line."""

from __future__ import annotations

from pathlib import Path

from screens.app import build_app
from tests.support.tui import COMPLETE, SIZE, fill, resume, sandbox_wizard, settle, wait_for, wait_for_screen
from wizard import yamlio
from wizard.context import RunOptions, open_context
from wizard.diagnosis import Status
from wizard.hub import sandbox

SECRET = COMPLETE["authenticator.client_secret"]


async def test_failed_apply_is_rolled_back_and_shown(tmp_path):
    from screens.modals import ConfirmModal
    from screens.review import ReviewScreen

    ctx, app, prefix = sandbox_wizard(tmp_path, "review", COMPLETE)
    async with app.run_test(size=SIZE) as pilot:
        screen = await resume(pilot, ReviewScreen)
        await settle(pilot)
        before = (prefix / "config" / "config.yaml").read_bytes()
        sandbox.script_reloads(prefix, hub=["fail"])  # the stand-in hub will fail its next reload
        await pilot.press("ctrl+n")
        await wait_for_screen(pilot, ConfirmModal)
        await pilot.click("#yes")
        screen = await wait_for_screen(pilot, ReviewScreen)
        await settle(pilot)
        outcome = {d.id: d for d in screen.diagnoses}
        assert outcome["apply"].status is Status.ERROR
        assert "restored byte for byte" in outcome["apply"].summary
        assert outcome["apply.reload-hub"].status is Status.ERROR
        assert not screen.applied and str(screen.query_one("#next").label) == "Apply"
        assert (prefix / "config" / "config.yaml").read_bytes() == before
        await pilot.press("ctrl+q")
    assert app.return_value == 3
    ctx.close()


async def test_back_keeps_the_answers_of_the_step_left(tmp_path):
    from textual.widgets import Input

    from screens.authenticator import AuthenticatorScreen
    from screens.domain import DomainScreen

    ctx, app, _prefix = sandbox_wizard(tmp_path, "authenticator", {})
    async with app.run_test(size=SIZE) as pilot:
        screen = await resume(pilot, AuthenticatorScreen)
        fill(screen, authenticator__client_id="kept-client", authenticator__client_secret=SECRET,
             authenticator__allowed_users="alice")
        await pilot.press("ctrl+n")
        screen = await wait_for_screen(pilot, DomainScreen)
        fill(screen, domain__name="typed.example.edu")  # typed, not accepted: Back does not save it
        await pilot.press("ctrl+b")
        screen = await wait_for_screen(pilot, AuthenticatorScreen)
        assert screen.query_one("#field-authenticator-client-id", Input).value == "kept-client"
        secret = screen.query_one("#field-authenticator-client-secret", Input)
        assert secret.value == "" and secret.placeholder == "saved — leave empty to keep it"
        await pilot.press("ctrl+q")
    assert ctx.session.current_step == "authenticator"
    assert ctx.session.answers.get("authenticator.client_secret") == SECRET
    assert not ctx.session.answers.answered("domain.name")
    ctx.close()


async def test_done_screen_exports(tmp_path, monkeypatch):
    from screens.done import DoneScreen

    monkeypatch.chdir(tmp_path)
    ctx, app, prefix = sandbox_wizard(tmp_path, "done", COMPLETE)
    async with app.run_test(size=SIZE) as pilot:
        screen = await resume(pilot, DoneScreen)
        shown = str(screen.query_one("#cron").render())
        replay = str(screen.query_one("#replay").render())
        assert ("tljh-wizard apply tljh-wizard-exports/answers.yaml --secrets tljh-wizard-exports/secrets.yaml"
                in replay.replace("\n", " ") and f"--sandbox {prefix}" in replay.replace("\n", " "))
        # The demo's own follow-ups (each one run offline: tests/test_demo_followups.py); no cron line for a sandbox.
        assert "tljh-wizard env list demo" in shown and "tljh-wizard check --quiet demo" in shown
        assert "17 7 * * *" not in shown
        assert "ssh jupyter-" not in str(screen.query_one("#ssh-logins").render())
        for kind in ("answers", "secrets", "tljh", "z2jh"):
            await pilot.click(f"#export-{kind}")
            await wait_for(pilot, lambda: "wrote" in str(screen.query_one("#export-result").render()) or
                           "✘" in str(screen.query_one("#export-result").render()), f"the {kind} export")
            assert "✘" not in str(screen.query_one("#export-result").render())
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.return_code is not None, "the app to exit")
    assert app.return_value == 0
    exports = tmp_path / "tljh-wizard-exports"
    assert (exports / "secrets.yaml").stat().st_mode & 0o777 == 0o600
    assert yamlio.loads((exports / "secrets.yaml").read_text())["authenticator"]["client_secret"] == SECRET
    for name in ("answers.yaml", "config.yaml", "z2jh/values.yaml"):
        text = (exports / name).read_text()
        assert SECRET not in text, name
    assert yamlio.loads((exports / "config.yaml").read_text())["limits"] == {"memory": "1G"}
    # Z2JH: the chart's secrets overlay beside its values (never the wizard's own secrets.yaml), both named in the
    # header's install line; together they pass the chart's schema.
    from wizard import z2jh

    values_text = (exports / "z2jh" / "values.yaml").read_text()
    assert "--values values.yaml --values secrets.yaml" in values_text
    overlay = exports / "z2jh" / "secrets.yaml"
    assert overlay.stat().st_mode & 0o777 == 0o600
    merged = z2jh.deep_merge(yamlio.loads(values_text), yamlio.loads(overlay.read_text()))
    z2jh.check(merged)
    assert merged["hub"]["config"]["GitHubOAuthenticator"]["client_secret"] == SECRET
    assert "authenticator" not in yamlio.loads(overlay.read_text())  # not the wizard's format
    ctx.close()



async def test_done_at_80x24_shows_what_was_applied_the_replay_and_the_files_without_scrolling(tmp_path):
    """The essential part of Done is on screen at the smallest terminal: the outcome per step (one state each),
    config.yaml on the hub, the replay command and the export buttons with the files they write."""
    import tempfile

    from screens.done import DoneScreen
    from wizard.steps import STEPS

    # A short prefix, as on a hub (/opt/tljh): parallel workers' tmp paths are long enough to wrap a line.
    short = Path(tempfile.mkdtemp(prefix="done-", dir="/tmp"))
    ctx, app, _prefix = sandbox_wizard(short, "done", COMPLETE)
    session = ctx.session
    for item in STEPS[1:-1]:
        session.go_to("done", **({"failed": item.id} if item.id == "domain" else {"finished": item.id}))
    session.skip_step("ssh")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await resume(pilot, DoneScreen)
        # The read-back of config.yaml replaces its "reading…" line (another length): measure after it.
        await wait_for(pilot, lambda: "reading it again" not in str(screen.query_one("#hub-config").render()),
                       "config.yaml to be read again", 60)
        await settle(pilot)
        content = screen.query_one("#content")
        assert content.scroll_y == 0
        visible = content.content_region
        for selector in ("#summary", "#hub-config", "#replay", "#export-dir", "#export-answers", "#export-z2jh",
                         "#export-result"):
            region = screen.query_one(selector).region
            assert region.height and visible.contains_region(region), (selector, region, visible)
        summary = str(screen.query_one("#summary").render())
        assert summary.count("Domain & DNS") == 1 and "continued despite a failed check: Domain & DNS" in summary
        assert "SSH access" in summary.split("skipped")[1]
        replay = str(screen.query_one("#replay").render()).replace("\n", " ")
        assert "tljh-wizard apply tljh-wizard-exports/answers.yaml" in replay
        files = str(screen.query_one("#export-result").render())
        assert "answers.yaml" in files and "secrets.yaml (0600)" in files and "z2jh/values.yaml" in files
        # The folder typed is the one the replay line and the file list name.
        screen.query_one("#export-dir").value = "course-hub"
        await pilot.pause()
        assert "course-hub/answers.yaml" in str(screen.query_one("#replay").render())
        assert "course-hub/answers.yaml" in str(screen.query_one("#export-result").render())
        await pilot.press("ctrl+q")
    ctx.close()


async def test_environment_step_summarises_and_the_freeze_waits_for_apply(tmp_path):
    """The step only reads: Next leaves no snapshot here or on the hub; Review lists the freeze among its actions."""
    from screens.backups import BackupsScreen
    from screens.environment import EnvironmentScreen
    from wizard.steps.review import plan

    ctx, app, prefix = sandbox_wizard(tmp_path, "environment", COMPLETE)
    async with app.run_test(size=SIZE) as pilot:
        await resume(pilot, EnvironmentScreen)
        await pilot.press("ctrl+n")  # freeze is on by default
        await settle(pilot)
        await wait_for_screen(pilot, BackupsScreen)
        await pilot.press("ctrl+q")
    log = (ctx.session.dir / "wizard.log").read_text()
    assert "Base environment: checks finished (ok)" in log
    assert not list((ctx.session.dir / "environment").rglob("*.json")), "the step froze before Review"
    assert not list((prefix / "state").rglob("tljh-wizard/environment/*.json"))
    assert ctx.session.state["current_step"] == "backups" and "environment" in ctx.session.finished_steps
    reviewed = plan(ctx)
    assert any(action.startswith("freeze the user environment") for action in reviewed.actions), reviewed.actions
    ctx.close()


async def test_local_mode_connects_to_this_machine(tmp_path):
    """--local: no SSH; commands run here (as root in the test container) against a TLJH tree at the prefix."""
    from screens.authenticator import AuthenticatorScreen
    from screens.connect import ConnectScreen

    prefix = sandbox.create_tree(tmp_path / "opt-tljh")
    ctx = open_context(None, mode="local", prefill={"connection.host": "localhost"},
                       options=RunOptions(metadata_base="http://127.0.0.1:9"))
    assert ctx.session.name == "local"
    app = build_app(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        screen = await wait_for_screen(pilot, ConnectScreen)
        assert not screen.query("#row-connection-host") and screen.query("#row-connection-sudo-password")
        fill(screen, connection__tljh_prefix=str(prefix))
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert {d.status for d in screen.diagnoses} == {Status.OK}  # shown until Next
        await pilot.press("ctrl+n")
        await wait_for_screen(pilot, AuthenticatorScreen)
        await pilot.press("ctrl+q")
    assert ctx.facts.tljh_version == sandbox.TLJH_VERSION
    assert ctx.target.name == "local"
    ctx.close()


async def test_environment_restore_shows_the_plan_and_needs_confirmation(tmp_path):
    from screens.environment import EnvironmentScreen
    from screens.modals import ConfirmModal
    from wizard.steps.environment import environment_checks

    ctx, app, prefix = sandbox_wizard(tmp_path, "environment", COMPLETE)
    assert "environment.summary" in {d.id for d in environment_checks(ctx)}
    from wizard.environment.snapshot import freeze_hub

    freeze_hub(ctx.hub, ctx.session.dir / "environment")  # as an apply's freeze would
    # After the freeze, someone pip-installs a package into the user environment.
    site = next((prefix / "user" / "lib").glob("python*/site-packages"))
    info = site / "left_pad-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: left-pad\nVersion: 1.0\n")
    (info / "INSTALLER").write_text("pip\n")
    async with app.run_test(size=SIZE) as pilot:
        screen = await resume(pilot, EnvironmentScreen)
        await pilot.click("#restore")
        modal = await wait_for_screen(pilot, ConfirmModal)
        assert "left-pad" in modal.body or "left_pad" in modal.body
        await pilot.click("#no")
        screen = await wait_for_screen(pilot, EnvironmentScreen)
        assert [(d.id, d.status) for d in screen.diagnoses] == [("environment.restore", Status.SKIPPED)]
        assert info.exists()  # declined: nothing ran
        await pilot.click("#restore")
        await wait_for_screen(pilot, ConfirmModal)
        await pilot.click("#yes")
        screen = await wait_for_screen(pilot, EnvironmentScreen)
        await settle(pilot)
        outcome = screen.diagnoses[0]
        # Confirmed: the restore is planned for apply (the answer and the form hold the snapshot); nothing ran.
        assert outcome.id == "environment.restore" and outcome.status is Status.OK, outcome
        assert "runs when you apply" in outcome.summary and info.exists()
        snapshot = ctx.answers.get("environment.restore")
        assert snapshot and screen.query_one("#field-environment-restore").value == snapshot
        await pilot.press("ctrl+q")
    ctx.close()
