"""Step 5, Limits: memory and CPU per user, idle culling, and the sizing calculator held against the VM."""

from __future__ import annotations

from screens.step import StepScreen
from wizard.steps import limits as step_engine


class LimitsScreen(StepScreen):
    step_id = "limits"
    intro = ("Per-user memory and CPU, and idle culling. Give the number of users to size the VM with TLJH's own "
             "formulas against its real RAM, CPUs and disk.")
    check = staticmethod(step_engine.limits_checks)
