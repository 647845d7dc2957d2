"""Sessions: one per hub (``user@host:port``; ``demo`` for the sandbox), so a wizard can stop and resume anywhere.

Layout under the state directory (``TLJH_WIZARD_STATE_DIR`` or the platform's user state dir), directories 0700,
files 0600::

    sessions/NAME/state.json     answers so far (public values), current step, finished steps, journal, records
    sessions/NAME/secrets.json   secret answers (kept apart so state.json never holds a secret)
    sessions/NAME/store/         the secret store: ACME account key, issued keys, ...
    sessions/NAME/wizard.log     the session's log, secrets redacted
    sessions/NAME/lock           flock'ed by the process driving the session; holds its pid

Every change is written atomically (temp, fsync, rename) before the call returns, so a SIGKILL at any moment loses
nothing that was accepted. The lock is an ``flock``: the kernel drops it when its process dies, so a stale lock from
a dead process is taken over simply by locking again.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from wizard.answers import Answers
from wizard.fields import ValidationError
from wizard.files import atomic_write, private_dir
from wizard.steps import STEP_IDS, STEPS, step

STATE_VERSION = 1
_NAME = re.compile(r"^[A-Za-z0-9._@:\[\]-]{1,255}$")


class SessionError(Exception):
    """A session cannot be used (missing, corrupt, or locked by another wizard)."""


class SessionLocked(SessionError):
    pass


def state_dir() -> Path:
    override = os.environ.get("TLJH_WIZARD_STATE_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_state_dir("tljh-wizard", appauthor=False))


def sessions_dir() -> Path:
    return state_dir() / "sessions"


def session_name(host: str, user: str | None = None, port: int | None = 22) -> str:
    """``user@host:port`` (IPv6 hosts bracketed)."""
    shown = f"[{host}]" if ":" in host else host
    return f"{user or 'root'}@{shown}:{port or 22}"


def check_name(name: str) -> str:
    if not _NAME.match(name) or name in (".", "..") or name.startswith("."):
        raise SessionError(f"{name!r} is not a session name (expected user@host:port or demo)")
    return name


@dataclass
class SessionInfo:
    name: str
    host: str
    current_step: str
    finished_steps: list[str]
    updated: float
    locked_by: int | None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Session:
    """One hub's wizard state. Open with ``Session.open(name)``; close (or use as a context manager) to unlock."""

    def __init__(self, name: str, directory: Path, state: dict[str, Any], answers: Answers,
                 lock_fd: int | None) -> None:
        self.name = name
        self.dir = directory
        self.state = state
        self.answers = answers
        self._lock_fd = lock_fd
        self._logger: logging.Logger | None = None
        # Secrets held outside the session's answers (an answers file being applied): masked like the answers' own.
        self.redact_also: set[str] = set()

    # -- opening ----------------------------------------------------------------------------------------------

    @classmethod
    def open(cls, name: str, create: bool = True, lock: bool = True, host: str | None = None) -> "Session":
        check_name(name)
        directory = sessions_dir() / name
        if not directory.exists() and not create:
            raise SessionError(f"no session named {name!r} (see `tljh-wizard sessions`)")
        private_dir(sessions_dir().parent, tighten=False)
        private_dir(sessions_dir())
        private_dir(directory)
        lock_fd = _lock(directory, name) if lock else None
        try:
            state, answers = _read(directory, name)
        except BaseException:
            if lock_fd is not None:
                os.close(lock_fd)
            raise
        if state is None:
            now = time.time()
            state = {"version": STATE_VERSION, "name": name, "host": host or name, "created": now, "updated": now,
                     "current_step": STEP_IDS[0], "finished_steps": [], "failed_steps": [], "journal": [],
                     "records": {}}
        session = cls(name, directory, state, answers, lock_fd)
        if lock_fd is not None and not (directory / "state.json").exists():
            session.save()
        return session

    def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        if self._logger:
            for handler in list(self._logger.handlers):
                handler.close()
                self._logger.removeHandler(handler)

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- progress ---------------------------------------------------------------------------------------------

    @property
    def current_step(self) -> str:
        return str(self.state["current_step"])

    @property
    def finished_steps(self) -> list[str]:
        return list(self.state["finished_steps"])

    def accept(self, key: str, raw: Any) -> Any:
        """Validate and store one answer, then save: an accepted answer survives any crash after this returns."""
        value = self.answers.set(key, raw)
        self.save()
        return value

    def go_to(self, step_id: str, finished: str | None = None, failed: str | None = None) -> None:
        if step_id not in STEP_IDS:
            raise ValueError(step_id)
        if finished and finished not in self.state["finished_steps"]:
            self.state["finished_steps"].append(finished)
        if finished and finished in self.state["failed_steps"]:
            self.state["failed_steps"].remove(finished)
        if failed and failed not in self.state["failed_steps"]:
            self.state["failed_steps"].append(failed)
        self.state["current_step"] = step_id
        self.save()

    def skip_step(self, step_id: str, skipped: bool = True) -> None:
        """Skip a step (the hub keeps its own settings for its sections), or take it up again; saved at once."""
        for section in step(step_id).sections:
            self.answers.skip(section, skipped)
        self.save()

    @property
    def skipped_steps(self) -> list[str]:
        return [item.id for item in STEPS
                if item.sections and all(section in self.answers.skipped for section in item.sections)]

    def journal(self, action: str, phase: str, **details: Any) -> dict[str, Any]:
        """Record a remote action's intent (before) or outcome (after); saved at once. Secret answers quoted in the
        details (a hub's error output can echo them) are masked, as in the log."""
        secrets = sorted(self.secret_values(), key=len, reverse=True)
        details = {key: _masked(value, secrets) for key, value in details.items()}
        entry = {"time": time.time(), "action": action, "phase": phase, **details}
        self.state["journal"].append(entry)
        self.save()
        return entry

    def record(self, key: str, value: Any = None) -> Any:
        """Engine records that must survive a restart (rate-limit attempts, renewal time, last apply, ...)."""
        if value is not None:
            self.state["records"][key] = value
            self.save()
        return self.state["records"].get(key)

    # -- persistence ------------------------------------------------------------------------------------------

    def save(self) -> None:
        if self._lock_fd is None:
            raise SessionError(f"session {self.name} was opened read-only")
        public, secret = self.answers.split()
        self.state["updated"] = time.time()
        self.state["answers"] = public
        atomic_write(self.dir / "state.json", json.dumps(self.state, indent=1, sort_keys=True))
        secrets_file = self.dir / "secrets.json"
        if len(secret) > 1 or secrets_file.exists():
            atomic_write(secrets_file, json.dumps(secret, indent=1, sort_keys=True))

    # -- secret store -----------------------------------------------------------------------------------------

    def store_path(self, name: str) -> Path:
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,128}", name) or name.startswith("."):
            raise ValueError(f"bad store name {name!r}")
        return private_dir(self.dir / "store") / name

    def write_secret(self, name: str, data: bytes | str) -> Path:
        return atomic_write(self.store_path(name), data, mode=0o600)

    def read_secret(self, name: str) -> bytes | None:
        try:
            return self.store_path(name).read_bytes()
        except FileNotFoundError:
            return None

    def secret_values(self) -> list[str]:
        values = [value for value in self.answers.secret_values() if isinstance(value, str) and value]
        return values + sorted(self.redact_also.difference(values, [""]))

    # -- logging ----------------------------------------------------------------------------------------------

    @property
    def log_path(self) -> Path:
        return self.dir / "wizard.log"

    def logger(self) -> logging.Logger:
        """The session's logger: writes wizard.log (0600) and masks every secret answer in every record."""
        if self._logger is None:
            logger = logging.getLogger(f"tljh_wizard.session.{self.name}")
            logger.setLevel(logging.INFO)
            logger.propagate = False
            fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            handler = logging.StreamHandler(os.fdopen(fd, "a", encoding="utf-8"))
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
            handler.addFilter(SecretFilter(self.secret_values))
            logger.addHandler(handler)
            self._logger = logger
        return self._logger


