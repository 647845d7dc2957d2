"""Base environment: the user environment's summary, a dry run of the installs the answers ask for, and the step's
action: plan a restore of the newest snapshot. Read-only: apply runs the installs, the freeze and the restore."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wizard.context import Progress, WizardContext, no_progress
from wizard.diagnosis import Diagnosis, Status
from wizard.steps.connect import ensure_target

if TYPE_CHECKING:
    from wizard.environment.restore import RestorePlan


def environment_checks(ctx: WizardContext, progress: Progress = no_progress) -> list[Diagnosis]:
    """The environment's summary and a dry run of the installs the answers ask for. Read-only: installs, the freeze
    and a restore are actions of the reviewed plan, run by apply (``wizard.environment.work``)."""
    from wizard.environment.step import dry_run_installs, summary_diagnoses

    missing = ensure_target(ctx, progress)
    if missing:
        return missing
    progress("environment", "reading the user environment")
    return summary_diagnoses(ctx.hub) + dry_run_installs(ctx.hub, ctx.answers, progress)


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
    """Put the confirmed restore into the answers (``environment.restore``): apply runs it, after Review."""
    ctx.session.accept("environment.restore", plan.snapshot.id)
    return [Diagnosis("environment.restore", Status.OK, f"restore of snapshot {plan.snapshot.id} planned: it runs "
                      "when you apply, after Review (nothing was changed on the hub)", details=plan.render())]
