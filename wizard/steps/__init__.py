"""The wizard's steps, in order (DESIGN.md): which answer sections each one asks, whether it may be skipped, and
the engine calls each one makes.

Both front-ends (Textual screens and the plain prompts) walk this list; sessions record progress by step id. Each
step's engine calls live in a module of its own named after the step (``wizard/steps/connect.py`` ...
``done.py``; the Textual screen of the same step is ``screens/<step>.py``); they block, import no UI, take the run's
``wizard.context.WizardContext`` and a progress callback, and return ``Diagnosis`` lists. ``CHECKS`` names each
step's checks; ``rules`` holds the step-level validation both front-ends apply; ``wizard.walk`` the walk between
the steps and their extra actions. Importing this package is cheap: every engine is imported inside the function
that uses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from wizard.context import Progress, WizardContext
    from wizard.diagnosis import Diagnosis


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


# Each step's checks (None: the step has none of its own). Both front-ends run the same function for a step.
Check = Callable[["WizardContext", "Progress"], "list[Diagnosis]"]


def _checks() -> dict[str, Check | None]:
    from wizard.steps import authenticator, backups, connect, domain, environment, https, limits, ssh

    return {
        "connect": connect.connect,
        "authenticator": authenticator.access_checks,
        "domain": domain.domain_checks,
        "https": https.https_checks,
        "limits": limits.limits_checks,
        "environment": environment.environment_checks,
        "backups": backups.backups_checks,
        "ssh": ssh.ssh_checks,
        "review": None,
        "done": None,
    }


CHECKS: dict[str, Check | None] = _checks()
