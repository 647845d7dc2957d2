"""Diagnoses: the common result of every check (connection, DNS, certificates, sizing, audit).

Front-ends show them as rows (status icon, summary, details on selection, fix hint); the CLI prints one line each
and maps the worst status to an exit code (0 ok, 1 warning, 2 error).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any, Iterable


class Status(str, Enum):
    OK = "ok"
    WARNING = "warning"
    ERROR = "error"
    SKIPPED = "skipped"

    @property
    def rank(self) -> int:
        return {"skipped": 0, "ok": 0, "warning": 1, "error": 2}[self.value]


@dataclass
class Diagnosis:
    id: str
    status: Status
    summary: str
    details: str = ""
    fix: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["status"] = self.status.value
        return out


def worst(diagnoses: Iterable[Diagnosis]) -> Status:
    """The most severe status (ok when there are none)."""
    result = Status.OK
    for diagnosis in diagnoses:
        if diagnosis.status.rank > result.rank:
            result = diagnosis.status
    return result


def exit_code(diagnoses: Iterable[Diagnosis]) -> int:
    """The monitoring-plugin convention: 0 all ok, 1 warnings, 2 errors."""
    return worst(diagnoses).rank


def render_line(diagnosis: Diagnosis) -> str:
    text = f"{diagnosis.status.value.upper():8} {diagnosis.id}: {diagnosis.summary}"
    if diagnosis.fix and diagnosis.status in (Status.WARNING, Status.ERROR):
        text += f"\n         fix: {diagnosis.fix}"
    return text
