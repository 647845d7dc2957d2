"""The command line: every subcommand exists with true --help; unbuilt ones say so; heavy libraries load lazily."""

import subprocess
import sys

import pytest

from wizard import __version__, cli


def _run(*args):
    return subprocess.run([sys.executable, "-m", "wizard", *args], capture_output=True, text=True, timeout=60)


def test_version():
    result = _run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"tljh-wizard {__version__}"


def test_help_lists_every_command():
    result = _run("--help")
    assert result.returncode == 0
    for name in ("demo", "apply", "export", "sessions", "dns-check", "check", "renew", "backup", "restore-backup",
                 "env"):
        assert f"\n  {name} " in result.stdout


@pytest.mark.parametrize("name", list(cli.COMMANDS))
def test_each_command_has_help(name):
    result = _run(name, "--help")
    assert result.returncode == 0, result.stderr
    assert f"usage: tljh-wizard {name}" in result.stdout


def test_a_command_not_built_yet_exits_2_and_says_so(monkeypatch, capsys):
    monkeypatch.setitem(cli.COMMANDS, "renew", ("wizard.not_built_module", "renew certificates"))
    assert cli.main(["renew", "somehost"]) == 2
    assert "not available yet" in capsys.readouterr().err


def test_errors_are_messages_not_tracebacks(tmp_path):
    result = _run("export", str(tmp_path / "missing.yaml"))
    assert result.returncode == 2
    assert "no such file" in result.stderr and "Traceback" not in result.stderr


def test_python_m_wizard_and_console_script_agree():
    import shutil

    script = shutil.which("tljh-wizard", path=str(__import__("pathlib").Path(sys.executable).parent))
    assert script, "the console script tljh-wizard is installed beside the interpreter"
    result = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == f"tljh-wizard {__version__}"


HEAVY = ("textual", "paramiko", "dns", "acme", "cryptography", "questionary", "josepy")


def test_the_engine_and_cli_import_no_heavy_library():
    code = ("import sys, wizard.cli, wizard.answers, wizard.session, wizard.export, wizard.sessions_cli, "
            "wizard.tljh.config, screens; "
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("name", [n for n in cli.COMMANDS])
def test_command_modules_import_no_heavy_library_at_import_time(name):
    module = cli.COMMANDS[name][0]
    if not cli.engine_available(module):
        pytest.skip(f"{module} is not built yet")
    allowed = {"demo": ("textual",)}.get(name, ())
    code = (f"import sys, {module}; "
            f"print(sorted(m.split('.')[0] for m in sys.modules if m.split('.')[0] in {HEAVY!r}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(eval(result.stdout)) - set(allowed)
    assert not loaded, f"{module} imports {loaded} at import time"


@pytest.mark.parametrize("text,expected", [
    ("ubuntu@hub.example.edu:2222", ("ubuntu", "hub.example.edu", 2222)),
    ("hub.example.edu", (None, "hub.example.edu", None)),
    ("root@[2001:db8::1]:22", ("root", "2001:db8::1", 22)),
    ("2001:db8::1", (None, "2001:db8::1", None)),
    ("admin@203.0.113.10", ("admin", "203.0.113.10", None)),
])
def test_hub_addresses_parse(text, expected):
    from wizard.fields import hub_address

    assert hub_address(text) == expected


@pytest.mark.parametrize("text,needle", [("[::1]:", "expected [USER@]HOST[:PORT]"), ("[::1]xy", "expected"),
                                         ("h:abc", "expected"), ("h:70000", "at most 65535"),
                                         ("a b@c.example", "not a login name"), ("-oProxyCommand=x", "host"),
                                         ("Bad User@hub.example.edu", "not a login name"),
                                         ("hub..example.edu", "neither a host name nor an IP address"),
                                         ("$(touch /tmp/x)@hub", "not a login name")])
def test_bad_hub_addresses_are_refused_with_a_message(text, needle):
    from wizard.fields import ValidationError, hub_address

    with pytest.raises(ValidationError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        hub_address(text)