class SecretFilter(logging.Filter):
    """Replaces every known secret value in a log record with ********."""

    def __init__(self, secrets: Callable[[], Iterable[str]]) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = sorted(self._secrets(), key=len, reverse=True)
        record.msg, record.args = _masked(record.getMessage(), secrets), None
        if record.exc_info or record.exc_text:  # a traceback quotes values too: format it here, masked
            text = record.exc_text or (logging.Formatter().formatException(record.exc_info) if record.exc_info else "")
            record.exc_info, record.exc_text = None, _masked(text, secrets)
        if record.stack_info:
            record.stack_info = _masked(record.stack_info, secrets)
        return True


def _masked(value: Any, secrets: list[str]) -> Any:
    """``value`` (text, or a list/mapping of them) with every secret replaced by ********."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "********")
        return value
    if isinstance(value, list):
        return [_masked(item, secrets) for item in value]
    if isinstance(value, dict):
        return {key: _masked(item, secrets) for key, item in value.items()}
    return value


def _lock(directory: Path, name: str) -> int:
    import fcntl

    path = directory / "lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_pid(fd)
        os.close(fd)
        raise SessionLocked(f"session {name} is being driven by another tljh-wizard (process {holder}); "
                            "finish or stop that one first") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    os.fsync(fd)
    return fd


def _read_pid(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, 32).decode().strip() or "unknown"
    except OSError:
        return "unknown"


# The types of a saved state's fields, so a damaged file is refused when opened rather than failing later.
_STATE_SHAPE: dict[str, type | tuple[type, ...]] = {
    "current_step": str, "finished_steps": list, "failed_steps": list, "journal": list, "records": dict,
    "answers": (dict, type(None))}


def _read(directory: Path, name: str) -> tuple[dict[str, Any] | None, Answers]:
    state_file = directory / "state.json"
    if not state_file.exists():
        return None, Answers()
    try:
        state = json.loads(state_file.read_text())
        secrets_file = directory / "secrets.json"
        secret = json.loads(secrets_file.read_text()) if secrets_file.exists() else None
    except (OSError, ValueError) as exc:
        raise SessionError(f"session {name}: state file is unreadable ({exc}); "
                           f"`tljh-wizard sessions --forget {name}` starts afresh") from None
    if not isinstance(state, dict) or not isinstance(secret, (dict, type(None))):
        raise SessionError(f"session {name}: state file is damaged (not a JSON object); "
                           f"`tljh-wizard sessions --forget {name}` starts afresh")
    if state.get("version") != STATE_VERSION:
        raise SessionError(f"session {name}: unsupported state version {state.get('version')!r}")
    damaged = [key for key, kind in _STATE_SHAPE.items() if key in state and not isinstance(state[key], kind)]
    if damaged:
        raise SessionError(f"session {name}: state file is damaged ({', '.join(damaged)}); "
                           f"`tljh-wizard sessions --forget {name}` starts afresh")
    state.setdefault("current_step", STEP_IDS[0])
    for key in ("finished_steps", "failed_steps", "journal"):
        state.setdefault(key, [])
    state.setdefault("records", {})
    try:
        answers = Answers.from_documents(state.get("answers") or {"version": 1}, secret, origin=f"session {name}")
    except ValidationError as exc:
        raise SessionError(f"session {name}: stored answers no longer validate: {exc}") from None
    return state, answers


def _lock_holder(directory: Path) -> int | None:
    """The pid holding the session's lock, or None when nobody holds it."""
    import fcntl

    path = directory / "lock"
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _read_pid(fd)
        return int(pid) if pid.isdigit() else -1
    finally:
        os.close(fd)
    return None


def list_sessions() -> list[SessionInfo]:
    root = sessions_dir()
    if not root.is_dir():
        return []
    infos = []
    for directory in sorted(root.iterdir()):
        state_file = directory / "state.json"
        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(state, dict):
            continue
        updated = state.get("updated")
        finished = state.get("finished_steps")
        infos.append(SessionInfo(directory.name, str(state.get("host", directory.name)),
                                 str(state.get("current_step", "?")),
                                 finished if isinstance(finished, list) else [],
                                 float(updated) if isinstance(updated, (int, float)) else 0.0,
                                 _lock_holder(directory)))
    return infos


def forget(name: str) -> None:
    check_name(name)
    directory = sessions_dir() / name
    if not directory.is_dir():
        raise SessionError(f"no session named {name!r}")
    holder = _lock_holder(directory)
    if holder is not None:
        raise SessionLocked(f"session {name} is in use by process {holder}; stop that wizard first")
    shutil.rmtree(directory)
