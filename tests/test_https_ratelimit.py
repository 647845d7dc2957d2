"""The rate-limit guard: staging before production, and at most 3 failed production validations per name per hour."""

from __future__ import annotations

import pytest

from wizard.https.ratelimit import MemoryStore, RateLimitGuard, RateLimitRefused, RecordStore
from wizard.session import Session

NAMES = ["hub.example.test"]


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def staged_guard(store=None, clock=None):
    guard = RateLimitGuard(store or MemoryStore(), clock or Clock())
    guard.record(NAMES, production=False, passed=True)
    return guard


def test_no_production_order_before_a_passing_staging_run():
    guard = RateLimitGuard(MemoryStore(), Clock())
    guard.check_order(NAMES, production=False)  # staging is always allowed
    with pytest.raises(RateLimitRefused, match="before a staging run passes"):
        guard.check_order(NAMES, production=True)
    guard.record(NAMES, production=False, passed=False)
    with pytest.raises(RateLimitRefused, match="before a staging run passes"):
        guard.check_order(NAMES, production=True)
    guard.record(NAMES, production=False, passed=True)
    guard.check_order(NAMES, production=True)


def test_staging_for_other_names_does_not_count():
    guard = staged_guard()
    with pytest.raises(RateLimitRefused, match="www.example.test"):
        guard.check_order(NAMES + ["www.example.test"], production=True)


def test_the_fourth_failed_production_attempt_within_the_hour_is_refused():
    clock = Clock()
    guard = staged_guard(clock=clock)
    for _ in range(3):
        guard.check_order(NAMES, production=True)
        guard.record(NAMES, production=True, passed=False)
        clock.now += 60
    with pytest.raises(RateLimitRefused, match=r"3 failed validations for hub.example.test .* try again in 57 min"):
        guard.check_order(NAMES, production=True)
    clock.now += 57 * 60 + 1  # the first failure leaves the window
    guard.check_order(NAMES, production=True)


def test_staging_failures_do_not_count_against_production():
    guard = staged_guard()
    for _ in range(5):
        guard.record(NAMES, production=False, passed=False)
    guard.check_order(NAMES, production=True)


def test_the_record_survives_in_the_session():
    clock = Clock()
    with Session.open("admin@hub.example.test:22") as session:
        guard = staged_guard(RecordStore(session), clock)
        for _ in range(3):
            guard.record(NAMES, production=True, passed=False)
    with Session.open("admin@hub.example.test:22") as session:
        assert len(session.record("https.ratelimit")["failures"]["hub.example.test"]) == 3
        with pytest.raises(RateLimitRefused):
            RateLimitGuard(RecordStore(session), clock).check_order(NAMES, production=True)
