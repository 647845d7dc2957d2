"""Backups: where /home lives, the backup bundle (pulled by apply, first), and whether provider snapshots are
confirmed."""

from __future__ import annotations

from wizard.context import Progress, WizardContext, no_progress
from wizard.diagnosis import Diagnosis, Status
from wizard.steps.connect import ensure_target


def backups_checks(ctx: WizardContext, progress: Progress = no_progress) -> list[Diagnosis]:
    """Where /home lives, and whether a backup bundle is pulled at apply (its first action). Read-only."""
    from wizard.hub import backup

    missing = ensure_target(ctx, progress)
    if missing or ctx.facts is None:  # (connected: the facts are there)
        return missing
    out = [backup.home_report(ctx.facts)]
    answers = ctx.answers
    if answers.get("backups.pull_bundle"):
        where = answers.get("backups.bundle_dir") or ctx.session.dir / "backups"
        out.append(Diagnosis("backups.bundle", Status.OK, f"a backup bundle is pulled to {where} as the apply's "
                             "first action, before anything on the hub changes"))
    if not answers.get("backups.snapshots_confirmed"):
        out.append(Diagnosis("backups.snapshots", Status.WARNING, "provider snapshots of /home are not confirmed",
                             fix="schedule disk snapshots at your provider, then confirm it here"))
    return out

