"""Typed results that screens hand back to the wizard's flow: navigation is a result, never a side effect."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Next:
    """The step's answers were accepted (and its checks run): go on. ``failed``: continued despite a failed check."""

    failed: bool = False


@dataclass(frozen=True)
class Back:
    """Return to the previous step; the answers of this one stay saved."""


@dataclass(frozen=True)
class Skip:
    """Leave this optional step for now."""


@dataclass(frozen=True)
class Fix:
    """From Review: go to ``step`` to fix an answer Review refused, then straight back to Review."""

    step: str


StepResult = Next | Back | Skip | Fix


@dataclass(frozen=True)
class Start:
    """From the welcome screen: ``resume`` at the saved step, or begin at the first step (answers kept).
    ``asked``: whether the operator was asked about resuming (False when Start came before the session was read)."""

    resume: bool
    asked: bool = True


@dataclass(frozen=True)
class ResumeDecision:
    resume: bool


@dataclass(frozen=True)
class HostKeyDecision:
    """Whether the operator accepted an unknown host key after comparing its fingerprint."""

    accepted: bool
    fingerprint: str


@dataclass(frozen=True)
class Confirmation:
    """The answer to a yes/no modal (apply, restore, production certificate, insecure authenticator)."""

    confirmed: bool
