"""The rig's child processes: started with their output in a log file, waited for until they answer, stopped by PID.

Every server of the rig (named, pebble, sshd) is a plain child process; this is the one place that says how such a
process starts, how a start is waited for and how it ends.
"""

from __future__ import annotations

import ctypes
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence

_PRCTL = ctypes.CDLL(None, use_errno=True).prctl
PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """``preexec_fn`` for rig servers: the kernel ends them if the test run is killed, so none outlives it.
    (Resolved at import: between fork and exec only a C call is safe.)"""
    _PRCTL(PR_SET_PDEATHSIG, signal.SIGTERM)


def start_logged(argv: Sequence[str], log_path: Path, cwd: Path,
                 env: Mapping[str, str] | None = None) -> subprocess.Popen:
    """``argv`` as a child of this test run (it dies with it), its stdout and stderr both into ``log_path``."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                preexec_fn=die_with_parent)


def read_log(path: Path) -> str:
    """A server's log so far ('' before it wrote one), for the message of a failed start."""
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def wait_until_ready(process: subprocess.Popen, ready: Callable[[], bool], *, name: str, seconds: float,
                     pause: float, log_path: Path, error: type[Exception]) -> None:
    """Probe with ``ready()`` until it says True; raise ``error`` carrying the log if the process exits first or
    ``seconds`` pass. Each probe bounds its own wait; a refused one returns at once, hence the short ``pause``."""
    deadline = time.monotonic() + seconds
    while True:
        if process.poll() is not None:
            raise error(f"{name} exited with {process.returncode}:\n{read_log(log_path)}")
        if ready():
            return
        if time.monotonic() > deadline:
            raise error(f"{name} did not answer within {seconds} s:\n{read_log(log_path)}")
        time.sleep(pause)


def stop_process(process: subprocess.Popen) -> None:
    """End a server by its PID: SIGTERM, then SIGKILL if it has not exited within 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
