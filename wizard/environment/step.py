"""Step 6 for the front-ends, read-only: the user environment's summary and a dry run of the installs.

Both return ``Diagnosis`` lists. Installs, the freeze and a restore are apply's actions (``wizard.environment.work``).
"""

from __future__ import annotations

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


def dry_run_argv(prefix: str, manager: str, specs: list[str]) -> list[str]:
    """What the check runs: the install as a dry run, which resolves the packages and changes nothing
    (``conda install --dry-run``; ``pip install --dry-run --no-cache-dir``, pip 22.2 or later)."""
    user = f"{str(prefix).rstrip('/')}/user"
    if manager == "conda":
        return [f"{user}/bin/conda", "install", "--dry-run", "--yes", "--prefix", user, *specs]
    return [f"{user}/bin/python", "-m", "pip", "install", "--dry-run", "--no-cache-dir", "--no-input", *specs]


def dry_run_installs(target: HubTarget, answers: Any, progress: Progress | None = None) -> list[Diagnosis]:
    """Whether the installs the answers ask for would resolve on the hub: a dry run of each (read-only). The installs
    themselves are actions of the reviewed plan (``wizard.environment.work``)."""
    from wizard.fields import ValidationError, package_spec
    from wizard.hub.target import HubError

    if "environment" in getattr(answers, "skipped", ()):
        return []
    out: list[Diagnosis] = []
    for manager in ("conda", "pip"):
        raw = answers.get(f"environment.{manager}_packages") or []
        if not raw:
            continue
        try:
            specs = [package_spec(spec) for spec in raw]
        except ValidationError as exc:
            out.append(Diagnosis(f"environment.{manager}", Status.ERROR, str(exc)))
            continue
        if progress:
            progress("environment", f"{manager}: resolving {' '.join(specs)} (dry run)")
        try:
            result = target.run(dry_run_argv(str(target.prefix), manager, specs), sudo=True, timeout=600)
        except HubError as exc:
            out.append(Diagnosis(f"environment.{manager}", Status.WARNING, f"{manager} dry run did not finish: {exc}"))
            continue
        if result.ok:
            out.append(Diagnosis(f"environment.{manager}", Status.OK, f"{manager} can install {' '.join(specs)}: "
                                 "installed when you apply, after Review (the environment frozen first)"))
        else:
            tail = result.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
            out.append(Diagnosis(f"environment.{manager}", Status.WARNING, f"{manager} install {' '.join(specs)} "
                                 f"would fail on the hub (dry run: exit status {result.exit_status})",
                                 details="\n".join(tail), fix="check the names and versions"))
    return out
