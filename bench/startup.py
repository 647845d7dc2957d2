"""Startup time: process start -> first interactive screen, for `tljh-wizard demo` and for a bare Textual app.

Each program runs in a pseudo-terminal (as a person would start it); the clock stops when the first screen's text
has been drawn. Runs alternate between the two programs (so a busy machine slows both alike), at least 10 each;
the medians are compared. The wizard starts on a fresh state directory each run, so its first screen is always the
welcome screen. Target (DESIGN.md): the wizard within 1.3x of the bare app.

Last line of output: {"bench": "startup", "wizard_seconds": W, "bare_textual_seconds": B, "ratio": W/B}
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import re
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
WIZARD = str(Path(PYTHON).with_name("tljh-wizard"))
ESCAPES = re.compile(rb"\x1b\[[0-9;?<>=!]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]")

BARE_APP = '''
from textual.app import App
from textual.widgets import Label


class Bare(App):
    def compose(self):
        yield Label("bare textual app ready")


Bare().run()
'''
WIZARD_MARKER = b"not production-ready"  # the welcome screen's text
BARE_MARKER = b"bare textual app ready"


def time_to_screen(argv: list[str], marker: bytes, env: dict, limit: float = 60.0) -> float:
    """Seconds from starting ``argv`` in a pty (120x36) until ``marker`` is drawn; the process is then killed."""
    master, slave = pty.openpty()
    import fcntl
    import struct
    import termios

    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=env.get("HOME", "/"),
                               start_new_session=True, close_fds=True)
    os.close(slave)
    seen = b""
    try:
        while True:
            remaining = limit - (time.perf_counter() - started)
            if remaining <= 0:
                raise RuntimeError(f"{argv[0]}: no first screen within {limit} s; output: {seen[-500:]!r}")
            ready, _, _ = select.select([master], [], [], remaining)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the program exited
                raise RuntimeError(f"{argv[0]} exited before its first screen; output: {seen[-500:]!r}") from None
            seen += chunk
            if marker in ESCAPES.sub(b"", seen):
                return time.perf_counter() - started
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()
        os.close(master)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs of each program (at least 10; default 10)")
    args = parser.parse_args()
    runs = max(10, args.runs)
    with tempfile.TemporaryDirectory(prefix="tljh-wizard-bench-") as scratch:
        bare_script = Path(scratch) / "bare_app.py"
        bare_script.write_text(BARE_APP)
        base_env = dict(os.environ, TERM="xterm-256color", COLUMNS="120", LINES="36", HOME=scratch)
        base_env.pop("TEXTUAL", None)
        wizard_times, bare_times = [], []
        for run in range(runs):
            state = Path(scratch) / f"state-{run}"
            wizard_env = dict(base_env, TLJH_WIZARD_STATE_DIR=str(state))
            wizard_times.append(time_to_screen([WIZARD, "demo"], WIZARD_MARKER, wizard_env))
            bare_times.append(time_to_screen([PYTHON, str(bare_script)], BARE_MARKER, base_env))
            print(f"run {run + 1:2}: wizard {wizard_times[-1]:.3f} s, bare textual {bare_times[-1]:.3f} s",
                  flush=True)
    wizard = statistics.median(wizard_times)
    bare = statistics.median(bare_times)
    print(f"medians over {runs} runs each: wizard {wizard:.3f} s, bare textual {bare:.3f} s, ratio {wizard / bare:.2f} "
          "(target <= 1.3)")
    print(json.dumps({"bench": "startup", "wizard_seconds": round(wizard, 4), "bare_textual_seconds": round(bare, 4),
                      "ratio": round(wizard / bare, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
