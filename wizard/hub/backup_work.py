"""The Backups step's remote work as a sub-plan of the apply (``wizard.hub.work``): the backup bundle of TLJH's
``config/`` and ``state/`` (``wizard.hub.backup.pull``), pulled to this machine as the apply's first action, before
anything on the hub changes. It only reads the hub; a rollback has nothing to undo (the bundle stays here, 0600)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wizard.diagnosis import Diagnosis, Status
from wizard.hub.work import BEFORE, PlanOptions, RemoteWork, WorkContext, WorkFailed


class BackupWork(RemoteWork):
    name = "backups"
    stage = BEFORE
    rollback = "nothing to undo: the bundle stays on this machine (0600), the hub was only read"

    def __init__(self, directory: Path | None, label: str):
        super().__init__()
        self.directory, self.label = directory, label
        where = str(directory) if directory is not None else "the session's backups folder"
        self.actions.append(("backup-bundle", f"pull a backup bundle of TLJH's config/ and state/ to {where} "
                                              "(0600, its sha256 beside it) before any change"))

    def run(self, action_id: str, ctx: WorkContext) -> Diagnosis:
        from wizard.hub import backup

        directory = self.directory or Path(ctx.local_dir) / "backups"
        ctx.output("pulling TLJH's config and state")
        try:
            bundle = backup.pull(ctx.target, directory, label=self.label)
        except OSError as exc:  # this machine's disk: the apply stops before any change
            raise WorkFailed(Diagnosis("apply.backup-bundle", Status.ERROR,
                                       f"the backup bundle could not be saved in {directory}: {exc}")) from None
        if ctx.session is not None:
            ctx.session.record("backups.last_bundle", {"path": str(bundle.path), "sha256": bundle.sha256})
        return Diagnosis("apply.backup-bundle", Status.OK, f"bundle {bundle.path.name} (sha256 "
                         f"{bundle.sha256[:12]}…)", details=f"saved as {bundle.path} (0600)")


def build(answers: Any, target: Any, session: Any, options: PlanOptions) -> BackupWork | None:
    """The bundle's sub-plan when the answers ask for one (``backups.pull_bundle``, on by default) and the Backups
    step is not skipped. ``wizard.hub.apply.build_plan`` adds it only when something else in the plan changes."""
    if "backups" in answers.skipped or not answers.get("backups.pull_bundle"):
        return None
    folder = answers.get("backups.bundle_dir")
    return BackupWork(Path(folder).expanduser() if folder else None, options.host or target.name)
