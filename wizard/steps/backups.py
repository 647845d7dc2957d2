"""Backups: where /home lives, the backup bundle pulled to this machine, and whether provider snapshots are
confirmed."""

from __future__ import annotations

from pathlib import Path

from wizard.context import Progress, WizardContext, no_progress
from wizard.diagnosis import Diagnosis, Status
from wizard.steps.connect import ensure_target


def backups_checks(ctx: WizardContext, progress: Progress = no_progress) -> list[Diagnosis]:
    """Where /home lives, and the backup bundle pulled to this machine when the answers ask for it."""
    from wizard.hub import backup
    from wizard.hub.target import HubError

    missing = ensure_target(ctx, progress)
    if missing or ctx.facts is None:  # (connected: the facts are there)
        return missing
    out = [backup.home_report(ctx.facts)]
    answers = ctx.answers
    if answers.get("backups.pull_bundle"):
        directory = Path(answers.get("backups.bundle_dir") or ctx.session.dir / "backups").expanduser()
        progress("backup", "pulling TLJH's config and state")
        try:
            bundle = backup.pull(ctx.hub, directory)
        except (HubError, OSError) as exc:
            out.append(Diagnosis("backups.bundle", Status.ERROR, f"the backup bundle could not be pulled: {exc}"))
        else:
            ctx.session.record("backups.last_bundle", {"path": str(bundle.path), "sha256": bundle.sha256})
            out.append(Diagnosis("backups.bundle", Status.OK, f"bundle {bundle.path.name} (sha256 "
                                 f"{bundle.sha256[:12]}…)", details=f"saved as {bundle.path} (0600)"))
    if not answers.get("backups.snapshots_confirmed"):
        out.append(Diagnosis("backups.snapshots", Status.WARNING, "provider snapshots of /home are not confirmed",
                             fix="schedule disk snapshots at your provider, then confirm it here"))
    return out

