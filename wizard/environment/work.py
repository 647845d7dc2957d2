"""The Base environment step's remote work as a sub-plan of the apply (``wizard.hub.work``): a restore of a snapshot,
conda then pip installs, and the freeze — run by apply, never by the step itself.

Actions, in order (each only when the answers ask for it and the hub needs it):
- ``env-restore``: the live environment back to ``environment.restore`` (a snapshot id on the hub, or ``newest``);
  the plan (``wizard.environment.restore.plan_restore``) is made read-only when the apply is planned.
- ``env-conda`` / ``env-pip``: ``conda install --yes --prefix PREFIX/user SPEC...`` /
  ``PREFIX/user/bin/python -m pip install --no-input SPEC...`` as root, output streamed.
- ``env-freeze``: an exact snapshot (``wizard.environment.snapshot.freeze_hub``), stored on the hub and locally;
  only when something was installed or restored, or the live environment differs from the newest snapshot.
Before the first action that changes packages the environment is frozen (a snapshot), so a rollback — after a
failure or a stop anywhere in the apply — restores exactly that snapshot (conda revision or exact builds, pip pins).
Snapshots taken stay: they are records, not changes to the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wizard.diagnosis import Diagnosis, Status
from wizard.hub.work import BEFORE, PlanOptions, RemoteWork, WorkContext, WorkFailed

INSTALL_TIMEOUT = 3600.0
NEWEST = "newest"


class EnvironmentWork(RemoteWork):
    name = "environment"
    stage = BEFORE
    rollback = "nothing to undo: a snapshot only records the environment (it stays)"
    CHANGING = ("the user environment goes back to the snapshot frozen before its first change (conda revision or "
                "exact builds, pip pins); snapshots taken stay")

    def __init__(self, prefix: str, host: str):
        super().__init__()
        self.prefix, self.host = prefix, host
        self.specs: dict[str, list[str]] = {}
        self.restore_plan: Any = None  # wizard.environment.restore.RestorePlan
        self.before: Any = None  # the snapshot frozen before the first change (the rollback's target)

    def run(self, action_id: str, ctx: WorkContext) -> Diagnosis:
        local = Path(ctx.local_dir) / "environment"
        if action_id == "env-freeze":
            from wizard.environment.snapshot import freeze_hub

            snapshot, environment = freeze_hub(ctx.target, local, self.host)
            return Diagnosis("apply.env-freeze", Status.OK, f"frozen as snapshot {snapshot.id} ({len(snapshot.conda)} "
                             f"conda, {len(snapshot.pip)} pip-only packages)",
                             data={"snapshot": snapshot.id, "checksum": snapshot.checksum})
        self._freeze_before(ctx, local)
        if action_id == "env-restore":
            from wizard.environment.restore import execute

            outcome = execute(self.restore_plan, ctx.target, confirm=lambda _plan: True,
                              on_output=lambda _stream, line: ctx.output(line))
            diagnosis = outcome.diagnosis
            return Diagnosis("apply.env-restore", diagnosis.status, diagnosis.summary, diagnosis.details,
                             diagnosis.fix)
        manager = "conda" if action_id == "env-conda" else "pip"
        from wizard.environment.install import install_argv

        specs = self.specs[manager]
        result = ctx.target.run(install_argv(str(ctx.target.prefix), manager, specs), sudo=True,
                                timeout=INSTALL_TIMEOUT, on_output=lambda _stream, line: ctx.output(line))
        if not result.ok:
            tail = result.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
            raise WorkFailed(Diagnosis(f"apply.{action_id}", Status.ERROR, f"{manager} install {' '.join(specs)} "
                                       f"failed (exit status {result.exit_status})", details="\n".join(tail)))
        return Diagnosis(f"apply.{action_id}", Status.OK, f"installed {' '.join(specs)} with {manager}")

    def _freeze_before(self, ctx: WorkContext, local: Path) -> None:
        if self.before is not None:
            return
        from wizard.environment.snapshot import freeze_hub

        self.before, _environment = freeze_hub(ctx.target, local, self.host)
        ctx.output(f"frozen the environment as snapshot {self.before.id} before changing it")

    def roll_back(self, done: list[str], ctx: WorkContext) -> list[str]:
        if self.before is None or not set(done) & {"env-restore", "env-conda", "env-pip"}:
            return []
        from wizard.environment.restore import execute, plan_restore
        from wizard.environment.summary import gather

        back = plan_restore(self.before, gather(ctx.target))
        outcome = execute(back, ctx.target, confirm=lambda _plan: True,
                          on_output=lambda _stream, line: ctx.output(line))
        if outcome.diagnosis.status in (Status.OK,):
            return []
        return [f"back to snapshot {self.before.id}: {outcome.diagnosis.summary}"
                + (f" ({outcome.diagnosis.details})" if outcome.diagnosis.details else "")]


def satisfied(spec: str, live: Any) -> bool:
    """Whether the live environment already has ``spec``: a bare name that is installed, or ``name==V`` / ``name=V``
    with exactly that version. Anything else (ranges, channels, extras) counts as not satisfied: it is installed
    (conda and pip then decide)."""
    import re

    from wizard.environment.summary import canonical_name

    match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:==?([A-Za-z0-9._+!-]+))?", spec.strip())
    if not match:
        return False
    name, version = canonical_name(match.group(1)), match.group(2)
    found = {canonical_name(p.name): p.version for p in [*live.conda.values(), *live.pip.values()]}
    return name in found and (version is None or found[name] == version)


def requested(answers: Any) -> bool:
    """Whether the answers ask the environment step for remote work at all."""
    if "environment" in answers.skipped:
        return False
    return bool(answers.get("environment.conda_packages") or answers.get("environment.pip_packages")
                or answers.get("environment.freeze") or answers.get("environment.restore"))


def _changes(work: EnvironmentWork) -> None:
    """A plan that changes packages says so in what its rollback does."""
    if any(aid in ("env-restore", "env-conda", "env-pip") for aid, _title in work.actions):
        work.rollback = EnvironmentWork.CHANGING


def build(answers: Any, target: Any, session: Any, options: PlanOptions) -> EnvironmentWork | None:
    """The environment's sub-plan for these answers on this hub (read-only: at most two round trips, the live
    environment and the snapshots on the hub). None when the answers ask for nothing."""
    if not requested(answers):
        return None
    from wizard.environment.snapshot import hub_snapshots
    from wizard.environment.summary import StreamError, gather
    from wizard.fields import ValidationError, package_spec

    work = EnvironmentWork(str(target.prefix), options.host or target.name)
    user = f"{str(target.prefix).rstrip('/')}/user"
    for manager in ("conda", "pip"):
        raw = answers.get(f"environment.{manager}_packages") or []
        try:
            work.specs[manager] = [package_spec(spec) for spec in raw]
        except ValidationError as exc:
            work.refusals.append(f"environment.{manager}_packages: {exc}")
    wanted = answers.get("environment.restore")
    try:
        live = gather(target)
    except StreamError as exc:
        work.refusals.append(f"the user environment cannot be read: {exc}")
        return work
    snapshots: list[Any] = []
    if wanted or answers.get("environment.freeze"):
        snapshots, _broken = hub_snapshots(target)
    if wanted:
        from wizard.environment.restore import plan_restore

        chosen = snapshots[-1] if wanted == NEWEST and snapshots else next(
            (s for s in snapshots if s.id == wanted), None)
        if chosen is None:
            work.refusals.append(f"environment.restore: no snapshot {wanted!r} on the hub"
                                 + (f" (it has {', '.join(s.id for s in snapshots[-3:])})" if snapshots else
                                    " (it has none: freeze first)"))
        else:
            try:
                restore = plan_restore(chosen, live)
            except ValidationError as exc:
                work.refusals.append(f"environment.restore: {exc}")
                restore = None
            if restore is not None and restore.changes and restore.empty:
                work.refusals.append(f"environment.restore: the differences from snapshot {chosen.id} cannot be "
                                     "restored: " + "; ".join(restore.notes))
            elif restore is not None and not restore.empty:
                work.restore_plan = restore
                steps = "\n".join(f"     {line}" for line in restore.render().rstrip("\n").splitlines()[1:])
                work.actions.append(("env-restore", f"restore the user environment to snapshot {chosen.id} "
                                     f"({len(restore.steps)} command(s); frozen first)\n{steps}"))
            elif restore is not None:
                work.findings.append(Diagnosis("environment.restore", Status.OK,
                                               f"the environment already matches snapshot {chosen.id}"))
    for manager in ("conda", "pip"):
        missing = [spec for spec in work.specs.get(manager, []) if not satisfied(spec, live)]
        if work.specs.get(manager) and not missing:
            work.findings.append(Diagnosis(f"environment.{manager}", Status.OK, f"already installed: "
                                           f"{' '.join(work.specs[manager])}"))
        work.specs[manager] = missing
    if work.specs.get("conda"):
        work.actions.append(("env-conda", f"conda install {' '.join(work.specs['conda'])} into {user} (the "
                             "environment frozen first)"))
    if work.specs.get("pip"):
        work.actions.append(("env-pip", f"pip install {' '.join(work.specs['pip'])} into {user} (the environment "
                             "frozen first)"))
    _changes(work)
    if answers.get("environment.freeze"):
        from wizard.environment.diff import PackageSet, diff

        current = not work.actions and snapshots and not diff(PackageSet.of_environment(live),
                                                              PackageSet.of_snapshot(snapshots[-1]))
        if current:
            work.findings.append(Diagnosis("environment.freeze", Status.OK, f"the environment matches the newest "
                                           f"snapshot {snapshots[-1].id}: no new freeze needed"))
        else:
            work.actions.append(("env-freeze", "freeze the user environment: an exact snapshot (conda lock with "
                                 "hashes, pip pins, conda revision) on the hub and in the session"))
    return work

