"""The plain wizard: end to end through a real pseudo-terminal (pexpect) against the sshd fixture hub and a BIND
world, programmatic answers (``ScriptedPrompter``) for the edge cases, Ctrl-C, and resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from tests.rig.bind import DnsWorld, ZoneSpec, free_port
from wizard import yamlio
from wizard.hub import sandbox
from wizard.plain import EXIT_DONE, EXIT_INTERRUPTED, ScriptedPrompter, run_plain

HUB_V4 = "203.0.113.10"
CLIENT_SECRET = "plain-client-Secret-4d0b77"
WIZARD = str(Path(sys.executable).with_name("tljh-wizard"))
ENTER, CLEAR_LINE, DOWN = "\r", "\x15", "\x1b[B"  # Ctrl-U empties a pre-filled answer


@pytest.fixture(scope="module")
def dns_world(tmp_path_factory):
    with DnsWorld(tmp_path_factory.mktemp("plain-dns"), {"ok.test": ZoneSpec(f"hub IN A {HUB_V4}")}) as world:
        yield world


def spawn(argv: list[str], cwd: Path, transcript: Path) -> pexpect.spawn:
    # PROMPT_TOOLKIT_NO_CPR: pexpect does not answer cursor-position requests; each prompt would wait 1 s for one
    # (prompt_toolkit's Renderer.wait_for_cpr_responses) as it ends.
    env = dict(os.environ, TERM="xterm", COLUMNS="120", LINES="40", PROMPT_TOOLKIT_NO_CPR="1")
    child = pexpect.spawn(argv[0], argv[1:], cwd=str(cwd), env=env, encoding="utf-8", dimensions=(40, 120),
                          timeout=60)
    child.logfile_read = open(transcript, "a", encoding="utf-8")
    return child


def answer(child: pexpect.spawn, prompt: str, text: str = "", clear: bool = False) -> None:
    child.expect_exact(prompt)
    child.send((CLEAR_LINE if clear else "") + text + ENTER)


def confirm(child: pexpect.spawn, question: str, yes: bool) -> None:
    child.expect_exact(question)
    child.send("y" if yes else "n")


def state_of(name: str) -> dict:
    from wizard.session import sessions_dir

    return json.loads((sessions_dir() / name / "state.json").read_text())


# ---------------------------------------------------------------------------------------------------------------
# end to end in a pty


@pytest.mark.slow
def test_plain_wizard_end_to_end_in_a_pty(sshd_hub, dns_world, tmp_path, _isolated_state):
    hub = sshd_hub
    transcript = tmp_path / "transcript.txt"
    argv = [WIZARD, "--plain", f"{hub.admin.name}@{hub.host}:{hub.port}", "--hub-api-url", hub.hub_api_url,
            "--metadata-base", f"http://127.0.0.1:{free_port()}", "--skip-reachability"]
    child = spawn(argv, tmp_path, transcript)

    child.expect_exact("Step 1/10: Connect")
    for label in ("Host", "SSH port", "SSH user"):
        answer(child, label)  # pre-filled from the command line
    answer(child, "Private key", str(hub.client_key))
    answer(child, "Key passphrase")
    answer(child, "sudo password")
    answer(child, "Pinned host key")
    answer(child, "TLJH prefix", str(hub.prefix), clear=True)
    child.expect_exact(hub.host_key_fingerprint)
    confirm(child, "Accept and remember this host key?", True)
    child.expect(r"OK\s+connect\.tljh")

    child.expect_exact("Step 2/10: Authenticator")
    answer(child, "Authenticator")  # github, the first choice
    answer(child, "OAuth client ID", "plain-client")
    answer(child, "OAuth client secret", CLIENT_SECRET)
    answer(child, "Allowed GitHub organizations")
    answer(child, "Admin users", "alice")
    answer(child, "Allowed users", "alice, bob")
    answer(child, "Blocked users")
    confirm(child, "Allow every account", False)

    child.expect_exact("Step 3/10: Domain & DNS")
    answer(child, "Domain", "hub.ok.test")
    answer(child, "Reserved IPv4", "300.1.1.1")
    child.expect_exact("is not an IPv4 address")  # the validator's message, inline; the prompt stays
    child.send(CLEAR_LINE + HUB_V4 + ENTER)
    answer(child, "Reserved IPv6")
    confirm(child, "The IP is reserved", True)
    answer(child, "Public resolvers", ", ".join(dns_world.resolvers), clear=True)
    child.expect(r"OK\s+dns\.a ")
    child.expect_exact("Some checks were not run. Read the table above")  # reachability was switched off
    child.send(ENTER)  # continue (the default)

    confirm(child, "Set up HTTPS now?", True)
    child.expect_exact("Certificate")
    child.send(DOWN * 3 + ENTER)  # letsencrypt, acme-dns, existing, none
    child.expect_exact("Ports 80/443")
    child.send(ENTER)  # tljh: TLJH's proxy holds them
    child.expect(r"WARNING\s+https\.mode")
    child.expect_exact("Some checks warn. Read the table above")
    child.send(ENTER)  # continue
    confirm(child, "Set up Limits now?", False)
    confirm(child, "Set up Base environment now?", False)
    confirm(child, "Set up Backups now?", True)
    confirm(child, "Pull a backup bundle", True)
    answer(child, "Bundle folder", str(tmp_path / "bundles"))
    confirm(child, "Provider snapshots set up", True)
    child.expect(r"OK\s+backups\.bundle")
    child.expect_exact("Some checks warn. Read the table above")  # /home on the system disk
    child.send(ENTER)
    confirm(child, "Set up SSH access now?", False)

    child.expect_exact("Step 9/10: Review & apply")
    child.expect_exact("client_secret: '********'")
    confirm(child, "Apply these changes to", True)
    child.expect(r"OK\s+apply ")
    confirm(child, "Write the exports", True)
    child.expect_exact("tljh-wizard check")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == EXIT_DONE

    config = yamlio.loads((hub.prefix / "config" / "config.yaml").read_text())
    assert config["auth"]["GitHubOAuthenticator"]["client_secret"] == CLIENT_SECRET
    assert config["users"] == {"admin": ["alice"], "allowed": ["alice", "bob"]}
    assert config["https"] == {"enabled": False}  # TLJH's default proxy, as the pristine file had: no proxy reload
    assert [r["component"] for r in sandbox.reloads(hub.prefix)] == ["hub"]
    text = transcript.read_text()
    assert CLIENT_SECRET not in text, "the secret was echoed after entry"
    assert "Traceback" not in text
    exports = tmp_path / "tljh-wizard-exports"
    assert CLIENT_SECRET not in (exports / "answers.yaml").read_text()
    assert CLIENT_SECRET not in (exports / "config.yaml").read_text()
    assert (exports / "secrets.yaml").stat().st_mode & 0o777 == 0o600
    session_dir = _isolated_state / "sessions" / f"{hub.admin.name}@{hub.host}:{hub.port}"
    for name in ("state.json", "wizard.log"):
        assert CLIENT_SECRET not in (session_dir / name).read_text(), name
    assert CLIENT_SECRET in (session_dir / "secrets.json").read_text()  # kept, 0600, for resume and apply
    assert (session_dir / "secrets.json").stat().st_mode & 0o777 == 0o600


# ---------------------------------------------------------------------------------------------------------------
# programmatic answers: edge cases, on the demo sandbox


def demo_prefill(tmp_path):
    prefix = tmp_path / "demo-hub"
    return prefix, {"connection.host": "localhost", "connection.tljh_prefix": str(prefix)}


AUTH = {"authenticator.type": "github", "authenticator.client_id": "cid",
        "authenticator.client_secret": CLIENT_SECRET, "authenticator.allowed_users": "alice", "https.mode": "none"}


def test_scripted_run_applies_to_the_sandbox_and_refuses_bad_values(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    prefix, prefill = demo_prefill(tmp_path)
    prompter = ScriptedPrompter(
        {**AUTH, "domain.name": ("hub..example.edu", "hub.example.edu"),
         "domain.reserved_ipv4": ("203.0.113.300", "2001:db8::1", "203.0.113.10"),
         "domain.resolvers": "127.0.0.1:9", "limits.memory": ("2 gigs", "2G"), "limits.cpu": "1"},
        confirms={"Set up Base environment": False, "Apply these changes": True, "Write the exports": True},
        choices={"A check failed": "continue"})
    code = run_plain("demo", mode="sandbox", prefill=prefill, sandbox_prefix=prefix, prompter=prompter)
    assert code == EXIT_DONE, "\n".join(prompter.transcript)
    assert len(prompter.rejected["domain.name"]) == 1
    assert [m.split(";")[0] for m in prompter.rejected["domain.reserved_ipv4"]] == [
        "'203.0.113.300' is not an IPv4 address", "'2001:db8::1' is not an IPv4 address"]
    assert "2 gigs" in prompter.rejected["limits.memory"][0] or prompter.rejected["limits.memory"]
    config = yamlio.loads((prefix / "config" / "config.yaml").read_text())
    assert config["limits"] == {"memory": "2G", "cpu": 1}
    assert config["auth"]["GitHubOAuthenticator"]["client_secret"] == CLIENT_SECRET
    # The DNS check failed (a dead resolver, no such zone): the operator chose to continue; the step shows failed.
    assert "domain" in state_of("demo")["failed_steps"]
    assert state_of("demo")["current_step"] == "done"


def test_insecure_authenticator_needs_explicit_confirmation(tmp_path):
    prefix, prefill = demo_prefill(tmp_path)
    prompter = ScriptedPrompter({"authenticator.type": "dummy"},
                                confirms={"I understand this is insecure": [False, True]},
                                interrupt_at="domain.name")
    assert run_plain("demo", mode="sandbox", prefill=prefill, sandbox_prefix=prefix,
                     prompter=prompter) == EXIT_INTERRUPTED
    assert prompter.asked.count("authenticator.type") == 2  # refused once: asked again
    answers = state_of("demo")["answers"]["authenticator"]
    assert answers["type"] == "dummy" and answers["insecure_confirmed"] is True


def test_what_a_field_changed_on_the_way_in_is_said_by_its_label(tmp_path):
    """A pasted URL in the organizations and the Domain field is read as the name it holds; the prompts say so,
    naming the field as the prompt does (the same notes the full-screen wizard shows)."""
    prefix, prefill = demo_prefill(tmp_path)
    prompter = ScriptedPrompter({**AUTH, "authenticator.allowed_organizations": "https://github.com/example-org",
                                 "domain.name": "https://Hub.Example.edu/hub/login"},
                                interrupt_at="domain.reserved_ipv4")
    assert run_plain("demo", mode="sandbox", prefill=prefill, sandbox_prefix=prefix,
                     prompter=prompter) == EXIT_INTERRUPTED
    notes = [line.strip() for line in prompter.transcript if line.strip().startswith("note: ")]
    assert "note: Allowed GitHub organizations: 'https://github.com/example-org' is a URL: using the organization " \
           "'example-org'" in notes, prompter.transcript
    assert any(note.startswith("note: Domain: 'https://Hub.Example.edu/hub/login' is a URL") for note in notes), notes
    assert not any("authenticator.allowed_organizations" in line or "domain.name:" in line
                   for line in prompter.transcript)


def test_ctrl_c_stops_with_one_line_and_resumes_at_the_same_step(tmp_path, capfd):
    prefix, prefill = demo_prefill(tmp_path)
    first = ScriptedPrompter({**AUTH, "domain.name": "hub.example.edu"}, interrupt_at="domain.reserved_ipv4")
    assert run_plain("demo", mode="sandbox", prefill=prefill, sandbox_prefix=prefix,
                     prompter=first) == EXIT_INTERRUPTED
    err = capfd.readouterr().err
    assert err.strip().splitlines() == [
        "Stopped at Domain & DNS; every accepted answer is saved — run the same command again to resume."]
    state = state_of("demo")
    assert state["current_step"] == "domain" and state["answers"]["domain"] == {"name": "hub.example.edu"}

    # Resume: the same step, every accepted answer present, the saved secret kept (Enter keeps it).
    second = ScriptedPrompter(interrupt_at="domain.reserved_ipv6", confirms={"Resume": True},
                              answers={"domain.reserved_ipv4": "203.0.113.10"})
    assert run_plain("demo", mode="sandbox", prefill=prefill, sandbox_prefix=prefix,
                     prompter=second) == EXIT_INTERRUPTED
    assert second.transcript[0].startswith("? Resume the demo hub at Domain & DNS, stopped")
    assert second.asked[:2] == ["domain.name", "domain.reserved_ipv4"]
    from wizard.session import Session

    with Session.open("demo", lock=False) as session:
        assert session.answers.get("authenticator.client_secret") == CLIENT_SECRET
        assert session.answers.get("domain.reserved_ipv4") == "203.0.113.10"


def test_plain_mode_never_imports_textual(tmp_path):
    """The whole plain flow (scripted, on the sandbox) in a fresh interpreter: Textual is never loaded."""
    code = f"""
