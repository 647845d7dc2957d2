"""Kill the wizard at any moment: resuming finds every accepted answer and the step where it stopped."""

import os
import signal
import subprocess
import sys
import textwrap

from wizard.session import Session

NAME = "ubuntu@hub.example.edu:22"
ANSWERS = [
    ("connect", "connection.host", "hub.example.edu"),
    ("connect", "connection.user", "ubuntu"),
    ("connect", "connection.sudo_password", "SENTINEL-sudo-pw"),
    ("authenticator", "authenticator.type", "github"),
    ("authenticator", "authenticator.client_id", "abc123"),
    ("authenticator", "authenticator.client_secret", "SENTINEL-oauth"),
    ("domain", "domain.name", "hub.example.edu"),
    ("domain", "domain.reserved_ipv4", "203.0.113.10"),
]


def test_sigkill_mid_session_loses_no_accepted_answer():
    # The child answers one question at a time, reporting each acceptance, and keeps writing as fast as it can so
    # the kill lands while it is saving. It never finishes on its own.
    script = textwrap.dedent(f"""
        import sys
        from wizard.session import Session
        answers = {ANSWERS!r}
        session = Session.open({NAME!r})
        step = None
        for index, (step_id, key, value) in enumerate(answers):
            if step_id != session.current_step:
                session.go_to(step_id, finished=session.current_step)
            session.accept(key, value)
            print(index, flush=True)
            if index == 5:
                sys.stdin.readline()  # wait here to be killed
        while True:
            session.journal("busy", "intent")
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    try:
        seen = [child.stdout.readline().strip() for _ in range(6)]
        assert seen == [str(i) for i in range(6)]
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    with Session.open(NAME) as session:  # takes over the dead child's lock
        for _, key, value in ANSWERS[:6]:
            assert session.answers.get(key) == value, key
        assert not session.answers.answered("domain.name")
        assert session.current_step == "authenticator"
        assert session.finished_steps == ["connect"]


def test_sigkill_while_writing_never_leaves_a_partial_state_file():
    script = textwrap.dedent(f"""
        from wizard.session import Session
        session = Session.open({NAME!r})
        session.accept("connection.host", "hub.example.edu")
        print("ready", flush=True)
        n = 0
        while True:
            n += 1
            session.journal("write", "intent", n=n, padding="x" * 20000)
            print(n, flush=True)
    """)
    for _ in range(3):
        child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == "ready"
        for expected in range(1, 6):  # let it get going: the kill then lands while it rewrites state.json
            assert child.stdout.readline().strip() == str(expected)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        with Session.open(NAME) as session:
            assert session.answers.get("connection.host") == "hub.example.edu"
