"""Step 7, Backups: where /home lives, provider snapshot guidance, and a bundle of TLJH's config and state."""

from __future__ import annotations

from screens.step import StepScreen


class BackupsScreen(StepScreen):
    step_id = "backups"
    intro = ("Where /home lives and whether its disk has snapshots; before any change the wizard can pull a "
             "bundle of TLJH's config and state (hub database, secrets, certificates) to this machine.")
