"""Step 7, Backups: where /home lives, provider snapshot guidance, and a bundle of TLJH's config and state."""

from __future__ import annotations

from screens.step import StepScreen
from wizard.steps import backups as step_engine


class BackupsScreen(StepScreen):
    step_id = "backups"
    intro = ("Where /home lives and whether its disk has snapshots; before any change the wizard can pull a "
             "bundle of TLJH's config and state (hub database, secrets, certificates) to this machine.")
    check = staticmethod(step_engine.backups_checks)
