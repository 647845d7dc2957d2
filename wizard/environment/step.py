"""Step 6 for the front-ends: a read-only summary for the screen, and the apply part (installs, then a freeze).

Both return ``Diagnosis`` lists; ``progress(phase, message)`` receives the installs' output line by line.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from wizard.diagnosis import Diagnosis, Status

if TYPE_CHECKING:
    from wizard.hub.target import HubTarget


Progress = Callable[[str, str], None]


def summary_diagnoses(target: HubTarget) -> list[Diagnosis]:
    """What the user environment holds (one round trip), and anything that could not be read."""
    from wizard.environment.summary import StreamError, gather

    try:
        environment = gather(target)
    except StreamError as exc:
        return [Diagnosis("environment.summary", Status.ERROR, str(exc))]
    lines = environment.summary_lines()
    summary = (f"Python {environment.python or '?'}, {len(environment.conda)} conda packages, "
               f"{len(environment.pip)} pip-only packages, conda revision "
               f"{environment.revision if environment.revision is not None else '?'}")
    return [Diagnosis("environment.summary", Status.OK, summary, details="\n".join(lines),
                      data={"python": environment.python, "conda": len(environment.conda),
                            "pip": len(environment.pip), "revision": environment.revision}),
            *environment.problems]


def apply_environment(target: HubTarget, answers: Any, local_dir: Path, host: str | None = None,
                      progress: Progress | None = None) -> list[Diagnosis]:
    """Install the answers' conda then pip packages (each frozen before), then freeze if the answers ask to."""
    from wizard.environment.install import install_packages
    from wizard.environment.snapshot import freeze_hub

    def relay(stream: str, line: str) -> None:
        if progress:
            progress("environment", line)

    out: list[Diagnosis] = []
    for manager in ("conda", "pip"):
        specs = answers.get(f"environment.{manager}_packages") or []
        if specs:
            outcome = install_packages(target, manager, list(specs), local_dir, host, on_output=relay)
            out.append(outcome.diagnosis)
            if outcome.diagnosis.status is Status.ERROR:
                return out
    if answers.get("environment.freeze"):
        snapshot, environment = freeze_hub(target, local_dir, host)
        out.append(Diagnosis("environment.freeze", Status.OK,
                             f"frozen as snapshot {snapshot.id} ({len(snapshot.conda)} conda, {len(snapshot.pip)} "
                             "pip-only packages)", data={"snapshot": snapshot.id, "checksum": snapshot.checksum}))
        out.extend(environment.problems)
    return out
