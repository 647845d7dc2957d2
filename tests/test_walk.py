"""The walk between the steps (``wizard.walk``), declared once and read by both front-ends; and the plain wizard's
Back, pauses, Review's way back to a refused answer, extra actions and exports, on the demo sandbox."""

from __future__ import annotations

import json

import pytest

from wizard import yamlio
from wizard.plain import EXIT_DONE, EXIT_INTERRUPTED, EXIT_STOPPED, InTurn, ScriptedPrompter, run_plain
from wizard.session import Session
from wizard.steps import STEP_IDS, STEPS
from wizard.walk import ACTIONS, EXPORTS, Outcome, actions, advance, pauses, step_for_key, steps_to_fix

SECRET = "walk-client-Secret-9a1c"
AUTH = {"authenticator.type": "github", "authenticator.client_id": "cid", "authenticator.client_secret": SECRET,
        "authenticator.allowed_users": "alice"}
DOMAIN = {"domain.name": "hub.example.edu", "domain.reserved_ipv4": "203.0.113.10",
          "domain.resolvers": "127.0.0.1:9"}


def state_of(name: str) -> dict:
    from wizard.session import sessions_dir

    return json.loads((sessions_dir() / name / "state.json").read_text())


# ---------------------------------------------------------------------------------------------------------------
# the declaration


def test_advance_records_next_back_skip_and_a_return_to_review():
    with Session.open("walk") as session:
        assert advance(session, "connect", Outcome.BACK) == "connect"  # the first step stays put
        assert advance(session, "connect", Outcome.NEXT) == "authenticator"
        assert session.finished_steps == ["connect"]
        assert advance(session, "authenticator", Outcome.BACK) == "connect"
        assert session.current_step == "connect" and session.finished_steps == ["connect"]
        assert advance(session, "https", Outcome.SKIP) == "limits"
        assert "https" in session.skipped_steps and session.current_step == "limits"
        assert advance(session, "https", Outcome.NEXT) == "limits"  # taken up again
        assert "https" not in session.skipped_steps
        assert advance(session, "domain", Outcome.NEXT, failed=True) == "https"
        assert "domain" in session.state["failed_steps"] and "domain" not in session.finished_steps
        assert advance(session, "domain", Outcome.NEXT, return_to="review") == "review"
        assert "domain" in session.finished_steps and "domain" not in session.state["failed_steps"]
        assert advance(session, "review", Outcome.NEXT, return_to="domain") == "done"  # only forward
        assert advance(session, "done", Outcome.NEXT) is None
        assert session.current_step == "done" and "done" in session.finished_steps


def test_every_step_is_declared_once_with_its_actions_and_exports():
    assert len(set(STEP_IDS)) == len(STEP_IDS) and STEP_IDS[0] == "connect" and STEP_IDS[-2:] == ("review", "done")
    from screens.app import STEP_SCREENS

    assert set(STEP_SCREENS) == set(STEP_IDS), "every step has a screen, every screen a step"
    from wizard.steps import CHECKS

    assert set(CHECKS) == set(STEP_IDS)
    # Steps change nothing on the hub: certificates are ordered and installed by apply (wizard.https.work)
    assert {(a.step, a.id) for a in ACTIONS} == {("environment", "restore")}
    assert all(a.step in STEP_IDS for a in ACTIONS)
    assert [e.kind for e in EXPORTS] == ["answers", "secrets", "tljh", "z2jh"]
    for item in STEPS:
        for section in item.sections:
            assert step_for_key(f"{section}.x") == item.id
    assert steps_to_fix(["limits.cpu: whole CPUs only", "domain.name: a value is required", "ssh: no sshd",
                         "the hub is not reachable"]) == ["domain", "limits", "ssh"]


def test_the_https_step_offers_no_action_of_its_own():
    class Answers(dict):
        def get(self, key, default=None):
            return super().get(key, default)

    for mode in ("letsencrypt", "acme-dns", "existing", "none"):
        assert actions("https", Answers({"https.mode": mode})) == []


