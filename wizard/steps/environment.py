"""Base environment: the user environment's summary, the installs and freeze the answers ask for, and the step's
action: restore the newest snapshot."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wizard.context import Progress, WizardContext, no_progress
from wizard.diagnosis import Diagnosis, Status
from wizard.steps.connect import ensure_target

if TYPE_CHECKING:
    from wizard.environment.restore import RestorePlan


def environment_checks(ctx: WizardContext, progress: Progress = no_progress) -> list[Diagnosis]:
    """The environment's summary, then the installs and freeze the answers ask for."""
    from wizard.environment.step import apply_environment, summary_diagnoses

    missing = ensure_target(ctx, progress)
    if missing:
        return missing
    progress("environment", "reading the user environment")
    target = ctx.hub
    out = summary_diagnoses(target)
    if ctx.answers.get("environment.conda_packages") or ctx.answers.get("environment.pip_packages") \
            or ctx.answers.get("environment.freeze"):
        out += apply_environment(target, ctx.answers, ctx.session.dir / "environment", target.name,
                                 progress=progress)
    return out


def environment_restore_plan(ctx: WizardContext, progress: Progress = no_progress) -> RestorePlan | Diagnosis:
    """The plan that brings the environment back to the newest snapshot on the hub, or a Diagnosis saying why not."""
    from wizard.environment.restore import plan_restore
    from wizard.environment.snapshot import hub_snapshots
    from wizard.environment.summary import gather

    missing = ensure_target(ctx, progress)
    if missing:
        return missing[0]
    progress("environment", "listing the snapshots stored on the hub")
    snapshots, _broken = hub_snapshots(ctx.hub)
    if not snapshots:
        return Diagnosis("environment.restore", Status.WARNING, "no snapshot on the hub yet: freeze first")
    progress("environment", f"comparing the live environment with snapshot {snapshots[-1].id}")
    return plan_restore(snapshots[-1], gather(ctx.hub))


def environment_restore(ctx: WizardContext, plan: RestorePlan, progress: Progress = no_progress) -> list[Diagnosis]:
    """Run a restore plan the operator has confirmed (the confirmation happened in the front-end)."""
    from wizard.environment.restore import execute

    outcome = execute(plan, ctx.hub, confirm=lambda _plan: True,
                      on_output=lambda stream, line: progress("restore", line))
    return [outcome.diagnosis]

