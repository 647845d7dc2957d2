"""The full-screen wizard cannot mislead its operator: keys, safe Escape, checks after a resume, rules known at entry,
and the engine-worker rule (cancel, errors, quit during a host-key question). Driven with Pilot on the demo sandbox
hub (and the real sshd rig for the host-key question)."""

from __future__ import annotations

import threading
from contextlib import asynccontextmanager

import pytest
from textual.widgets import Input

from screens.app import build_app
from tests.support.tui import (
    SIZE,
    fill,
    sandbox_wizard,
    settle,
    to_host_key_question,
    unpinned_rig_context,
    wait_for,
    wait_for_screen,
)
from wizard.diagnosis import Diagnosis, Status
from wizard.steps import CHECKS

OAUTH = {"authenticator.type": "github", "authenticator.client_id": "keys-client",
         "authenticator.client_secret": "keys-Secret-shown-once-8d1", "authenticator.allowed_organizations": "org-a",
         "domain.name": "hub.example.edu", "domain.reserved_ipv4": "203.0.113.10", "https.mode": "none"}


async def resume_at(pilot, cls):
    from screens.modals import ResumeModal

    await wait_for_screen(pilot, ResumeModal)
    await pilot.press("escape")  # Escape is the safe choice: resume, never "start over"
    return await wait_for_screen(pilot, cls)


@asynccontextmanager
async def domain_refused(tmp_path, name: str, ipv4: str):
    """The demo's Domain step at 80x24 after Next with ``name`` and ``ipv4`` typed, focus left on the last field
    (so a move of focus to the refused one shows): yields (ctx, app, pilot, screen); quits and closes after."""
    from screens.domain import DomainScreen

    ctx, app, _prefix = sandbox_wizard(tmp_path, "domain", {k: v for k, v in OAUTH.items()
                                                             if not k.startswith("domain.")})
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await resume_at(pilot, DomainScreen)
        fill(screen, domain__name=name, domain__reserved_ipv4=ipv4)
        screen.query_one("#field-domain-resolvers").focus()
        await pilot.press("ctrl+n")
        await pilot.pause()
        yield ctx, app, pilot, screen
        await pilot.press("ctrl+q")
    ctx.close()


def test_no_step_key_shadows_an_input_editing_key():
    from textual.widgets import DataTable, Select, Switch

    from screens.step import StepScreen

    editing = set()
    for widget in (Input, Select, Switch, DataTable):
        for binding in widget.BINDINGS:
            editing |= {key.strip() for key in binding.key.split(",")}
    step_keys = {key.strip() for binding in StepScreen.BINDINGS for key in binding.key.split(",")
                 if binding.priority}
    assert "ctrl+k" in editing  # kill to the end of the line
    assert not step_keys & editing, step_keys & editing


async def test_ctrl_k_edits_the_field_and_skip_asks_what_the_hub_keeps(tmp_path):
    from screens.environment import EnvironmentScreen
    from screens.limits import LimitsScreen
    from screens.modals import ConfirmModal

    ctx, app, _prefix = sandbox_wizard(tmp_path, "limits", OAUTH)
    async with app.run_test(size=SIZE) as pilot:
        screen = await resume_at(pilot, LimitsScreen)
        field = screen.query_one("#field-limits-memory", Input)
        field.focus()
        field.value = "2G junk"
        field.cursor_position = 2
        await pilot.press("ctrl+k")  # the input's kill-to-end-of-line, not a step action
        await pilot.pause()
        assert app.screen is screen and field.value == "2G"

        await pilot.press("ctrl+s")
        modal = await wait_for_screen(pilot, ConfirmModal)
        assert "memory and CPU limits" in modal.body and "hub keeps" in modal.body
        await pilot.press("escape")  # the safe answer: stay
        await wait_for_screen(pilot, LimitsScreen)
        assert "limits" not in ctx.session.skipped_steps

        await pilot.press("ctrl+s")
        await wait_for_screen(pilot, ConfirmModal)
        await pilot.click("#yes")
        await wait_for_screen(pilot, EnvironmentScreen)
        assert "limits" in ctx.session.skipped_steps
        await pilot.press("ctrl+q")
    assert app.return_value == 3
    ctx.close()


