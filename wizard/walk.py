"""The walk through the wizard's steps, declared once for both front-ends (the Textual screens and the plain prompts).

- ``advance(session, step_id, outcome)``: where Next / Back / Skip from a step leads, recorded in the session.
- ``ACTIONS``: each step's extra actions (restore the environment, ...), with their labels
  and confirmation texts, and ``run_action`` that runs one synchronously behind a confirmation callback.
- ``EXPORTS``: what the Done step offers to write.
- ``suggestions``: values a step offers from the host facts before the operator answered (the reserved IP).
- ``pauses``: whether a step's check results must be shown before going on.
- ``step_for_key``: the step that asks an answer key (Review sends the operator back there).

- ``resume_question`` / ``exit_summary``: how a run starts again and what it says when it ends.

The order of the steps themselves is ``wizard.steps.STEPS``; a new step is one entry there, one module of engine
calls in ``wizard/steps/`` (its check in ``wizard.steps.CHECKS``), one screen in ``screens/``; an extra action of a
step is one ``Action`` here. Nothing here imports a UI.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from wizard.context import Progress, WizardContext, describe_target, engine_available, no_progress
from wizard.diagnosis import Diagnosis, Status
from wizard.steps import STEP_IDS, STEPS, next_step, previous_step

if TYPE_CHECKING:
    from wizard.answers import Answers
    from wizard.environment.restore import RestorePlan
    from wizard.session import Session


class Outcome(enum.Enum):
    """How a step ended: its answers accepted (NEXT), left for the previous step (BACK), or skipped (SKIP)."""

    NEXT = "next"
    BACK = "back"
    SKIP = "skip"


def first_step(session: Session, resume: bool) -> str:
    """The step a run starts at: the saved one when resuming, else the first (answers are kept either way)."""
    if resume:
        return session.current_step
    session.go_to(STEP_IDS[0])
    return STEP_IDS[0]


def advance(session: Session, step_id: str, outcome: Outcome, *, failed: bool = False,
            return_to: str | None = None) -> str | None:
    """Record how ``step_id`` ended and return the step to show next (None: the walk is over).

    NEXT marks the step finished (``failed``: continued despite a failed check, marked failed instead) and takes it
    up again if it had been skipped; BACK keeps every saved answer and goes to the previous step (the first step
    stays put); SKIP marks the step's sections skipped (the hub keeps its own settings for them). ``return_to``: a
    later step to go straight back to after NEXT (Review, once the step it sent the operator to is fixed)."""
    if outcome is Outcome.BACK:
        target = previous_step(step_id) or step_id
        session.go_to(target)
        return target
    following = next_step(step_id)
    if outcome is Outcome.SKIP:
        session.skip_step(step_id)
        session.go_to(following or step_id)
        return following
    if step_id in session.skipped_steps:
        session.skip_step(step_id, skipped=False)
    if return_to is not None and STEP_IDS.index(return_to) > STEP_IDS.index(step_id):
        following = return_to
    if following is None:
        session.go_to(step_id, finished=step_id)
        return None
    session.go_to(following, finished=None if failed else step_id, failed=step_id if failed else None)
    return following


def step_for_key(key: str) -> str | None:
    """The step whose form asks ``section.field`` (None for a key no step asks)."""
    section = key.partition(".")[0]
    for item in STEPS:
        if section in item.sections:
            return item.id
    return None


def pauses(diagnoses: list[Diagnosis]) -> bool:
    """Whether check results must be shown before going on: an error or a warning, or a check that did not run (a
    SKIPPED check never counts as passed)."""
    return any(d.status in (Status.ERROR, Status.WARNING, Status.SKIPPED) for d in diagnoses)


# ---------------------------------------------------------------------------------------------------------------
# extra actions


@dataclass(frozen=True)
class Confirmation:
    """What the operator is asked before an action runs: a title, the question (or the plan to run), the buttons."""

    title: str
    body: str
    yes: str
    no: str
    danger: bool = False


@dataclass(frozen=True)
class Action:
    """An extra action of a step, run only after the operator confirms it.

    ``applies(answers)``: whether the step offers it for these answers. ``prepare(ctx, progress)``: an optional
    read-only first call whose result (a plan with ``render()`` and ``empty``) is shown in the confirmation, or a
    ``Diagnosis`` saying why there is nothing to confirm. ``run(ctx, [plan,] progress)``: the action, returning its
    diagnoses. ``confirmation(ctx, plan)``: the texts of the question."""

    id: str
    step: str
    label: str
    confirmation: Callable[[WizardContext, Any], Confirmation]
    run: Callable[..., list[Diagnosis]]
    prepare: Callable[..., Any] | None = None
    applies: Callable[[Answers], bool] = lambda answers: True
    declined: str = "not confirmed: nothing run"


def _restore_confirmation(_ctx: WizardContext, plan: RestorePlan) -> Confirmation:
    return Confirmation("Restore this snapshot when you apply?", plan.render() + "\nNothing changes now: the restore "
                        "is an action of the reviewed plan, run by apply.", yes="Restore at apply", no="Cancel",
                        danger=True)


def _restore_plan(ctx: WizardContext, progress: Progress) -> RestorePlan | Diagnosis:
    from wizard.steps import environment

    return environment.environment_restore_plan(ctx, progress)


def _restore(ctx: WizardContext, plan: RestorePlan, progress: Progress) -> list[Diagnosis]:
    from wizard.steps import environment

    return environment.environment_restore(ctx, plan, progress)


ACTIONS: tuple[Action, ...] = (
    Action("restore", "environment", "Restore the newest snapshot…", _restore_confirmation, _restore,
           prepare=_restore_plan, declined="restore not confirmed: nothing planned"),
)


def actions(step_id: str, answers: Answers | None = None) -> list[Action]:
    """The extra actions of a step (those that apply to ``answers`` when given), in the order they are offered."""
    return [a for a in ACTIONS if a.step == step_id and (answers is None or a.applies(answers))]


def action(step_id: str, action_id: str) -> Action:
    for item in ACTIONS:
        if item.step == step_id and item.id == action_id:
            return item
    raise KeyError(f"{step_id}.{action_id}")


def run_action(ctx: WizardContext, item: Action, confirm: Callable[[Confirmation], bool],
               progress: Progress = no_progress) -> list[Diagnosis]:
    """Prepare, confirm and run ``item`` (blocking; the plain front-end calls this, the screens run the same pieces
    in workers). A plan with nothing to do runs without a question; a declined confirmation runs nothing and says so
    (a SKIPPED diagnosis)."""
    args: tuple[Any, ...] = ()
    plan = None
    if item.prepare is not None:
        plan = item.prepare(ctx, progress)
        if isinstance(plan, Diagnosis):
            return [plan]
        if isinstance(plan, list):  # diagnoses saying why there is no plan
            return plan
        args = (plan,)
    if plan is None or not getattr(plan, "empty", False):
        if not confirm(item.confirmation(ctx, plan)):
            return [Diagnosis(f"{item.step}.{item.id}", Status.SKIPPED, item.declined)]
    return item.run(ctx, *args, progress)


# ---------------------------------------------------------------------------------------------------------------
# the Done step


@dataclass(frozen=True)
class Export:
    """One file the Done step offers to write (``wizard.steps.done.export(ctx, kind, directory)``)."""

    kind: str
    label: str

    def available(self) -> bool:
        if self.kind != "z2jh":
            return True
        return engine_available("wizard.z2jh")


EXPORTS: tuple[Export, ...] = (
    Export("answers", "Answers"),
    Export("secrets", "Secrets (0600)"),
    Export("tljh", "TLJH config.yaml"),
    Export("z2jh", "Z2JH values + secrets"),
)
EXPORT_DIR = "tljh-wizard-exports"


def write_export(ctx: WizardContext, kind: str, directory: Path) -> list[Path]:
    """Write one export into ``directory`` (``wizard.steps.done.export``); the Z2JH one is the chart's values and
    its secrets overlay in a folder of their own (``wizard.steps.done.export_z2jh``). Returns the paths written."""
    from wizard.steps import done

    if kind == "z2jh":
        return list(done.export_z2jh(ctx, directory))
    return [done.export(ctx, kind, directory)]


# ---------------------------------------------------------------------------------------------------------------
# values offered from the host facts


def suggestions(ctx: WizardContext, step_id: str) -> dict[str, Any]:
    """Values a step offers for unanswered fields from the host facts: the reserved IPv4 is the public IPv4 the hub
    reports (``wizard.hub.facts``: metadata service or the outbound address). Shown, never saved until accepted."""
    out: dict[str, Any] = {}
    if step_id == "domain":
        public_ip = getattr(ctx.facts, "public_ip", None)
        if public_ip and public_ip != "unknown" and ":" not in str(public_ip) \
                and not ctx.answers.answered("domain.reserved_ipv4"):
            out["domain.reserved_ipv4"] = str(public_ip)
    return out


def steps_to_fix(problems: list[str]) -> list[str]:
    """The steps that ask the answers Review refused, in step order. ``problems`` are Review's lines, each
    ``section.field: message`` (``wizard.fields.ValidationError``) or ``section: message``."""
    found = {step_for_key(line.partition(":")[0].strip()) for line in problems}
    return [item for item in STEP_IDS if item in found]


# ---------------------------------------------------------------------------------------------------------------
# where a run starts and how it ends


def exit_summary(ctx: WizardContext, finished: bool) -> str:
    """What a front-end prints when the wizard ends (quit or done): what was applied, what is pending, and the
    commands that go on from here (each one works on this session: ``followups``)."""
    from wizard.steps.done import followups, replay_line

    session = ctx.session
    skipped = set(session.skipped_steps)
    failed = set(session.state.get("failed_steps", [])) - skipped
    done = set(session.state.get("finished_steps", []))
    applied = "review" in done
    # One status per step: a step continued despite a failed check is listed as that, never also as pending.
    pending = [s.title for s in STEPS[:-1] if s.id not in done and s.id not in skipped and s.id not in failed]
    where = "finished" if finished else f"stopped at {_step_title(session.current_step)}"
    lines = [f"tljh-wizard: {where} — {describe_target(ctx)}",
             "  applied: " + ("the reviewed plan (config.yaml, reloads)" if applied else "nothing yet"
                              + (" (the demo's sandbox only)" if ctx.mode == "sandbox" else ""))]
    if skipped:
        lines.append("  skipped (the hub keeps its own settings): " + ", ".join(
            s.title for s in STEPS if s.id in skipped))
    if failed:
        lines.append("  continued despite a failed check: " + ", ".join(s.title for s in STEPS if s.id in failed))
    if pending:
        lines.append("  pending: " + ", ".join(pending))
    lines.append("  next:")
    lines += [f"    {command}   # {text}" for command, text in followups(ctx)]
    if finished or applied:
        lines.append(f"    {replay_line(ctx=ctx)}   # replay without prompts (after Done's Answers and Secrets "
                     "exports)")
    return "\n".join(lines)


def _step_title(step_id: str | None) -> str:
    from wizard.steps import step

    try:
        return step(step_id).title if step_id else "the start"
    except KeyError:
        return str(step_id)


def ago(timestamp: float, now: float | None = None) -> str:
    """'2 h ago' style for the resume prompt."""
    seconds = max(0, (now or time.time()) - timestamp)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"


def resume_question(ctx: WizardContext) -> str | None:
    """'Resume hub.example.edu at HTTPS, stopped 2 h ago?' when the session stopped part-way, else None."""
    from wizard.steps import step

    session = ctx.session
    current = session.current_step
    if current == STEP_IDS[0] and not session.finished_steps:
        return None
    host = "the demo hub" if ctx.mode == "sandbox" else (session.answers.get("connection.host") or session.name)
    return f"Resume {host} at {step(current).title}, stopped {ago(session.state['updated'])}?"

