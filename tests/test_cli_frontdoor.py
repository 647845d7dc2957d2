"""The command line's front door: --help, the README and the behaviour agree on the exit codes; a mistyped command is
refused (never a session for a host of that name); no terminal is one line; the plain wizard in a real pty judges
the CPU limit by the hub's TLJH version at entry."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from wizard import cli

WIZARD = str(Path(sys.executable).with_name("tljh-wizard"))
README = Path(__file__).parent.parent / "README.md"


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([WIZARD, *args], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                          cwd=cwd)


def spawn(args: list[str], cwd: Path, size=(24, 80)) -> pexpect.spawn:
    # PROMPT_TOOLKIT_NO_CPR: pexpect does not answer cursor-position requests (see tests/test_plain.py's spawn).
    env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(size[1]), LINES=str(size[0]), PROMPT_TOOLKIT_NO_CPR="1")
    child = pexpect.spawn(WIZARD, args, cwd=str(cwd), env=env, encoding="utf-8", dimensions=size, timeout=60)
    child.logfile_read = open(cwd / "transcript.txt", "a", encoding="utf-8")
    return child


def interrupt(child: pexpect.spawn) -> None:
    """Ctrl-C until the program ends (a ^C typed while a prompt is still being drawn can be swallowed by it)."""
    for _ in range(5):
        child.sendcontrol("c")
        if child.expect([pexpect.EOF, pexpect.TIMEOUT], timeout=3) == 0:
            break
    child.close()


def help_codes() -> dict[int, str]:
    text = run("--help").stdout
    block = text.split("exit codes:", 1)[1]
    return {int(m.group(1)): m.group(2).strip() for m in re.finditer(r"^\s+(\d+)\s+(.+)$", block, re.M)}


def readme_codes() -> dict[int, str]:
    text = README.read_text()
    table = text.split("### Exit codes", 1)[1].split("\n###", 1)[0]
    return {int(m.group(1)): m.group(2) for m in re.finditer(r"^\| (\d+) \| (.+) \|$", table, re.M)}


def test_help_and_readme_list_the_same_exit_codes():
    assert help_codes() == cli.EXIT_CODES
    assert set(readme_codes()) == set(cli.EXIT_CODES) == {0, 1, 2, 3, 130}
    assert "stopped part-way" in cli.EXIT_CODES[3] and "stopped part-way" in readme_codes()[3]
    assert "neither the old nor the new" in cli.EXIT_CODES[3] and "**neither** the old nor the new" in readme_codes()[3]


def test_exit_codes_as_the_help_says(tmp_path, _isolated_state):
    """0, 2, 3 and 130 as the programs really end (1 is check/dns-check's, tested with them)."""
    assert run("--version").returncode == 0
    assert run("sesions").returncode == 2
    child = spawn(["demo"], tmp_path)  # the full-screen demo in a real terminal: quit part-way is 3
    child.expect("Start")
    child.send("\r")
    child.expect("Connect")
    child.sendcontrol("q")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3
    child = spawn(["demo", "--plain"], tmp_path)  # Ctrl-C in the plain wizard is 130
    child.expect_exact("dummy")
    interrupt(child)
    assert child.exitstatus == 130


@pytest.mark.parametrize("word, suggestion", [("sesions", "sessions"), ("chek", "check"), ("bakup", "backup"),
                                              ("restore", "restore-backup")])
def test_a_mistyped_command_is_refused_with_a_suggestion(word, suggestion, _isolated_state):
    result = run(word)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]  # one line
    assert f"unknown command {word!r}" in result.stderr and f"did you mean {suggestion!r}" in result.stderr
    assert not (_isolated_state / "sessions").exists() or not list((_isolated_state / "sessions").iterdir())


@pytest.mark.parametrize("word", ["hub.example.edu", "ubuntu@hub.example.edu:2222", "localhost", "203.0.113.10",
                                  "[2001:db8::1]:22", "2001:db8::1", "ubuntu@myhub", "myhub:2222"])
def test_hub_addresses_are_not_taken_for_commands(word):
    assert cli.unknown_command(word) is None


@pytest.mark.parametrize("word", ["sesions", "hub", "myhub", "apply-all"])
def test_single_words_are_not_taken_for_hubs(word):
    assert "unknown command" in cli.unknown_command(word)


def test_without_a_terminal_the_wizard_says_so_in_one_line(tmp_path, _isolated_state):
    for args in (["hub.example.edu"], ["demo"]):
        result = run(*args, cwd=tmp_path)
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "--plain" in lines[0] and "tljh-wizard apply answers.yaml" in lines[0]
    assert not (_isolated_state / "sessions" / "root@hub.example.edu:22").exists()


def test_plain_option_before_the_demo_runs_the_demo(tmp_path, _isolated_state):
    child = spawn(["--plain", "demo"], tmp_path)
    child.expect_exact("Step 1/10: Connect")
    interrupt(child)
    assert child.exitstatus == 130
    assert (_isolated_state / "sessions" / "demo").is_dir()
    assert not [p for p in (_isolated_state / "sessions").iterdir() if p.name != "demo"]


def test_plain_mistyped_command_in_a_pty(tmp_path, _isolated_state):
    child = spawn(["--plain", "sesions"], tmp_path)
    child.expect_exact("did you mean 'sessions'?")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2
    assert not (_isolated_state / "sessions").exists() or not list((_isolated_state / "sessions").iterdir())


def test_plain_limits_refuses_a_fractional_cpu_for_tljh_2_0_0(tmp_path, _isolated_state):
    """The demo's hub runs TLJH 2.0.0: CPU 0.5 is refused at the Limits prompt (the field, the problem, the
    accepted form), not accepted there and refused later at Review."""
    from wizard.context import open_context

    ctx = open_context(None, mode="sandbox", prefill={"connection.host": "localhost"})
    for key, value in {"authenticator.type": "github", "authenticator.client_id": "cid",
                       "authenticator.client_secret": "plain-cpu-Secret", "authenticator.allowed_users": "ada",
                       "domain.name": "hub.example.edu", "domain.reserved_ipv4": "203.0.113.10",
                       "https.mode": "none"}.items():
        ctx.session.accept(key, value)
    ctx.session.go_to("limits", finished="connect")
    ctx.session.close()

    child = spawn(["--plain", "demo"], tmp_path, size=(40, 120))
    child.expect_exact("Resume the demo hub at Limits")
    child.send("y")
    child.expect_exact("Set up Limits now?")
    child.send("y")
    child.expect_exact("Memory per user")
    child.send("2G\r")
    child.expect_exact("CPUs per user")
    child.send("0.5\r")
    child.expect_exact("TLJH 2.0.0 accepts only whole CPUs")  # at the prompt itself, before any other field
    child.expect_exact("use 1")
    child.send("\x15" + "1\r")  # Ctrl-U empties the line
    child.expect_exact("Cull idle servers")
    interrupt(child)
    assert child.exitstatus == 130