async def test_enter_moves_to_the_next_field_and_submits_on_the_last(tmp_path):
    from screens.domain import DomainScreen
    from screens.https import HttpsScreen

    ctx, app, _prefix = sandbox_wizard(tmp_path, "domain", {k: v for k, v in OAUTH.items()
                                                             if not k.startswith("domain.")})
    async with app.run_test(size=SIZE) as pilot:
        screen = await resume_at(pilot, DomainScreen)
        name = screen.query_one("#field-domain-name", Input)
        assert app.focused is name
        await pilot.press(*"hub.example.edu", "enter")
        assert app.focused is screen.query_one("#field-domain-reserved-ipv4")
        fill(screen, domain__reserved_ipv4="203.0.113.10", domain__ip_reserved_confirmed=True)
        last = [w for w in screen.query("FieldRow Input") if w.parent.parent.display][-1]
        last.focus()
        await pilot.press("enter")  # the last field: Next, which runs the checks
        await settle(pilot)
        # Reachability is not checked on the sandbox: a SKIPPED check never counts as passed, the step stays.
        assert app.screen is screen and screen.diagnoses
        assert any(d.status is Status.SKIPPED for d in screen.diagnoses)
        assert ctx.answers.get("domain.name") == "hub.example.edu"
        await pilot.press("ctrl+n")  # read: go on
        await wait_for_screen(pilot, HttpsScreen)
        await pilot.press("ctrl+q")
    ctx.close()


async def test_enter_on_a_switch_moves_on_and_space_toggles_it(tmp_path):
    """A run of Enters through a form never flips a yes/no answer (here: "the IP is reserved", which would silence
    a check): Enter moves to the next field as in a text input; Space toggles."""
    from screens.domain import DomainScreen

    ctx, app, _prefix = sandbox_wizard(tmp_path, "domain", {k: v for k, v in OAUTH.items()
                                                             if not k.startswith("domain.")})
    async with app.run_test(size=SIZE) as pilot:
        screen = await resume_at(pilot, DomainScreen)
        switch = screen.query_one("#field-domain-ip-reserved-confirmed")
        switch.focus()
        await pilot.pause()
        before = switch.value
        await pilot.press("enter")
        await pilot.pause()
        assert switch.value == before
        assert app.focused is screen.query_one("#field-domain-resolvers")
        switch.focus()
        await pilot.press("space")
        await pilot.pause()
        assert switch.value is (not before) and app.focused is switch
        await pilot.press("ctrl+q")
    ctx.close()


async def test_a_refused_next_focuses_the_refused_field(tmp_path):
    """Focus goes to the first field that was refused by its validator, not to the step's first field."""
    async with domain_refused(tmp_path, "hub.example.edu", "203.0.113.300") as (_ctx, app, _pilot, screen):
        assert app.screen is screen
        assert app.focused is screen.query_one("#field-domain-reserved-ipv4")


async def test_a_corrected_value_loses_its_refusal_while_typing(tmp_path):
    """The refusal under a field goes as soon as the field's own rule accepts the corrected text (before Next)."""
    async with domain_refused(tmp_path, "hub.example.edu", "203.0.113.300") as (_ctx, app, pilot, screen):
        row = screen.query_one("#row-domain-reserved-ipv4")
        assert row.has_class("-invalid") and app.focused is screen.query_one("#field-domain-reserved-ipv4")
        await pilot.press("end", "backspace", "backspace")  # 203.0.113.3: a valid address
        await pilot.pause()
        assert not row.has_class("-invalid")
        assert str(screen.query_one("#row-domain-reserved-ipv4 .field-error").render()) == ""


async def test_a_refusal_across_fields_stays_until_next(tmp_path):
    """A section rule's refusal (Let's Encrypt needs a contact e-mail) is judged on Next, not per key."""
    from screens.https import HttpsScreen

    ctx, app, _prefix = sandbox_wizard(tmp_path, "https", {**OAUTH, "https.mode": "letsencrypt"})
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await resume_at(pilot, HttpsScreen)
        await pilot.press("ctrl+n")
        await pilot.pause()
        row = screen.query_one("#row-https-email")
        assert row.has_class("-invalid") and app.focused is screen.query_one("#field-https-email", Input)
        await pilot.press("a")
        await pilot.pause()
        assert row.has_class("-invalid")
        await pilot.press("ctrl+q")
    ctx.close()


