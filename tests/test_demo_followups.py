"""Every command the wizard suggests for a demo session (Done screen, exit summary) works on that session: run as
printed, each exits 0 against the sandbox — inside a network namespace with no interface up, so a command that tried
to reach the answers' addresses (or any address) would fail instead of passing."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from wizard.plain import EXIT_DONE, ScriptedPrompter, run_plain

WIZARD = str(Path(sys.executable).with_name("tljh-wizard"))
ANSWERS = {"authenticator.type": "github", "authenticator.client_id": "demo-client",
           "authenticator.client_secret": "demo-followups-Secret", "authenticator.allowed_users": "ada",
           "domain.name": "hub.example.edu", "domain.reserved_ipv4": "203.0.113.10", "https.mode": "none",
           "limits.memory": "1G", "limits.cpu": "1"}


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("unshare") is None or os.geteuid() != 0, reason="needs unshare --net (root)")
def test_every_suggested_command_for_the_demo_exits_0_offline(tmp_path, monkeypatch, _isolated_state):
    from wizard.context import open_context
    from wizard.steps.done import followups
    from wizard.walk import exit_summary

    monkeypatch.chdir(tmp_path)
    prompter = ScriptedPrompter(ANSWERS, confirms={"Set up Base environment": True, "Set up SSH access": False,
                                                   "Apply these changes": True, "Continue anyway": True,
                                                   "Write the exports": True},
                                choices={"A check failed": "continue"})
    assert run_plain(None, mode="sandbox", prefill={"connection.host": "localhost"}, prompter=prompter) == EXIT_DONE
    ctx = open_context(None, mode="sandbox", prefill={"connection.host": "localhost"})
    try:
        commands = followups(ctx)
        summary = exit_summary(ctx, finished=True)
    finally:
        ctx.session.close()
    assert {command.split()[1] for command, _ in commands} >= {"demo", "check", "backup", "env", "export",
                                                                 "sessions"}
    # The replay line (after Done's exports), as printed: onto the demo's sandbox, never the answers' address.
    replay = [line.split("   #")[0].strip() for line in summary.splitlines() if "tljh-wizard apply" in line]
    assert len(replay) == 1 and "tljh-wizard-exports/answers.yaml --secrets tljh-wizard-exports/secrets.yaml" in replay[0]
    commands = [*commands, (replay[0], "replay")]
    for command, _text in commands:
        assert command in summary
        assert "hub.example.edu" not in command and "203.0.113.10" not in command
        argv = shlex.split(command)
        assert argv[0] == "tljh-wizard"
        if argv[1:] == ["demo"]:
            # The interactive wizard itself: with no terminal it says so in one line (a real terminal runs it:
            # tests/test_cli_frontdoor.py); never an SSH wizard for a host called "demo".
            argv.append("--plain")
        if argv[1] == "apply":  # asks before it changes anything: answered on a terminal, as an operator would
            child = pexpect.spawn("unshare", ["--net", WIZARD, *argv[1:]], cwd=str(tmp_path), encoding="utf-8",
                                  timeout=180, env=dict(os.environ, TLJH_WIZARD_STATE_DIR=str(_isolated_state)))
            # Right after the wizard's own apply the hub already holds this config.yaml: nothing to ask then.
            if child.expect(["Type yes to apply: ", pexpect.EOF]) == 0:
                child.sendline("yes")
                child.expect(pexpect.EOF)
            child.close()
            assert child.exitstatus == 0, (command, child.before[-800:])
            assert "Traceback" not in child.before
            continue
        result = subprocess.run(["unshare", "--net", WIZARD, *argv[1:]], capture_output=True, text=True,
                                timeout=120, cwd=tmp_path, stdin=subprocess.DEVNULL,
                                env=dict(os.environ, TLJH_WIZARD_STATE_DIR=str(_isolated_state)))
        if argv[1:] == ["demo", "--plain"]:
            assert result.returncode == 2 and "tljh-wizard apply answers.yaml" in result.stderr
            continue
        assert result.returncode == 0, (command, result.stdout[-500:], result.stderr[-500:])
        assert "Traceback" not in result.stderr
        if argv[1] == "check":  # --quiet: silent when all is well; the sandbox's own state, no network probe
            assert result.stdout == "", result.stdout
    assert (tmp_path / "tljh-wizard-exports" / "answers.yaml").is_file()
