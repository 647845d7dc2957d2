"""The hub on this machine: ``LocalTarget`` (``--local``, the wizard runs on the hub itself) and ``SandboxTarget``
(the demo sandbox: a TLJH-shaped tree owned by the current user, with the stand-ins of ``wizard.hub.sandbox``)."""

from __future__ import annotations

import io
import os
import selectors
import subprocess
import threading
import time
from pathlib import Path, PurePosixPath
from typing import IO, Sequence

from wizard.hub.target import (
    DEFAULT_PREFIX,
    ByteSink,
    ByteSource,
    CommandCancelled,
    CommandResult,
    CommandTimeout,
    FileWrite,
    HubTarget,
    LineSplitter,
    OutputCallback,
)

CHUNK = 65536


class LocalTarget(HubTarget):
    """Commands run as child processes of the wizard; ``sudo=True`` uses sudo unless the wizard already is root."""

    name = "local"

    def __init__(self, prefix: str = str(DEFAULT_PREFIX), sudo_password: str | None = None):
        super().__init__(prefix)
        self._sudo_password = sudo_password

    def _runs_as_root(self) -> bool:
        return os.geteuid() == 0

    def _execute(self, argv: list[str], stdin: bytes | ByteSource | None, deadline: float | None,
                 on_output: OutputCallback | None, stdout_to: ByteSink | None) -> CommandResult:
        try:
            process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except FileNotFoundError as exc:
            return CommandResult(argv, 127, b"", f"{exc.filename}: command not found\n".encode())
        feeder = threading.Thread(target=_feed, args=(process.stdin, stdin), daemon=True, name="local-stdin")
        feeder.start()
        out, err = io.BytesIO(), io.BytesIO()
        if process.stdout is None or process.stderr is None:  # never: both are pipes
            raise RuntimeError("the command's output pipes are missing")
        sinks: dict[int, tuple[ByteSink, LineSplitter]] = {
            process.stdout.fileno(): (stdout_to or out, LineSplitter("stdout", on_output)),
            process.stderr.fileno(): (err, LineSplitter("stderr", on_output))}
        limit = None if deadline is None else time.monotonic() + deadline
        with selectors.DefaultSelector() as selector:
            for pipe in sinks:
                selector.register(pipe, selectors.EVENT_READ)
            while selector.get_map():
                remaining = None if limit is None else limit - time.monotonic()
                if deadline is not None and remaining is not None and remaining <= 0:
                    _stop(process)
                    raise CommandTimeout(argv, deadline)
                if self.cancel.is_set():
                    _stop(process)
                    raise CommandCancelled(argv)
                for key, _events in selector.select(0.5 if remaining is None else min(remaining, 0.5)):
                    chunk = os.read(key.fd, CHUNK)
                    if not chunk:
                        selector.unregister(key.fileobj)
                        continue
                    sink, lines = sinks[key.fd]
                    sink.write(chunk)
                    lines.feed(chunk)
        for _sink, lines in sinks.values():
            lines.flush()
        status = process.wait()
        feeder.join()
        return CommandResult(argv, status if status >= 0 else 128 - status, out.getvalue(), err.getvalue())


def _stop(process: subprocess.Popen[bytes]) -> None:
    """TERM first: ``timeout`` and ``sudo`` pass it on to the command they run (KILL would orphan it); KILL if it
    is still there after a grace period."""
    process.terminate()
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _feed(pipe: IO[bytes], stdin: bytes | ByteSource | None) -> None:
    try:
        if isinstance(stdin, bytes):
            pipe.write(stdin)
        elif stdin is not None:
            while chunk := stdin.read(CHUNK):
                pipe.write(chunk)
    except BrokenPipeError:
        pass  # the command did not read all of it; its exit status tells
    finally:
        try:
            pipe.close()
        except BrokenPipeError:
            pass


class SandboxTarget(LocalTarget):
    """The demo sandbox: a TLJH tree at ``prefix`` owned by the current user, so nothing needs sudo, and a
    ``/hub/api`` stand-in on a loopback port for the apply's verification."""

    name = "demo"

    def __init__(self, prefix: str | os.PathLike[str], create: bool = True):
        from wizard.hub import sandbox

        root = Path(prefix)
        if create and not (root / "config" / "config.yaml").exists():
            sandbox.create_tree(root)
        super().__init__(str(root))
        self._api = sandbox.HubApiStandIn(root)
        self.hub_api_url = self._api.url

    def _runs_as_root(self) -> bool:
        return True  # the sandbox's "root" is whoever owns the tree

    def write_files(self, files: Sequence[FileWrite], *, sudo: bool = True, lock: str | PurePosixPath | None = None,
                    timeout: float = 60.0) -> list[str]:
        """As the hub's, without ``chown``: the sandbox's files belong to whoever runs it."""
        from dataclasses import replace

        return super().write_files([replace(item, owner=None) for item in files], sudo=sudo, lock=lock,
                                   timeout=timeout)

    def close(self) -> None:
        self._api.close()
