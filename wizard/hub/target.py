"""``HubTarget``: the one interface for running commands and reading/writing files on a TLJH hub.

Three implementations: ``wizard.hub.ssh.SSHTarget`` (paramiko, one connection per session), ``wizard.hub.local.
LocalTarget`` (``--local``: the wizard runs on the hub itself) and ``wizard.hub.local.SandboxTarget`` (the demo
sandbox). Engines (facts, backups, apply, environment freeze) take a ``HubTarget`` and never know which one it is.

Contract, for code written against it:

- ``run(argv, stdin=None, sudo=False, timeout=60, on_output=None, stdout_to=None, check=False) -> CommandResult``
  runs ONE command, given as an argv list — never a shell string; each element reaches the hub as one argument
  (quoted with ``shlex`` where a remote shell is in between). ``stdin`` is bytes or a binary file object (streamed).
  ``sudo=True`` runs it as root: passwordless sudo, or the sudo password sent on stdin ahead of your data (never in
  argv), or nothing when the login is already root / the target is the sandbox. ``timeout`` (seconds, ``None`` = no
  limit) is enforced on the hub too (coreutils ``timeout``), so a hanging command is killed there, and raises
  ``CommandTimeout``. ``on_output(stream, line)`` is called for each line as it arrives (``stream`` is "stdout" or
  "stderr") — for progress displays. ``stdout_to`` (a binary file object) receives stdout instead of it being kept in
  memory (large downloads such as backup tarballs). ``check=True`` raises ``CommandFailed`` on a non-zero exit.
  Each call is one round trip (``round_trips`` counts them).
- ``read_file(path, sudo=True) -> bytes`` (``FileNotFoundError`` if missing) and ``write_file(path, data, mode=0o600,
  owner=None, sudo=True, lock=None)``: an atomic write on the hub (temp file created private in the same directory,
  fsync, chmod/chown, rename), optionally holding ``flock`` on ``lock`` (TLJH's ``config.yaml.lock``) meanwhile
  (``LockBusy`` if another process keeps it). The hub renames the temp file only when its size and sha256 are the
  ones sent (``TransferIncomplete`` otherwise: a cut link never leaves a partial file). One round trip each.
- ``cancel``: a ``threading.Event``; set from another thread, the command running now is given up on
  (``CommandCancelled``) and stopped on the hub: a local process is terminated; over SSH every command runs in a
  process group of its own (coreutils ``timeout``, whose id it announces first), which a second command kills
  (TERM, then KILL) — the apply's "stop and roll back" leaves nothing the wizard started running on the hub.
- ``prefix``: TLJH's install prefix on the hub (``/opt/tljh`` unless told otherwise); ``tljh_config`` the path of
  ``tljh-config`` under it.
- ``hub_api_url``: where the hub's ``/hub/api`` answers, as seen from the hub (``None``: derived from config.yaml's
  ``http.port`` and ``base_url`` the way ``tljh-config reload hub`` does; the sandbox and the test rig set it).
- ``name``: the session name (``user@host:port``, ``local``, ``demo``). ``round_trips``: commands run so far
  (benches and tests assert on it). ``close()`` (also a context manager).

Errors are ``HubError`` subclasses whose message is meant for the operator as is.
"""

from __future__ import annotations

import abc
import hashlib
import io
import shlex
import threading
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Callable, Protocol, Self, Sequence

if TYPE_CHECKING:
    from wizard.sshaccess.engine import SshdPaths

DEFAULT_PREFIX = PurePosixPath("/opt/tljh")
DEFAULT_TIMEOUT = 60.0
KILL_GRACE = 5  # seconds between the hub's `timeout` sending TERM and KILL
TIMEOUT_STATUS = 124  # exit status of coreutils `timeout` when it had to stop the command
LOCK_BUSY_STATUS = 75  # what `flock` exits with here when the lock stays held (EX_TEMPFAIL)

OutputCallback = Callable[[str, str], None]


