"""Remote work in the reviewed plan: every change an apply makes to a hub besides config.yaml is a sub-plan here.

Protocol (for anyone adding remote work — package installs, backups, SSH access, certificates):

- A sub-plan is a ``RemoteWork`` (subclass it). It is built READ-ONLY by a builder (below) from the answers, the
  target and the session; nothing on the hub may change while it is built (a dry run such as ``conda install
  --dry-run`` is fine). Its fields:
  - ``name``: the part of the hub it changes ("backups", "environment", "https", "ssh"), shown on Review;
  - ``stage``: ``BEFORE`` (runs before config.yaml is backed up and written: the backup bundle, package installs,
    certificate files that the new config.yaml points at) or ``AFTER`` (runs once the new config.yaml is in place,
    reloaded and verified: SSH access, work that needs the new hub running);
  - ``actions``: ``[(id, title), ...]`` in order. Ids are unique in the whole plan (prefix them with the name) and
    are what the journal and progress report; titles are what Review and ``apply --dry-run`` list, one line each
    (further lines indented);
  - ``refusals``: why these answers cannot be applied on this hub (non-empty: the whole plan is refused before
    anything runs, each reason shown as ``NAME: reason``);
  - ``rollback``: one sentence saying what a rollback does for this part ("the environment goes back to the
    snapshot frozen before the install", "nothing: the bundle stays on this machine"); shown on Review.
- ``run(action_id, ctx) -> str | Diagnosis``: do ONE action (``ctx``: ``WorkContext``). Return a one-line detail (or
  a ``Diagnosis``: OK/WARNING/SKIPPED count as done and are kept as the apply's findings). Failure: raise a
  ``HubError`` (``WorkFailed`` carries a Diagnosis), or return a Diagnosis with status ERROR. Long commands go through
  ``ctx.target.run`` so a stop (``Applier.stop``) interrupts them and kills them on the hub; a sub-plan must not
  swallow ``CommandCancelled``.
- ``roll_back(done, ctx) -> list[str]``: undo the actions in ``done`` (ids, in the order they ran); return the
  problems (each one line), [] when all went back. Called once, after a failure or a stop anywhere in the apply, for
  every sub-plan with at least one action done, in the reverse order of the plan; config.yaml is rolled back between
  the AFTER and the BEFORE parts. The default undoes nothing.

The applier (``wizard.hub.apply.Applier``) journals each action like config.yaml's (intent before, outcome after, in
the session), reports progress ``(action id, start/done/failed/rollback, detail)``, checks for a stop between
actions, and runs the rollbacks. Order of a whole apply: BEFORE sub-plans (in ``BUILDERS`` order), config.yaml's
actions (backup, write, reloads, verify, smoke), AFTER sub-plans.

Builders: ``BUILDERS`` names functions ``build(answers, target, session, options) -> RemoteWork | None`` (or a list
of parts, e.g. one BEFORE and one AFTER; module:function, imported when a plan is made). A part with a ``first_text``
(not None) asks config.yaml's ``write-config`` to write that text first; the part itself writes the final file later
(Let's Encrypt's staging CA, then production: ``wizard.https.work``). ``options`` is a ``PlanOptions``. ``wizard.hub.apply.build_plan`` calls every
builder and puts the sub-plans with actions or refusals into ``Plan.work``. A builder may raise ``HubError``: the
plan is then refused with that message. The backup bundle is added last and only when something else changes.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from wizard.diagnosis import Diagnosis

from wizard.hub.target import HubError

BEFORE, AFTER = "before", "after"

# module:function of each builder, in the order their BEFORE (or AFTER) work runs.
BUILDERS: list[str] = [
    "wizard.environment.work:build",
    "wizard.https.work:build",
    "wizard.hub.apply:build_ssh_work",
]


class WorkFailed(HubError):
    """An action of a sub-plan failed; ``diagnosis`` says how (shown as the action's outcome)."""

    def __init__(self, diagnosis: Diagnosis) -> None:
        super().__init__(diagnosis.summary)
        self.diagnosis = diagnosis


@dataclass
class PlanOptions:
    """What a builder may need besides the answers: ``sandbox`` (the demo's sandbox hub: no sshd, no accounts),
    ``local_dir`` (this machine's folder for the session's files: snapshots, bundles), ``host`` (the session name),
    ``sshd_paths`` (a test rig's own sshd files), ``extra`` (anything a front-end passes through), ``config`` (the
    config.yaml part of the plan, ``wizard.hub.apply.Plan``, set by ``build_plan`` before the builders run: its
    ``old_text`` / ``new_text`` without another read of the hub)."""

    sandbox: bool = False
    local_dir: Path | None = None
    host: str | None = None
    sshd_paths: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
    config: Any = None


@dataclass
class WorkContext:
    """What an action runs with: the hub, the session (journal, store, ``record``), this machine's folder for the
    session's files, ``output(line)`` for live progress lines, and the config plan (``wizard.hub.apply.Plan``)."""

    target: Any
    session: Any
    local_dir: Path
    output: Callable[[str], None]
    plan: Any = None


class RemoteWork:
    """One sub-plan of remote work. See the module docstring for the protocol."""

    name: str = "work"
    stage: str = BEFORE
    rollback: str = "nothing is undone"
    first_text: str | None = None  # what config.yaml's write-config writes first (see the module docstring)

    def __init__(self) -> None:
        self.actions: list[tuple[str, str]] = []
        self.refusals: list[str] = []
        self.findings: list[Diagnosis] = []  # read-only findings made while planning (shown with the plan)

    def run(self, action_id: str, ctx: WorkContext) -> str | Diagnosis:  # pragma: no cover - the protocol
        raise NotImplementedError

    def roll_back(self, done: list[str], ctx: WorkContext) -> list[str]:
        return []

    def lines(self) -> list[str]:
        return [title for _id, title in self.actions]


Builder = Callable[[Any, Any, Any, PlanOptions], "RemoteWork | None"]


def builders() -> list[Builder]:
    """The builders named in ``BUILDERS``, imported."""
    out: list[Builder] = []
    for spec in BUILDERS:
        module, _, function = spec.partition(":")
        out.append(getattr(importlib.import_module(module), function))
    return out
