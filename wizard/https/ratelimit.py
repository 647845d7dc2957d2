"""Rate-limit safety: never hammer a production CA.

Let's Encrypt allows 5 failed validations per name per hour and locks a name out after that; the wizard stays well
inside: at most 3 failed validations per name per hour against a production directory, and no production order at
all for a name that has not passed a staging run first. The record lives in the session (``RecordStore``) so the
rules hold across restarts of the wizard.
"""

from __future__ import annotations

import time
from typing import Callable, Iterable, Protocol

MAX_FAILURES_PER_HOUR = 3
WINDOW_SECONDS = 3600.0


class RateLimitRefused(Exception):
    """An order the guard will not let through; the message says why and when it may be tried again."""


class AttemptStore(Protocol):
    """Where the attempt record lives: a JSON-able dict, loaded and saved whole."""

    def load(self) -> dict: ...

    def save(self, data: dict) -> None: ...


class MemoryStore:
    """An in-memory ``AttemptStore`` (a single run, or tests)."""

    def __init__(self) -> None:
        self.data: dict = {}

    def load(self) -> dict:
        return {key: dict(value) for key, value in self.data.items()}

    def save(self, data: dict) -> None:
        self.data = data


class RecordStore:
    """An ``AttemptStore`` kept in a session's records (saved atomically with the session state)."""

    def __init__(self, session, key: str = "https.ratelimit") -> None:
        self.session = session
        self.key = key

    def load(self) -> dict:
        return dict(self.session.record(self.key) or {})

    def save(self, data: dict) -> None:
        self.session.record(self.key, data)


def _names(names: Iterable[str]) -> list[str]:
    return sorted({name.lower().rstrip(".") for name in names})


class RateLimitGuard:
    """Asked before each order (``check_order``) and told after each validation (``record``)."""

    def __init__(self, store: AttemptStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def _recent_failures(self, data: dict, name: str, now: float) -> list[float]:
        return [t for t in data.get("failures", {}).get(name, []) if now - t < WINDOW_SECONDS]

    def staged(self, names: Iterable[str]) -> bool:
        """Whether every name has passed a staging run (so a production order may follow)."""
        passed = self.store.load().get("staging_passed", {})
        return all(name in passed for name in _names(names))

    def check_order(self, names: Iterable[str], production: bool, *, staged_first: bool = False) -> None:
        """Raise ``RateLimitRefused`` when an order for ``names`` must not be placed now. ``staged_first``: asked
        for a plan whose staging run comes before the production order (only the failure count is judged)."""
        if not production:
            return
        data, now = self.store.load(), self.clock()
        unstaged = [name for name in _names(names) if name not in data.get("staging_passed", {})]
        if unstaged and not staged_first:
            raise RateLimitRefused(f"no production order for {', '.join(unstaged)} before a staging run passes "
                                   "for the same names")
        for name in _names(names):
            failures = self._recent_failures(data, name, now)
            if len(failures) >= MAX_FAILURES_PER_HOUR:
                wait = WINDOW_SECONDS - (now - min(failures))
                raise RateLimitRefused(f"{len(failures)} failed validations for {name} against the production CA "
                                       f"in the last hour; try again in {wait / 60:.0f} minutes (fix the cause "
                                       "with the staging directory meanwhile)")

    def record(self, names: Iterable[str], production: bool, passed: bool) -> None:
        """Note one validation outcome for ``names``; saved at once."""
        data, now = self.store.load(), self.clock()
        if passed and not production:
            staged = data.setdefault("staging_passed", {})
            for name in _names(names):
                staged[name] = now
        elif not passed and production:
            failures = data.setdefault("failures", {})
            for name in _names(names):
                failures[name] = self._recent_failures(data, name, now) + [now]
        else:
            return
        self.store.save(data)