class ByteSource(Protocol):
    """What ``run`` reads a command's stdin from: a binary file object, or anything with its ``read``. A seekable
    file object (``io.IOBase.seekable()``) is read again from where it started when the connection is re-opened."""

    def read(self, size: int = -1, /) -> bytes: ...


class ByteSink(Protocol):
    """Where ``run(stdout_to=...)`` writes a command's stdout: a binary file object, or anything with its ``write``."""

    def write(self, data: bytes, /) -> int: ...


class HubError(Exception):
    """Something went wrong talking to the hub; ``str(error)`` is the operator-facing explanation."""


class ConnectError(HubError):
    """The connection could not be made. ``kind``: dns, refused, timeout, auth, host_key, ssh."""

    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.kind = kind


class HostKeyUnknown(ConnectError):
    """The hub's host key is in no known-hosts file and was not accepted."""

    def __init__(self, host: str, key_type: str, fingerprint: str):
        super().__init__(
            f"The host key of {host} is not known: {key_type} {fingerprint}. Compare it with the key the provider's "
            "console shows, then accept it (or pin it as connection.host_key).", "host_key")
        self.host, self.key_type, self.fingerprint = host, key_type, fingerprint


class HostKeyChanged(ConnectError):
    """The hub presented a key different from the known (or pinned) one: refused, never overwritten."""

    def __init__(self, host: str, expected: str, presented: str, source: str):
        super().__init__(
            f"REFUSED: the host key of {host} has changed. Expected {expected} (from {source}), but the server "
            f"presented {presented}. This can mean someone is intercepting the connection — or the server was "
            "rebuilt. Verify the new key out of band, then remove the old entry from that file.", "host_key")
        self.host, self.expected, self.presented, self.source = host, expected, presented, source


class ConnectionLost(HubError):
    """The connection dropped while a command ran and could not be resumed."""


class SudoError(HubError):
    """sudo refused (no sudo rights, or a wrong/missing password)."""


class LockBusy(HubError):
    """A lock file (TLJH's config.yaml.lock) stayed held by another process."""


class TransferIncomplete(HubError):
    """A file arrived on the hub shorter than sent or with another sha256 (the link was cut mid-transfer): the
    temp file was removed and the target left as it was. ``received``/``expected`` in bytes."""

    def __init__(self, path: str, received: int, expected: int):
        super().__init__(f"the hub received {received} of the {expected} bytes of {path} (the link was cut during "
                         "the transfer?); the size or sha256 did not match, so nothing was replaced")
        self.path, self.received, self.expected = path, received, expected


def shown(argv: Sequence[str]) -> str:
    """A command line for messages: inline scripts are abbreviated."""
    return shlex.join(arg if len(arg) <= 80 and "\n" not in arg else "<script>" for arg in argv)


class CommandFailed(HubError):
    def __init__(self, result: "CommandResult"):
        detail = result.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        super().__init__(f"`{shown(result.argv)}` exited with status {result.exit_status}"
                         + (f": {' / '.join(detail)}" if detail else ""))
        self.result = result


class CommandCancelled(HubError):
    """The wait for a command was given up on request (``HubTarget.cancel``): its outcome is unknown."""

    def __init__(self, argv: Sequence[str]):
        super().__init__(f"stopped on request while `{shown(argv)}` ran")
        self.argv = list(argv)


class CommandTimeout(HubError):
    def __init__(self, argv: Sequence[str], timeout: float):
        super().__init__(f"`{shown(argv)}` did not finish within {timeout:g} s and was stopped")
        self.argv, self.timeout = list(argv), timeout


@dataclass
class CommandResult:
    argv: list[str]
    exit_status: int
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    def check(self) -> "CommandResult":
        if not self.ok:
            raise CommandFailed(self)
        return self


