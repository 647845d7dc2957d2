"""The wizard's steps, in order (DESIGN.md): which answer sections each one asks, and whether it may be skipped.

Both front-ends (Textual screens and the plain prompts) walk this list; sessions record progress by step id.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    sections: tuple[str, ...]
    skippable: bool = False
    # What the hub keeps when the step is skipped (shown before the operator confirms a skip).
    keeps: str = ""


STEPS: tuple[Step, ...] = (
    Step("connect", "Connect", ("connection",)),
    Step("authenticator", "Authenticator", ("authenticator",)),
    Step("domain", "Domain & DNS", ("domain",)),
    Step("https", "HTTPS", ("https",), skippable=True,
         keeps="its own HTTPS settings, untouched (a fresh TLJH serves plain HTTP: logins travel unencrypted)"),
    Step("limits", "Limits", ("limits",), skippable=True,
         keeps="its own memory and CPU limits and idle culling, untouched (a fresh TLJH sets no limits)"),
    Step("environment", "Base environment", ("environment",), skippable=True,
         keeps="its user environment as it is: nothing is installed and no snapshot is taken"),
    Step("backups", "Backups", ("backups",), skippable=True,
         keeps="everything as it is: no backup bundle is pulled and /home snapshots stay unconfirmed"),
    Step("ssh", "SSH access", ("ssh",), skippable=True,
         keeps="its SSH logins as they are: no key is added or removed"),
    Step("review", "Review & apply", ()),
    Step("done", "Done", ()),
)

STEP_IDS = tuple(step.id for step in STEPS)


def step(step_id: str) -> Step:
    for item in STEPS:
        if item.id == step_id:
            return item
    raise KeyError(step_id)


def next_step(step_id: str) -> str | None:
    index = STEP_IDS.index(step_id)
    return STEP_IDS[index + 1] if index + 1 < len(STEP_IDS) else None


def previous_step(step_id: str) -> str | None:
    index = STEP_IDS.index(step_id)
    return STEP_IDS[index - 1] if index > 0 else None
