"""Restore the user environment to a snapshot: a plan shown in full, executed only after confirmation.

Conda packages go back with ``conda install --revision N`` when the snapshot's revision still exists in
``conda-meta/history`` (same number, same date); otherwise by removing what was added since and reinstalling the
snapshot's exact builds from an explicit lock (``URL#sha256`` lines) holding only what changed. pip-only packages
follow: uninstall what pip added since, reinstall the snapshot's pins with ``--no-deps``. Every command is an argv
list run as root through the hub target, output streamed.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from wizard.diagnosis import Diagnosis, Status
from wizard.environment.diff import Change, PackageSet, diff
from wizard.environment.snapshot import Snapshot, hub_dir
from wizard.environment.summary import Environment

if TYPE_CHECKING:
    from wizard.hub.target import HubTarget


STEP_TIMEOUT = 3600.0  # a conda transaction over a slow mirror can take many minutes


@dataclass
class Step:
    title: str
    argv: list[str]
    upload: tuple[str, bytes] | None = None  # (path on the hub, data) written root-only before argv runs

    def render(self) -> str:
        text = f"{self.title}\n    $ sudo {shlex.join(self.argv)}"
        if self.upload:
            text = f"{self.title}\n    write {self.upload[0]} ({len(self.upload[1])} bytes)" + text[len(self.title):]
        return text


@dataclass
class RestorePlan:
    snapshot: Snapshot
    changes: list[Change]  # from the live environment to the snapshot
    method: str  # "none", "revision" or "explicit" (how conda packages go back)
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.steps

    def render(self) -> str:
        lines = [f"Restore plan: the live environment back to snapshot {self.snapshot.id} "
                 f"({self.snapshot.created_text})"]
        if not self.changes:
            lines.append("The environment already matches the snapshot: nothing to do.")
        else:
            lines.append("Changes it makes:")
            lines += [f"  {change.render()}" for change in self.changes]
            if self.steps:
                lines.append("Commands, in order:")
                lines += [f"  {index}. {step.render()}" for index, step in enumerate(self.steps, 1)]
            else:
                lines.append("No command can make these changes (see the notes).")
        lines += [f"Note: {note}" for note in self.notes]
        return "\n".join(lines) + "\n"


def revision_still_exists(snapshot: Snapshot, live: Environment) -> bool:
    """conda can go back to the snapshot's revision: the live history has it, with the same date."""
    if snapshot.conda_revision is None or not snapshot.conda_revision_date:
        return False
    return any(revision.number == snapshot.conda_revision and revision.date == snapshot.conda_revision_date
               for revision in live.revisions)


def _packages(values: list[str]) -> list[str]:
    """Package arguments for conda/pip argv: never an option, whatever a stored snapshot or the hub holds."""
    from wizard.fields import ValidationError

    for value in values:
        if not value or value.startswith("-") or any(c in "\r\n\x00" for c in value):
            raise ValidationError(f"refusing to restore: {value[:60]!r} is not a package (a damaged or altered "
                                  "snapshot?)")
    return values


