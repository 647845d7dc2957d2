"""Limits: idle-culling sanity and the sizing calculator against the VM's facts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wizard.context import Progress, WizardContext, no_progress
from wizard.diagnosis import Diagnosis, Status
from wizard.steps.connect import facts_needed

if TYPE_CHECKING:
    from wizard import limits


def limits_checks(ctx: WizardContext, progress: Progress = no_progress) -> list[Diagnosis]:
    """Culling sanity and, when the sizing inputs are answered, the sizing calculator against the VM's facts."""
    from wizard import limits

    values = ctx.answers.section("limits")
    out: list[Diagnosis] = facts_needed(ctx, progress)
    if values.get("cull_enabled", True):
        out.extend(limits.check_culling(values["cull_timeout"], values["cull_every"], values["cull_max_age"]))
    missing = [label for key, label in (("total_users", "Total users"), ("memory", "Memory per user"),
                                        ("cpu", "CPUs per user")) if values.get(key) in (None, "")]
    if missing:
        out.append(Diagnosis("limits.sizing", Status.SKIPPED, f"sizing not run: answer {', '.join(missing)} to size "
                             "the VM"))
        return out
    inputs = limits.SizingInputs(
        total_users=values["total_users"], active_share=values["active_share"],
        memory_per_user=limits.parse_memory(values["memory"]), cpu_per_user=float(values["cpu"]),
        disk_per_user=limits.parse_memory(values["disk_per_user"]), headroom=values["headroom"])
    sizing = limits.size_hub(inputs, host_facts_for_sizing(ctx))
    out.extend(sizing.diagnoses)
    out.append(Diagnosis("limits.suggestion", Status.OK, f"suggested VM: {sizing.suggestion}",
                         details=f"{sizing.concurrent_users} users at once need {limits.format_gb(sizing.ram)} "
                                 f"RAM, {sizing.cpus:g} CPUs and {limits.format_gb(sizing.disk)} disk."))
    return out


def host_facts_for_sizing(ctx: WizardContext) -> limits.HostFacts:
    """The sizing calculator's view of the VM (RAM, CPUs, /home's size) from the host facts; empty without them."""
    from wizard import limits

    facts = ctx.facts
    if facts is None:
        return limits.HostFacts()
    home = (facts.disks or {}).get("home") or {}
    return limits.HostFacts(ram=facts.ram_bytes, cpus=facts.cpus, disk=home.get("total"))