def test_a_skipped_check_never_counts_as_passed():
    from wizard.diagnosis import Diagnosis, Status

    assert not pauses([Diagnosis("a", Status.OK, "fine")])
    for status in (Status.SKIPPED, Status.WARNING, Status.ERROR):
        assert pauses([Diagnosis("a", Status.OK, "fine"), Diagnosis("b", status, "look")])


# ---------------------------------------------------------------------------------------------------------------
# the plain wizard over the walk (scripted answers, demo sandbox)


def demo(tmp_path):
    prefix = tmp_path / "demo-hub"
    return dict(mode="sandbox", prefill={"connection.host": "localhost", "connection.tljh_prefix": str(prefix)},
                sandbox_prefix=prefix), prefix


def test_back_at_any_question_keeps_the_answers(tmp_path):
    kwargs, _prefix = demo(tmp_path)
    prompter = ScriptedPrompter(
        {**AUTH, "domain.name": InTurn(["<", "hub.example.edu"]),
         "domain.reserved_ipv4": "203.0.113.10", "domain.resolvers": "127.0.0.1:9",
         "authenticator.client_id": InTurn(["cid", "<", "cid"])},
        confirms={"Set up HTTPS": ["<", False]}, interrupt_at="limits.memory",
        choices={"A check failed": "continue"})
    assert run_plain("demo", prompter=prompter, **kwargs) == EXIT_INTERRUPTED
    asked = prompter.asked
    # domain.name: "<" → Authenticator again (its answers offered back); client_id "<" → Connect, then forward.
    first_domain = asked.index("domain.name")
    assert asked[first_domain + 1] == "authenticator.type"
    assert asked.count("authenticator.type") == 3
    assert asked.count("domain.name") == 3  # and "<" at "Set up HTTPS now?": Domain once more
    state = state_of("demo")
    assert state["answers"]["authenticator"]["client_id"] == "cid"
    assert state["answers"]["domain"]["name"] == "hub.example.edu"
    with Session.open("demo", lock=False) as session:
        assert session.answers.get("authenticator.client_secret") == SECRET  # kept through every Back


def test_a_type_switch_keeps_the_secret_until_it_is_confirmed(tmp_path):
    kwargs, _prefix = demo(tmp_path)
    prompter = ScriptedPrompter(
        {**AUTH, "authenticator.type": InTurn(["github", "dummy", "github"]),
         "domain.name": InTurn(["<", "hub.example.edu"])},
        confirms={"I understand this is insecure": False}, interrupt_at="domain.reserved_ipv4")
    assert run_plain("demo", prompter=prompter, **kwargs) == EXIT_INTERRUPTED
    with Session.open("demo", lock=False) as session:
        assert session.answers.get("authenticator.type") == "github"
        assert session.answers.get("authenticator.client_secret") == SECRET
        assert session.answers.get("authenticator.client_id") == "cid"
    assert any("answers of the previous type are kept" in line for line in prompter.transcript)


def test_a_warning_stops_the_step_with_recheck_and_back(tmp_path):
    kwargs, _prefix = demo(tmp_path)
    prompter = ScriptedPrompter({**AUTH, **DOMAIN, "https.mode": "none"},
                                confirms={"Set up HTTPS": True},
                                choices={"Some checks warn": ["re-check", "back", "continue"],
                                         "A check failed": "continue"},
                                interrupt_at="limits.memory")
    assert run_plain("demo", prompter=prompter, **kwargs) == EXIT_INTERRUPTED
    asked_choices = [line for line in prompter.transcript if line.startswith("? Some checks warn")]
    # re-check: the same warning again; back: Domain again (its checks fail: continue), then HTTPS warns again.
    assert len(asked_choices) == 3
    assert prompter.asked.count("domain.name") == 2 and prompter.asked.count("https.mode") == 2
    tables = [line for line in prompter.transcript if "https.mode" in line and "WARNING" in line]
    assert len(tables) == 3
    assert state_of("demo")["current_step"] == "limits"