async def test_a_refused_section_rule_focuses_its_field(tmp_path):
    """A section rule (Let's Encrypt needs a contact e-mail) refuses a field that is not the first: focus goes there."""
    from screens.https import HttpsScreen

    ctx, app, _prefix = sandbox_wizard(tmp_path, "https", {**OAUTH, "https.mode": "letsencrypt"})
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await resume_at(pilot, HttpsScreen)
        assert app.focused is screen.query_one("#field-https-mode")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.screen is screen
        email = screen.query_one("#field-https-email", Input)
        assert app.focused is email
        assert "Let's Encrypt needs a contact e-mail" in str(screen.query_one("#row-https-email .field-error").render())
        await pilot.press("ctrl+q")
    ctx.close()


async def test_the_e_mail_field_says_when_it_is_required(tmp_path):
    """The contact e-mail is shown only for the Let's Encrypt modes, where it is required: its label and placeholder
    say so (never "(optional)")."""
    from textual.widgets import Label

    from screens.https import HttpsScreen

    ctx, app, _prefix = sandbox_wizard(tmp_path, "https", {**OAUTH, "https.mode": "letsencrypt"})
    async with app.run_test(size=SIZE) as pilot:
        screen = await resume_at(pilot, HttpsScreen)
        email = screen.query_one("#field-https-email", Input)
        assert "optional" not in email.placeholder and "required for Let's Encrypt" in email.placeholder
        assert str(screen.query_one("#row-https-email Label", Label).render()).endswith("*")
        fill(screen, https__mode="acme-dns")
        await pilot.pause()
        assert screen.query_one("#row-https-email").display
        fill(screen, https__mode="none")
        await pilot.pause()
        assert not screen.query_one("#row-https-email").display
        await pilot.press("ctrl+q")
    ctx.close()


async def test_enter_goes_on_from_a_step_without_fields(tmp_path):
    """The demo's Connect step has no field: Next has the focus, so Enter runs the checks, and Enter again goes on
    once their results were shown."""
    from screens.authenticator import AuthenticatorScreen
    from screens.connect import ConnectScreen

    ctx, app, _prefix = sandbox_wizard(tmp_path, "connect", {})
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await resume_at(pilot, ConnectScreen)
        assert not screen.field_widgets() and app.focused is screen.query_one("#next")
        await pilot.press("enter")
        await settle(pilot)
        assert {d.id: d.status for d in screen.diagnoses}.get("connect.ssh") is Status.OK
        # The results stay to be read; Next had the focus before the checks and has it again: Enter goes on.
        assert app.focused is screen.query_one("#next")
        await pilot.press("enter")
        await wait_for_screen(pilot, AuthenticatorScreen)
        await pilot.press("ctrl+q")
    ctx.close()


async def test_after_resume_limits_gathers_the_facts_and_judges_cpu_by_the_hubs_tljh(tmp_path):
    """A resumed run has no host facts: the Limits step gathers them (the VM's RAM and CPUs are never "unknown, ok"),
    and a fractional CPU is refused at entry for the hub's TLJH 2.0.0 — not later at Review."""
    from screens.limits import LimitsScreen

    ctx, app, _prefix = sandbox_wizard(tmp_path, "limits", OAUTH)
    assert ctx.facts is None
    async with app.run_test(size=SIZE) as pilot:
        screen = await resume_at(pilot, LimitsScreen)
        fill(screen, limits__memory="2G", limits__cpu="2", limits__total_users="60")
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert ctx.facts is not None and ctx.facts.tljh_version == "2.0.0"
        found = {d.id: d.status for d in screen.diagnoses}
        assert found.get("limits.cpu") in (Status.OK, Status.WARNING) and found.get("limits.ram") is not None
        assert Status.SKIPPED not in {found.get("limits.cpu"), found.get("limits.ram")}
        assert app.screen is screen  # 60 users x 2 CPUs on this machine: warnings to read, the step stays

        fill(screen, limits__cpu="0.5")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.screen is screen
        error = str(screen.query_one("#row-limits-cpu .field-error").render())
        assert "TLJH 2.0.0" in error and "whole CPUs" in error and "use 1" in error
        assert ctx.answers.get("limits.cpu") in (0.5, 2)  # never reaches Review as an accepted 0.5 without a check
        await pilot.press("ctrl+q")
    ctx.close()