class LineSplitter:
    """Turns output chunks into ``on_output(stream, line)`` calls."""

    def __init__(self, stream: str, callback: OutputCallback | None):
        self.stream, self.callback, self.pending = stream, callback, b""

    def feed(self, chunk: bytes) -> None:
        if self.callback is None:
            return
        self.pending += chunk
        *lines, self.pending = self.pending.split(b"\n")
        for line in lines:
            self.callback(self.stream, line.decode("utf-8", "replace").rstrip("\r"))

    def flush(self) -> None:
        if self.callback is not None and self.pending:
            self.callback(self.stream, self.pending.decode("utf-8", "replace"))
        self.pending = b""


# Atomic replace of one or more files on the hub. argv: groups of five — path, octal mode, owner ("" = keep), the
# expected size in bytes, the expected sha256; the files' bytes arrive on stdin one after the other. Each file is read
# (``head -c``: never past its own bytes) into a temp file created private (umask 077, noclobber) beside its target,
# so each rename is atomic. Nothing is renamed until EVERY temp file holds exactly its expected bytes — a link cut
# mid-transfer ends stdin early, and that must never replace anything (nor leave a certificate beside the wrong key);
# the temp files are removed if anything fails. A temp file of an earlier write that was killed before it could
# clean up is named on stderr and removed.
_WRITE_SCRIPT = r"""set -eu
umask 077
temp() { printf '%s/.%s.tljh-wizard-%s-%s' "$(dirname -- "$1")" "$(basename -- "$1")" "$$" "$2"; }
cleanup() {
  i=0
  while [ "$#" -ge 5 ]; do
    i=$((i + 1)); rm -f -- "$(temp "$1" "$i")"; shift 5
  done
}
receive() {
  i=0
  while [ "$#" -ge 5 ]; do
    i=$((i + 1))
    for stale in "$(dirname -- "$1")/.$(basename -- "$1").tljh-wizard-"*; do
      if [ -e "$stale" ]; then
        echo "tljh-wizard-stale: $(wc -c < "$stale") $stale" >&2
        rm -f -- "$stale"
      fi
    done
    tmp=$(temp "$1" "$i")
    (set -C; : > "$tmp")
    head -c "$4" > "$tmp"
    size=$(wc -c < "$tmp")
    sum=$(sha256sum < "$tmp")
    if [ "$size" != "$4" ] || [ "${sum%% *}" != "$5" ]; then
      echo "tljh-wizard-short: $size $1" >&2
      exit 65
    fi
    chmod -- "$2" "$tmp"
    if [ -n "$3" ]; then chown -- "$3" "$tmp"; fi
    sync -- "$tmp" 2>/dev/null || sync
    shift 5
  done
}
commit() {
  i=0
  while [ "$#" -ge 5 ]; do
    i=$((i + 1)); mv -f -- "$(temp "$1" "$i")" "$1"; sync -- "$(dirname -- "$1")" 2>/dev/null || true; shift 5
  done
}
trap 'cleanup "$@"' EXIT
trap 'exit 143' TERM HUP INT PIPE
receive "$@"
commit "$@"
trap - EXIT
"""
INCOMPLETE_STATUS = 65  # the write script's status when the temp file is not exactly the bytes sent (EX_DATAERR)


@dataclass
class FileWrite:
    """One file for ``HubTarget.write_files``: where, what, its mode and owner (``user:group``; None keeps root's)."""

    path: str
    data: bytes
    mode: int = 0o600
    owner: str | None = None


