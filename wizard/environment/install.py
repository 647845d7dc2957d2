"""Install conda or pip packages into the user environment, with live output, frozen first so it can be undone."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from wizard.diagnosis import Diagnosis, Status
from wizard.environment.snapshot import Snapshot, freeze_hub
from wizard.fields import ValidationError, package_spec

if TYPE_CHECKING:
    from wizard.hub.target import HubTarget


INSTALL_TIMEOUT = 3600.0
def install_argv(prefix: str, manager: str, specs: list[str]) -> list[str]:
    user = f"{str(prefix).rstrip('/')}/user"
    if manager == "conda":
        return [f"{user}/bin/conda", "install", "--yes", "--prefix", user, *specs]
    if manager == "pip":
        return [f"{user}/bin/python", "-m", "pip", "install", "--no-input", *specs]
    raise ValidationError(f"expected conda or pip, got {manager!r}")


@dataclass
class InstallOutcome:
    before: Snapshot  # frozen before the install: `env restore HOST ID` brings it back
    diagnosis: Diagnosis


def install_packages(target: HubTarget, manager: str, specs: list[Any], local_dir: Path, host: str | None = None,
                     on_output: Callable[[str, str], None] | None = None) -> InstallOutcome:
    """Freeze, then install ``specs`` with ``manager`` ("conda" or "pip") as root, streaming output."""
    clean = [package_spec(spec) for spec in specs]
    if not clean:
        raise ValidationError("name at least one package to install")
    argv = install_argv(str(target.prefix), manager, clean)
    before, _environment = freeze_hub(target, local_dir, host)
    if on_output:
        on_output("progress", f"frozen the environment as snapshot {before.id} before installing")
    result = target.run(argv, sudo=True, timeout=INSTALL_TIMEOUT, on_output=on_output)
    if not result.ok:
        detail = result.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        return InstallOutcome(before, Diagnosis(
            "environment.install", Status.ERROR, f"{manager} install {' '.join(clean)} failed "
            f"(exit status {result.exit_status})", details="\n".join(detail),
            fix=f"the environment before it is snapshot {before.id}: tljh-wizard env restore HOST {before.id}"))
    return InstallOutcome(before, Diagnosis(
        "environment.install", Status.OK, f"installed {' '.join(clean)} with {manager}",
        fix=f"freeze again to keep this state (the state before is snapshot {before.id})"))