async def test_a_list_answer_shown_back_is_accepted_again(tmp_path):
    from screens.environment import EnvironmentScreen

    answers = dict(OAUTH, **{"environment.conda_packages": "numpy scipy=1.13"})
    ctx, app, _prefix = sandbox_wizard(tmp_path, "environment", answers)
    async with app.run_test(size=SIZE) as pilot:
        screen = await resume_at(pilot, EnvironmentScreen)
        shown = screen.query_one("#field-environment-conda-packages", Input).value
        assert shown == "numpy scipy=1.13"
        assert screen.accept_answers()  # unchanged, it is accepted as it was shown
        assert ctx.answers.get("environment.conda_packages") == ["numpy", "scipy=1.13"]
        await pilot.press("ctrl+q")
    ctx.close()


async def test_choose_another_after_a_type_switch_keeps_the_oauth_secret(tmp_path):
    from screens.authenticator import AuthenticatorScreen
    from screens.modals import ConfirmModal

    ctx, app, _prefix = sandbox_wizard(tmp_path, "authenticator", OAUTH)
    async with app.run_test(size=SIZE) as pilot:
        screen = await resume_at(pilot, AuthenticatorScreen)
        fill(screen, authenticator__type="firstuse")
        await pilot.pause()
        await pilot.press("ctrl+n")
        await wait_for_screen(pilot, ConfirmModal)
        await pilot.click("#no")  # Choose another
        screen = await wait_for_screen(pilot, AuthenticatorScreen)
        answers = ctx.answers
        assert answers.get("authenticator.type") == "github"
        assert answers.get("authenticator.client_secret") == OAUTH["authenticator.client_secret"]
        assert answers.get("authenticator.client_id") == "keys-client"
        assert answers.get("authenticator.allowed_organizations") == ["org-a"]
        fill(screen, authenticator__type="github")
        await pilot.pause()
        assert screen.accept_answers()  # the saved secret still counts: no "required" next to "saved"
        await pilot.press("ctrl+q")
    ctx.close()


async def test_an_exception_in_the_restore_worker_is_an_error_row(tmp_path, monkeypatch):
    from screens.environment import EnvironmentScreen
    from screens.modals import ConfirmModal
    from wizard.steps import environment

    def broken_plan(ctx, progress):
        raise RuntimeError("the snapshot store is unreadable")

    monkeypatch.setattr(environment, "environment_restore_plan", broken_plan)
    ctx, app, _prefix = sandbox_wizard(tmp_path, "environment", OAUTH)
    async with app.run_test(size=SIZE) as pilot:
        screen = await resume_at(pilot, EnvironmentScreen)
        await pilot.click("#restore")
        await settle(pilot)
        assert [(d.status, d.summary) for d in screen.diagnoses] == [
            (Status.ERROR, "RuntimeError: the snapshot store is unreadable")]
        assert not isinstance(app.screen, ConfirmModal) and app.is_running
        await pilot.press("ctrl+q")
    assert app.return_value == 3
    ctx.close()


