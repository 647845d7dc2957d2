"""Progress reporting and cancellation shared by every HTTPS flow.

A flow reports ``(phase, message)`` through a callback as it goes, and checks a ``CancelToken`` between steps and
while it waits, so a front-end can show where it is and stop it (Ctrl-C, a Cancel button) at any point.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

#: The phases of an issuance, in order. Front-ends show one row each.
PHASES = ("account", "order", "publish", "propagate", "validate", "finalize", "install", "verify")

Progress = Callable[[str, str], None]


def no_progress(phase: str, message: str) -> None:
    """The default callback: report nothing."""


class Cancelled(Exception):
    """The operator cancelled the flow. Cleanup (e.g. removing TXT records) has run by the time this propagates."""


class CancelToken:
    """A cancellation flag that waits can observe: ``wait`` returns early, ``check`` raises ``Cancelled``."""

    def __init__(self, event: threading.Event | None = None) -> None:
        self._event = event if event is not None else threading.Event()  # share another flag (a hub's cancel)

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled by the operator")

    def wait(self, seconds: float) -> None:
        """Pause between polls for up to ``seconds``; raise ``Cancelled`` as soon as cancellation is requested."""
        if self._event.wait(max(0.0, seconds)):
            raise Cancelled("cancelled by the operator")


class Backoff:
    """Poll intervals that start short and grow (x1.5 up to ``maximum``), honouring a server's Retry-After."""

    def __init__(self, first: float = 0.05, maximum: float = 5.0, factor: float = 1.5) -> None:
        self.next = first
        self.maximum = maximum
        self.factor = factor

    def interval(self, retry_after: float | None = None) -> float:
        """The pause before the next poll: the server's Retry-After when given (capped), else the back-off step."""
        if retry_after is not None and retry_after >= 0:
            chosen = min(retry_after, self.maximum * 12)
        else:
            chosen = self.next
        self.next = min(self.next * self.factor, self.maximum)
        return chosen


class Deadline:
    """A point in monotonic time after which a wait gives up."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    @property
    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())

    @property
    def passed(self) -> bool:
        return time.monotonic() >= self.end
