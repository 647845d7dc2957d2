"""Step 6, Base environment: the user environment's summary, optional installs, and a freeze to restore later."""

from __future__ import annotations

from screens import engines
from screens.step import StepScreen


class EnvironmentScreen(StepScreen):
    step_id = "environment"
    intro = ("The conda environment every user shares (/opt/tljh/user). Freeze it to get an exact snapshot you can "
             "diff and restore after a bad install.")
    check = staticmethod(engines.environment_checks)