class HubTarget(abc.ABC):
    """Commands and files on one TLJH hub. See the module docstring for the contract."""

    name: str = "hub"
    hub_api_url: str | None = None
    # sshd's files on this hub (None: the standard ones; a test rig's sshd has its own): ``wizard.sshaccess.engine``.
    sshd_paths: SshdPaths | None = None

    def __init__(self, prefix: str | PurePosixPath = DEFAULT_PREFIX):
        self.prefix = PurePosixPath(prefix)
        self.round_trips = 0
        # Set by another thread to stop waiting for the command running now (``CommandCancelled``); the caller
        # clears it before its next command.
        self.cancel = threading.Event()

    @property
    def tljh_config(self) -> str:
        return str(self.prefix / "hub" / "bin" / "tljh-config")

    # --- what an implementation provides ---------------------------------------------------------------------------

    @abc.abstractmethod
    def _runs_as_root(self) -> bool:
        """Whether commands already run as root on the hub (then ``sudo=True`` adds nothing)."""

    @abc.abstractmethod
    def _execute(self, argv: list[str], stdin: bytes | ByteSource | None, deadline: float | None,
                 on_output: OutputCallback | None, stdout_to: ByteSink | None) -> CommandResult:
        """Run ``argv`` as given, once; wait at most ``deadline`` seconds (``None``: no limit)."""

    def _killable(self, command: list[str]) -> list[str]:
        """The command as run, arranged so a cancelled wait can stop it on the hub (``SSHTarget``: under its own
        process group, its id announced first). The default: as is (a local process is stopped directly)."""
        return command

    def close(self) -> None:  # noqa: B027 (a default, not an abstract method)
        """Release the connection; the default has nothing to release."""

    _sudo_password: str | None = None
    _sudo: tuple[list[str], bytes] | None = None

    def _sudo_argv(self) -> tuple[list[str], bytes]:
        """The argv prefix that makes a command run as root, and the bytes to send ahead of stdin (a password)."""
        if self._sudo is None:
            self._sudo = self._probe_sudo()
        return self._sudo

    def _probe_sudo(self) -> tuple[list[str], bytes]:
        """How to become root: one round trip, and only when a password was given (else plain ``sudo -n``)."""
        if self._runs_as_root():
            return [], b""
        if self._sudo_password is None:
            return ["sudo", "-n", "--"], b""
        password = self._sudo_password.encode() + b"\n"
        # -k: ignore cached credentials, so "no password needed" means a NOPASSWD rule, never a lucky cache. The
        # password goes to stdin and is checked here, before any data could follow it into a sudo that re-asks.
        probe = ["sh", "-c",
                 'sudo -k -n true 2>/dev/null && echo nopasswd || { sudo -k -S -p "" true && echo password; }']
        self.round_trips += 1
        result = self._execute(probe, password, 30.0, None, None)
        answer = result.stdout.strip()
        if answer == b"nopasswd":
            return ["sudo", "-n", "--"], b""
        if answer == b"password":
            return ["sudo", "-S", "-k", "-p", "", "--"], password
        if b"not in the sudoers" in result.stderr:
            raise SudoError("this login has no sudo rights on the hub (not in the sudoers file)")
        raise SudoError("sudo refused the password on the hub (wrong sudo password?)")

    # --- the interface -------------------------------------------------------------------------------------------

    def run(self, argv: Sequence[str], *, stdin: bytes | ByteSource | None = None, sudo: bool = False,
            timeout: float | None = DEFAULT_TIMEOUT, on_output: OutputCallback | None = None,
            stdout_to: ByteSink | None = None, check: bool = False) -> CommandResult:
        argv = [str(arg) for arg in argv]
        command = list(argv)
        if timeout is not None:
            command = ["timeout", "-k", str(KILL_GRACE), f"{timeout:g}", *command]
        command = self._killable(command)
        prelude = b""
        if sudo:
            sudo_prefix, prelude = self._sudo_argv()
            command = [*sudo_prefix, *command]
        if prelude:
            # Bytes stay bytes (a dropped connection can replay them); a stream is chained behind the password.
            if stdin is None or isinstance(stdin, bytes):
                stdin = prelude + (stdin or b"")
            else:
                stdin = _Prepended(prelude, stdin)
        deadline = None if timeout is None else timeout + KILL_GRACE + 10
        self.round_trips += 1
        result = self._execute(command, stdin, deadline, on_output, stdout_to)
        result.argv = argv
        if timeout is not None and result.exit_status in (TIMEOUT_STATUS, 128 + 9):
            raise CommandTimeout(argv, timeout)
        if sudo and prelude and result.exit_status == 1 and b"incorrect password" in result.stderr:
            raise SudoError("sudo refused the password (wrong sudo password?)")
        if sudo and result.exit_status == 1 and b"sudo:" in result.stderr and b"password is required" in result.stderr:
            raise SudoError("sudo needs a password on this hub: give the sudo password")
        if sudo and b"is not in the sudoers file" in result.stderr:
            raise SudoError("this login has no sudo rights on the hub (not in the sudoers file)")
        return result.check() if check else result

    def read_file(self, path: str | PurePosixPath, *, sudo: bool = True) -> bytes:
        result = self.run(["cat", "--", str(path)], sudo=sudo)
        if not result.ok:
            if b"No such file" in result.stderr:
                raise FileNotFoundError(str(path))
            raise CommandFailed(result)
        return result.stdout

    def write_file(self, path: str | PurePosixPath, data: bytes, *, mode: int = 0o600, owner: str | None = None,
                   sudo: bool = True, lock: str | PurePosixPath | None = None,
                   timeout: float = DEFAULT_TIMEOUT) -> list[str]:
        """Replace ``path`` on the hub with ``data`` atomically, after the hub checked the size and sha256 of what it
        received. Returns notes for the operator (a half-written temp file of an earlier, killed write that was
        found and removed). Raises ``TransferIncomplete`` (nothing replaced), ``LockBusy``, ``CommandFailed``,
        ``ConnectionLost`` (the link dropped: the file is the old or the new one, never a part)."""
        return self.write_files([FileWrite(str(path), data, mode, owner)], sudo=sudo, lock=lock, timeout=timeout)

    def write_files(self, files: Sequence["FileWrite"], *, sudo: bool = True, lock: str | PurePosixPath | None = None,
                    timeout: float = DEFAULT_TIMEOUT) -> list[str]:
        """Replace several files on the hub in one round trip: none is replaced until the hub has received every one
        of them whole (size and sha256 checked), then each is renamed into place (a certificate never ends up beside
        the previous key). Same notes and errors as ``write_file``."""
        argv = ["sh", "-c", _WRITE_SCRIPT, "write-file"]
        for item in files:
            argv += [str(item.path), f"{item.mode:o}", item.owner or "", str(len(item.data)),
                     hashlib.sha256(item.data).hexdigest()]
        if lock is not None:
            # Wait for the lock at most half the time, so a held lock is reported as such, not as a timeout.
            argv = ["flock", "-E", str(LOCK_BUSY_STATUS), "-w", f"{timeout / 2:g}", str(lock), *argv]
        result = self.run(argv, stdin=b"".join(item.data for item in files), sudo=sudo, timeout=timeout)
        if lock is not None and result.exit_status == LOCK_BUSY_STATUS:
            raise LockBusy(f"{lock} stayed locked for {timeout / 2:g} s: another program (tljh-config?) is "
                           "editing the file; try again when it has finished")
        notes, other = [], []
        sizes = {str(item.path): len(item.data) for item in files}
        for line in result.stderr.decode("utf-8", "replace").splitlines():
            tag, _, rest = line.partition(": ")
            if tag == "tljh-wizard-stale":
                size, _, stale = rest.partition(" ")
                notes.append(f"removed {stale} ({size} bytes): the temp file of an earlier write that was stopped "
                             "before it finished (it never replaced anything)")
            elif tag == "tljh-wizard-short" and result.exit_status == INCOMPLETE_STATUS:
                size, _, path = rest.partition(" ")
                raise TransferIncomplete(path, int(size), sizes.get(path, 0))
            else:
                other.append(line)
        if not result.ok:
            result.stderr = "\n".join(other).encode()
            raise CommandFailed(result)
        return notes

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Prepended(io.RawIOBase):
    """stdin with a prelude (the sudo password line) ahead of the caller's data."""

    def __init__(self, prelude: bytes, rest: ByteSource):
        super().__init__()
        self._parts = [io.BytesIO(prelude), rest]

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while self._parts:
            chunk = self._parts[0].read(size if size and size > 0 else 65536)
            if chunk:
                return chunk
            self._parts.pop(0)
        return b""