async def test_escape_cancels_the_running_check_and_calls_never_overlap(tmp_path, monkeypatch):
    from screens.limits import LimitsScreen

    events: list[str] = []
    running = threading.Semaphore(1)
    release = threading.Event()

    def long_check(ctx, progress):
        assert running.acquire(blocking=False), "two engine calls ran at once"
        events.append("started")
        try:
            for _ in range(600):
                release.wait(0.05)
                progress("limits", "still sizing")
            events.append("finished")
            return [Diagnosis("limits.sizing", Status.OK, "sized")]
        except BaseException:
            events.append("stopped")
            raise
        finally:
            running.release()

    monkeypatch.setitem(CHECKS, "limits", long_check)
    ctx, app, _prefix = sandbox_wizard(tmp_path, "limits", OAUTH)
    async with app.run_test(size=SIZE) as pilot:
        screen = await resume_at(pilot, LimitsScreen)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: events == ["started"], "the check to start", 10)
        await pilot.press("escape")
        await wait_for(pilot, lambda: "stopped" in events, "the check to stop", 10)
        await settle(pilot)
        assert events == ["started", "stopped"] and app.screen is screen and not screen.busy
        assert [d.status for d in screen.diagnoses] == [Status.SKIPPED]
        assert "cancelled" in screen.diagnoses[0].summary
        release.set()
        await pilot.press("ctrl+r")  # runs again, alone
        await settle(pilot)
        assert events[-1] == "finished"
        await pilot.press("ctrl+q")
    ctx.close()


async def test_quit_during_the_host_key_question_ends_the_connect_worker(sshd_hub):
    from screens.modals import ConfirmModal

    ctx = unpinned_rig_context("keys-quit", sshd_hub)
    app = build_app(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await to_host_key_question(pilot)
        assert app.engine_lock.locked()  # the connect call waits for the operator
        await pilot.press("ctrl+q")
        quit_question = await wait_for_screen(pilot, ConfirmModal)  # something runs: Quit asks first
        assert "stops it first" in quit_question.body
        await pilot.click("#yes")
        await wait_for(pilot, lambda: app.return_code is not None, "the app to exit", 10)
    assert app.return_value == 3
    # The engine call holds the lock while it runs: it ended (the quit answered the question "reject").
    assert app.engine_lock.acquire(timeout=10)  # a bound against a hang, not a timing assertion
    assert ctx.facts is None and not ctx.session.answers.get("connection.host_key")
    ctx.close()


STEP_SCREENS = {"connect": "ConnectScreen", "authenticator": "AuthenticatorScreen", "domain": "DomainScreen",
                "https": "HttpsScreen", "limits": "LimitsScreen", "environment": "EnvironmentScreen",
                "backups": "BackupsScreen", "ssh": "SshAccessScreen"}


@pytest.mark.parametrize("step", [*STEP_SCREENS, "review"])
async def test_an_engine_exception_in_any_step_is_a_redacted_error_row_and_the_app_runs_on(step, tmp_path,
                                                                                            monkeypatch):
    """Each step's checks (Review: its plan) raise: the step shows one ERROR row, the secret in the message masked,
    and the wizard goes on (Re-run works again, Quit exits as usual)."""
    from screens.app import screen_class
    from wizard.steps import review

    calls: list[str] = []

    def broken(ctx, progress=None):  # Review calls its plan without a progress callback
        calls.append(step)
        raise RuntimeError(f"the engine broke near {OAUTH['authenticator.client_secret']}")

    if step == "review":
        monkeypatch.setattr(review, "plan", broken)
    else:
        monkeypatch.setitem(CHECKS, step, broken)
    ctx, app, _prefix = sandbox_wizard(tmp_path, step, OAUTH)
    async with app.run_test(size=SIZE) as pilot:
        screen = await resume_at(pilot, screen_class(step))
        if step != "review":  # Review plans as it opens
            await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: calls, "the engine call", 20)
        await settle(pilot)
        assert [(d.status, d.summary) for d in screen.diagnoses] == [
            (Status.ERROR, "RuntimeError: the engine broke near ********")]
        assert app.is_running and app.screen is screen and not screen.busy
        await pilot.press("ctrl+r")  # the app keeps working: the same call runs again
        await wait_for(pilot, lambda: len(calls) == 2, "the second engine call", 20)
        await settle(pilot)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: app.return_code is not None, "the app to exit", 10)
    assert app.return_value == 3
    ctx.close()