def test_review_sends_the_operator_to_the_refused_answer_and_straight_back(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    kwargs, prefix = demo(tmp_path)
    from wizard.context import open_context

    ctx = open_context("demo", **kwargs)
    for key, value in {**AUTH, "domain.reserved_ipv4": "203.0.113.10", "https.mode": "none"}.items():
        ctx.session.accept(key, value)
    for item in STEP_IDS[:STEP_IDS.index("review")]:
        ctx.session.go_to(item, finished=item)
    ctx.session.go_to("review")
    ctx.close()
    ctx.session.close()
    prompter = ScriptedPrompter({"domain.name": "hub.example.edu", "domain.resolvers": "127.0.0.1:9"},
                                confirms={"Resume": True, "Apply these changes": True, "Write the exports": True},
                                choices={"A check failed": "continue"})
    assert run_plain("demo", prompter=prompter, **kwargs) == EXIT_DONE, "\n".join(prompter.transcript)
    text = "\n".join(prompter.transcript)
    assert "✘ domain.name: a value is required" in text
    assert "go to Domain & DNS to fix it" not in text  # labels are for people; the script chose by value
    # Domain only, then Review again: no HTTPS, Limits, ... questions in between.
    assert prompter.asked == ["domain.name", "domain.reserved_ipv4", "domain.reserved_ipv6",
                              "domain.ip_reserved_confirmed", "domain.resolvers"]
    config = yamlio.loads((prefix / "config" / "config.yaml").read_text())
    assert config["auth"]["GitHubOAuthenticator"]["client_secret"] == SECRET
    z2jh = tmp_path / "tljh-wizard-exports" / "z2jh"  # the Z2JH export at Done: the chart's values and secrets
    assert SECRET not in (z2jh / "values.yaml").read_text()
    assert SECRET in (z2jh / "secrets.yaml").read_text() and (z2jh / "secrets.yaml").stat().st_mode & 0o777 == 0o600
    assert state_of("demo")["current_step"] == "done"


def test_environment_restore_is_offered_and_needs_confirmation(tmp_path):
    from wizard.context import open_context
    from wizard.environment.snapshot import freeze_hub, hub_snapshots
    from wizard.steps.connect import ensure_target
    from wizard.steps.environment import environment_checks

    kwargs, prefix = demo(tmp_path)
    ctx = open_context("demo", **kwargs)
    for key, value in {**AUTH, **DOMAIN, "https.mode": "none"}.items():
        ctx.session.accept(key, value)
    ctx.session.go_to("environment", finished="connect")
    assert not ensure_target(ctx)
    assert "environment.summary" in {d.id for d in environment_checks(ctx)}
    assert hub_snapshots(ctx.target) == ([], [])  # the check only reads: the freeze is apply's
    freeze_hub(ctx.target, ctx.session.dir / "environment")  # the snapshot a restore goes back to
    ctx.close()
    ctx.session.close()
    site = next((prefix / "user" / "lib").glob("python*/site-packages"))  # then someone pip-installs a package
    info = site / "left_pad-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: left-pad\nVersion: 1.0\n")
    (info / "INSTALLER").write_text("pip\n")
    prompter = ScriptedPrompter({"environment.freeze": False},
                                confirms={"Resume": True, "Restore the newest snapshot": True,
                                          "Restore this snapshot": False},
                                interrupt_at="backups.pull_bundle")
    assert run_plain("demo", prompter=prompter, **kwargs) == EXIT_INTERRUPTED
    text = "\n".join(prompter.transcript)
    assert "left-pad" in text or "left_pad" in text  # the plan, shown in full before the question
    assert "? Restore this snapshot when you apply? (Restore at apply)" in text
    assert "restore not confirmed: nothing planned" in text
    assert info.exists()  # declined: nothing ran
    assert any(line.startswith("? Some checks were not run") for line in prompter.transcript)


def test_stop_at_a_pause_exits_resumable(tmp_path):
    kwargs, _prefix = demo(tmp_path)
    prompter = ScriptedPrompter({**AUTH, **DOMAIN}, choices={"A check failed": "stop"})
    assert run_plain("demo", prompter=prompter, **kwargs) == EXIT_STOPPED
    assert state_of("demo")["current_step"] == "domain"


@pytest.mark.parametrize("module", ["wizard.walk", "wizard.plain", "wizard.steps"])
def test_the_walk_imports_no_ui(module):
    import subprocess
    import sys

    code = f"import sys, {module}; print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'screens')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