import sys
from wizard.plain import ScriptedPrompter, run_plain
import wizard.wizard_cli, wizard.demo_cli
prompter = ScriptedPrompter({AUTH!r} | {{"domain.name": "hub.example.edu", "domain.reserved_ipv4": "203.0.113.10",
                            "domain.resolvers": "127.0.0.1:9"}},
                            confirms={{"Set up HTTPS": True, "Set up": False, "Apply these": True}},
                            choices={{"A check failed": "continue"}})
code = run_plain("demo", mode="sandbox", prefill={{"connection.host": "localhost",
                 "connection.tljh_prefix": {str(tmp_path / 'hub')!r}}}, sandbox_prefix={str(tmp_path / 'hub')!r},
                 prompter=prompter)
print("exit", code, "textual" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert done.stdout.split()[-3:] == ["exit", "0", "False"], done.stdout + done.stderr


# ---------------------------------------------------------------------------------------------------------------
# resume after SIGKILL, in a pty


def test_plain_resume_after_sigkill(tmp_path, _isolated_state):
    transcript = tmp_path / "transcript.txt"
    child = spawn([WIZARD, "demo", "--plain"], tmp_path, transcript)
    child.expect_exact("Step 2/10: Authenticator")
    answer(child, "Authenticator")
    answer(child, "OAuth client ID", "killed-client")
    answer(child, "OAuth client secret", CLIENT_SECRET)
    child.expect_exact("Allowed GitHub organizations")
    child.kill(signal.SIGKILL)
    child.close()
    assert child.signalstatus == signal.SIGKILL

    child = spawn([WIZARD, "demo", "--plain"], tmp_path, transcript)
    child.expect_exact("Resume the demo hub at Authenticator, stopped")
    child.send("y")
    child.expect_exact("Step 2/10: Authenticator")
    child.expect_exact("Authenticator *")
    child.send(ENTER)
    child.expect_exact("OAuth client ID")
    child.expect_exact("killed-client")  # the accepted answer, offered again
    child.send(ENTER)
    child.expect_exact("saved: press Enter to keep it")
    child.send(ENTER)
    child.expect_exact("Allowed GitHub organizations")
    child.sendcontrol("c")
    child.expect_exact("Stopped at Authenticator; every accepted answer is saved")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == EXIT_INTERRUPTED
    text = transcript.read_text()
    assert "Traceback" not in text and CLIENT_SECRET not in text
    from wizard.session import Session

    with Session.open("demo", lock=False) as session:
        assert session.answers.get("authenticator.client_id") == "killed-client"
        assert session.answers.get("authenticator.client_secret") == CLIENT_SECRET


def test_plain_without_a_terminal_points_at_apply(tmp_path):
    done = subprocess.run([WIZARD, "demo", "--plain"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          cwd=tmp_path)
    assert done.returncode == 2
    assert "tljh-wizard apply answers.yaml" in done.stderr and "Traceback" not in done.stderr