async def test_escape_stops_the_command_running_on_the_hub(tmp_path, monkeypatch):
    """Escape while a step's engine call waits for a long command on the (sandbox) hub: the hub target gives up
    on it (``CommandCancelled`` inside the engine call), the step says cancelled, and the command's process is gone."""
    from screens.backups import BackupsScreen
    from wizard.hub.target import CommandCancelled

    observed: list[object] = []
    marker = tmp_path / "sleeping"

    def long_command(ctx, progress):
        from wizard.steps.connect import ensure_target

        assert not ensure_target(ctx, progress)  # the sandbox hub, connected as a resumed step does
        progress("backups", "a long command on the hub")
        try:
            ctx.hub.run(["sh", "-c", f"echo $$ > {marker}; exec sleep 300"], timeout=None)
        except CommandCancelled as exc:
            observed.append(exc)
            raise
        observed.append("finished")
        return [Diagnosis("backups.bundle", Status.OK, "done")]

    monkeypatch.setitem(CHECKS, "backups", long_command)
    ctx, app, _prefix = sandbox_wizard(tmp_path, "backups", OAUTH)
    async with app.run_test(size=SIZE) as pilot:
        screen = await resume_at(pilot, BackupsScreen)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: marker.exists() and marker.read_text().strip(), "the command to start", 30)
        pid = int(marker.read_text())
        await pilot.press("escape")
        await wait_for(pilot, lambda: observed, "the engine to observe the cancel", 20)
        await settle(pilot)
        assert isinstance(observed[0], CommandCancelled)
        assert [d.status for d in screen.diagnoses] == [Status.SKIPPED]
        assert "cancelled" in screen.diagnoses[0].summary
        await wait_for(pilot, lambda: not _alive(pid), "the hub command to end", 20)
        await pilot.press("ctrl+q")
    assert app.return_value == 3
    ctx.close()


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie has ended
        return stat.read().split(") ")[-1][:1] != "Z"


async def test_quit_while_a_check_runs_asks_then_cancels_and_exits(tmp_path, monkeypatch):
    """Quit during an engine call asks first ("Keep working" keeps it running); "Stop it and quit" cancels it (the
    engine sees its token cancelled) and the app exits with "stopped part-way"."""
    from screens.limits import LimitsScreen
    from screens.modals import ConfirmModal

    seen: list[str] = []

    def waiting(ctx, progress):
        seen.append("started")
        token = ctx.cancel  # the engine's view of the run's CancelToken
        while not token.cancelled:
            threading.Event().wait(0.05)
        seen.append("cancel observed")
        return []

    monkeypatch.setitem(CHECKS, "limits", waiting)
    ctx, app, _prefix = sandbox_wizard(tmp_path, "limits", OAUTH)
    async with app.run_test(size=SIZE) as pilot:
        await resume_at(pilot, LimitsScreen)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: seen == ["started"], "the check to start", 10)
        await pilot.press("ctrl+q")
        await wait_for_screen(pilot, ConfirmModal)
        await pilot.click("#no")  # Keep working
        await wait_for_screen(pilot, LimitsScreen)
        assert app.is_running and seen == ["started"]
        await pilot.press("ctrl+q")
        await wait_for_screen(pilot, ConfirmModal)
        await pilot.click("#yes")
        await wait_for(pilot, lambda: app.return_code is not None, "the app to exit", 10)
    assert app.return_value == 3
    assert app.engine_lock.acquire(timeout=10)  # a bound against a hang, not a timing assertion
    assert seen == ["started", "cancel observed"]
    ctx.close()