def plan_restore(snapshot: Snapshot, live: Environment) -> RestorePlan:
    """The steps that turn ``live`` back into ``snapshot``."""
    changes = diff(PackageSet.of_environment(live), PackageSet.of_snapshot(snapshot))
    user = f"{live.prefix}/user"
    conda, python = f"{user}/bin/conda", f"{user}/bin/python"
    conda_changes = [c for c in changes if c.manager == "conda"]
    pip_changes = [c for c in changes if c.manager == "pip"]
    plan = RestorePlan(snapshot, changes, "none")

    if conda_changes and revision_still_exists(snapshot, live):
        plan.method = "revision"
        plan.steps.append(Step(f"conda: back to revision {snapshot.conda_revision} ({snapshot.conda_revision_date})",
                               [conda, "install", "--yes", "--prefix", user, "--revision",
                                str(snapshot.conda_revision)]))
    elif conda_changes:
        plan.method = "explicit"
        if snapshot.conda_revision is not None:
            plan.notes.append(f"conda revision {snapshot.conda_revision} of {snapshot.conda_revision_date} no longer "
                              "exists in conda-meta/history: restoring the exact builds from the lock instead")
        extra = sorted(c.name for c in conda_changes if c.kind == "removed")
        if extra:
            plan.steps.append(Step(f"conda: remove {len(extra)} package(s) added since the snapshot",
                                   [conda, "remove", "--yes", "--prefix", user, "--force", *_packages(extra)]))
        wanted = {c.name for c in conda_changes if c.kind in ("added", "changed")}
        packages = [p for p in snapshot.conda if p.name in wanted]
        lockable = [p for p in packages if p.lock_line]
        for package in packages:
            if not package.lock_line:
                plan.notes.append(f"{package.name} {package.version} cannot be reinstalled: its record had no URL "
                                  "or hash when the snapshot was taken")
        if lockable:
            path = f"{hub_dir(live.prefix)}/restore-{snapshot.id}.explicit.txt"
            lock = "\n".join([f"# restore to snapshot {snapshot.id}", f"# platform: {snapshot.platform}",
                              "@EXPLICIT", *(p.lock_line for p in lockable)]) + "\n"
            plan.steps.append(Step(f"conda: reinstall {len(lockable)} exact build(s) from the snapshot's lock",
                                   [conda, "install", "--yes", "--prefix", user, "--file", path], upload=(path, lock.encode())))

    extra_pip = sorted(c.name for c in pip_changes if c.kind == "removed")
    if extra_pip:
        plan.steps.append(Step(f"pip: uninstall {len(extra_pip)} package(s) installed since the snapshot",
                               [python, "-m", "pip", "uninstall", "--yes", *_packages(extra_pip)]))
    wanted_pip = {c.name for c in pip_changes if c.kind in ("added", "changed")}
    pins = [p.requirement for p in snapshot.pip if p.name in wanted_pip]
    if pins:
        plan.steps.append(Step(f"pip: reinstall {len(pins)} pinned package(s)",
                               [python, "-m", "pip", "install", "--no-deps", *_packages(pins)]))
    if pip_changes and snapshot.python and live.python and snapshot.python != live.python:
        plan.notes.append(f"the snapshot's Python was {snapshot.python}, the hub's is {live.python}: pip packages are "
                          f"installed for {live.python}")
    if snapshot.platform != live.platform:
        plan.notes.append(f"the snapshot was taken on {snapshot.platform}, the hub is {live.platform}: conda "
                          "builds will not install")
    return plan


@dataclass
class Outcome:
    executed: bool
    diagnosis: Diagnosis
    steps_done: int = 0


def execute(plan: RestorePlan, target: HubTarget, confirm: Callable[[RestorePlan], bool],
            on_output: Callable[[str, str], None] | None = None) -> Outcome:
    """Run ``plan`` through ``target`` if and only if ``confirm(plan)`` says yes; stop at the first failed step."""
    if plan.empty:
        if plan.changes:
            return Outcome(False, Diagnosis("environment.restore", Status.WARNING,
                                            "the differences cannot be restored", details="\n".join(plan.notes)))
        return Outcome(False, Diagnosis("environment.restore", Status.OK, "nothing to restore: no differences"))
    if not confirm(plan):
        return Outcome(False, Diagnosis("environment.restore", Status.SKIPPED, "restore not confirmed: nothing run"))
    done = 0
    for step in plan.steps:
        if on_output:
            on_output("progress", step.title)
        if step.upload:
            target.write_file(step.upload[0], step.upload[1], mode=0o600, sudo=True)
        result = target.run(step.argv, sudo=True, timeout=STEP_TIMEOUT, on_output=on_output)
        if not result.ok:
            detail = result.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
            return Outcome(True, Diagnosis(
                "environment.restore", Status.ERROR,
                f"step {done + 1} of {len(plan.steps)} failed ({step.title}): exit status {result.exit_status}",
                details="\n".join(detail),
                fix="the snapshot taken before the restore can bring back the previous state",
            ), done)
        done += 1
    return Outcome(True, Diagnosis("environment.restore", Status.OK,
                                   f"restored to snapshot {plan.snapshot.id} ({done} step(s))"), done)