async def test_review_sends_a_refused_answer_to_its_step_and_back(tmp_path):
    """Review refuses an answer (the domain's IP is missing): a button goes to Domain & DNS, and Next there comes
    straight back to Review."""
    from screens.domain import DomainScreen
    from screens.review import ReviewScreen

    answers = {key: value for key, value in OAUTH.items() if key != "domain.reserved_ipv4"}
    ctx, app, _prefix = sandbox_wizard(tmp_path, "review", answers)
    for step in ("authenticator", "domain", "https", "limits", "environment", "backups", "ssh"):
        ctx.session.go_to("review", finished=step)
    async with app.run_test(size=SIZE) as pilot:
        screen = await resume_at(pilot, ReviewScreen)
        await settle(pilot)
        assert "domain.reserved_ipv4" in str(screen.query_one("#plan-problems").render())
        await pilot.click("#fix-domain")
        screen = await wait_for_screen(pilot, DomainScreen)
        fill(screen, domain__reserved_ipv4="203.0.113.10", domain__ip_reserved_confirmed=True)
        await pilot.press("ctrl+n")
        await settle(pilot)
        if not isinstance(app.screen, ReviewScreen):  # the checks warn (a sandbox): Next again goes on
            await pilot.press("ctrl+n")
        await wait_for_screen(pilot, ReviewScreen)
        assert ctx.session.current_step == "review"
        await pilot.press("ctrl+q")
    ctx.close()


async def test_check_results_open_on_the_first_failure_with_its_fix(tmp_path):
    """The row shown in detail (with its fix) is the first error, not the first row; the summary line says how many
    of each and fits one row at 80 columns."""
    from screens.domain import DomainScreen
    from screens.step import check_summary

    rows = [Diagnosis("dns.zone", Status.OK, "zone found"), Diagnosis("dns.resolvers", Status.WARNING, "stale"),
            Diagnosis("dns.aaaa", Status.ERROR, "stale AAAA", fix="delete the AAAA record"),
            Diagnosis("reach", Status.SKIPPED, "not checked")]
    ctx, app, _prefix = sandbox_wizard(tmp_path, "domain", OAUTH)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await resume_at(pilot, DomainScreen)
        screen.show_diagnoses(rows)
        await pilot.pause()
        details = str(screen.query_one("#checks .diagnosis-details").render())
        assert details.startswith("dns.aaaa — error: stale AAAA") and "fix: delete the AAAA record" in details
        summary = check_summary(rows)
        assert summary.startswith("Checks: 1 failed, 1 warning, 1 not run, 1 ok") and len(summary) <= 70
        await pilot.press("ctrl+q")
    ctx.close()


async def test_a_pasted_url_in_the_domain_field_is_read_as_its_host_name(tmp_path):
    """The Domain field reads a pasted URL (or a Unicode name) as dns-check does, with a note, instead of refusing."""
    async with domain_refused(tmp_path, "https://Hub.Example.edu/hub/login", "203.0.113.300") as (
            ctx, app, pilot, screen):
        assert app.focused is screen.query_one("#field-domain-reserved-ipv4")  # only the IP is refused
        fill(screen, domain__reserved_ipv4="203.0.113.10")
        assert screen.accept_answers()  # the answers alone, without the DNS checks
        assert ctx.session.answers.get("domain.name") == "hub.example.edu"
        await pilot.pause()
        shown = [notification.message for notification in app._notifications]
        assert any(message.startswith("Domain: 'https://Hub.Example.edu/hub/login' is a URL") for message in shown), \
            shown  # the note names the field by its label, not its answers key
        assert not any("domain.name" in message for message in shown), shown


@pytest.mark.parametrize("size, inline", [((80, 24), True), ((120, 40), False)])
async def test_a_long_intro_is_never_cut(tmp_path, size, inline):
    """At 80x24 an intro longer than its two lines above the fields moves, whole, to the top of the scrolling
    content; at 120x40 it stays above the fields. Either way every word of it is on the screen."""
    from screens.authenticator import AuthenticatorScreen

    ctx, app, _prefix = sandbox_wizard(tmp_path, "authenticator", {})
    async with app.run_test(size=size) as pilot:
        screen = await resume_at(pilot, AuthenticatorScreen)
        await pilot.pause()
        shown = screen.query_one("#step-intro-inline" if inline else "#step-intro")
        hidden = screen.query_one("#step-intro" if inline else "#step-intro-inline")
        assert shown.display and not hidden.display
        assert shown.region.height >= 3 if inline else shown.region.height >= 2
        text = " ".join(strip.text.strip() for strip in shown.render_lines(shown.region.reset_offset)
                        if strip.text.strip())
        assert text.endswith("explicitly confirmed allow-all."), text
        await pilot.press("ctrl+q")
    ctx.close()
