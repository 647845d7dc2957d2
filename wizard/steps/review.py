"""Review & apply: the masked diff against the hub's config.yaml with the action list (or the problems that stop
it), and the apply of exactly that reviewed plan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from wizard.context import Progress, WizardContext, no_progress
from wizard.diagnosis import Diagnosis, Status
from wizard.steps.authenticator import access_preview
from wizard.steps.connect import ensure_target
from wizard.steps.rules import hub_tljh_version

if TYPE_CHECKING:
    from wizard.hub.apply import Applier
    from wizard.hub.apply import Plan as HubPlan


@dataclass
class Plan:
    """What Review shows: the plan for the hub, or the problems that stop one."""

    diff: str  # the masked unified diff of config.yaml
    actions: list[str]
    problems: list[str]  # reasons the answers cannot be applied; empty when ready
    engine: HubPlan | None = None  # the hub engine's own plan, which apply executes
    access: str = ""  # who can log in with the new config (the hub's own authenticator code)


def plan(ctx: WizardContext, progress: Progress = no_progress) -> Plan:
    """The masked diff against the hub's config.yaml and the action list; problems name what is still missing."""
    answers = ctx.answers
    problems = [str(p) for p in answers.problems()
                if not (ctx.mode != "ssh" and p.key.startswith("connection."))]
    held = ctx.web_ports_held  # what the HTTPS step found on 80/443 (web_ports_findings)
    if held and answers.get("https.web_ports") != "behind":
        problems.append(f"https.web_ports: {', '.join(held)} holds ports 80/443 on the hub, so TLJH's proxy cannot "
                        "serve there: at the HTTPS step choose Ports 80/443 = behind, or stop it and run the step's "
                        "check again")
    if problems:
        return Plan("", [], problems)
    from wizard.answers import AnswersError
    from wizard.hub import apply as hub_apply
    from wizard.hub.target import HubError

    missing = ensure_target(ctx, progress)
    if missing:
        return Plan("", [], [d.summary for d in missing if d.status is Status.ERROR] or ["the hub is not reachable"])
    progress("plan", "reading config.yaml and the hub's state for every remote action")
    from wizard.hub.work import PlanOptions

    try:
        # The smoke test ends every apply on a real hub (not the demo's sandbox); its credential is installed by the
        # plan when the hub or the session lacks it. Every remote change is an action of this one plan.
        smoke = ctx.mode != "sandbox"
        engine_plan = hub_apply.build_plan(answers, ctx.hub, ctx.session, tljh_version=hub_tljh_version(ctx),
                                           smoke=smoke, options=PlanOptions(sandbox=ctx.mode == "sandbox",
                                                                            extra=https_plan_extra(ctx, progress)))
    except AnswersError as exc:
        return Plan("", [], [str(e) for e in exc.errors])
    except HubError as exc:  # no TLJH under the prefix, an unreadable config.yaml, a lost link
        return Plan("", [], [str(exc)])
    if engine_plan.refusals:
        return Plan("", [], engine_plan.refusals)
    progress("plan", "who can log in with the new config")
    table, blocking = access_preview(ctx, engine_plan.new_text)
    if blocking:  # the preflight: nothing is written while the authenticator would refuse this config
        return Plan("", [], blocking + [table], None, table)
    result = Plan(engine_plan.diff, [a.title for a in engine_plan.steps()], [], engine_plan, table)
    if engine_plan.resuming:
        result.actions.insert(0, f"(completes the unfinished apply {engine_plan.resuming['id']})")
    ctx.last_plan = result
    return result


def https_plan_extra(ctx: WizardContext, progress: Progress = no_progress) -> dict[str, object]:
    """What the HTTPS sub-plan (``wizard.https.work``) needs from this front-end: where the served certificate is
    checked and which CAs are trusted (``RunOptions.letsencrypt_env`` / ``acme_env``: private or test CAs), and the
    DNS check of the ACME modes' gate — re-run when the plan is made, never trusted from an earlier step."""
    from wizard.https.plan import HttpsEnvironment
    from wizard.steps.domain import domain_checks

    def dns_diagnoses() -> list[Diagnosis]:
        progress("dns", "re-running the DNS check (certificate orders are gated on it)")
        return [d for d in domain_checks(ctx, progress) if d.id.startswith("dns.")]

    acme = ctx.options.acme_env
    if acme is None:
        from wizard.https.issue import AcmeEnvironment

        acme = AcmeEnvironment(nameserver_port=ctx.options.nameserver_port)
    return {"https_env": HttpsEnvironment(letsencrypt=ctx.options.letsencrypt_env, acme=acme),
            "dns_diagnoses": dns_diagnoses, "tljh_version": hub_tljh_version(ctx)}


def apply(ctx: WizardContext, progress: Progress = no_progress,
          started: Callable[[Applier], None] | None = None) -> list[Diagnosis]:
    """Execute the reviewed plan: each action's outcome, and what was rolled back on failure. ``started`` receives
    the running ``wizard.hub.apply.Applier`` (a front-end's "stop and roll back" calls its ``stop()``)."""
    from wizard.hub import apply as hub_apply
    from wizard.hub.target import HubError

    reviewed = ctx.last_plan
    if reviewed is None or reviewed.engine is None:
        return [Diagnosis("apply", Status.ERROR, "no reviewed plan to apply")]
    missing = ensure_target(ctx, progress)
    if missing:
        return missing
    outcomes: list[Diagnosis] = []

    def on_progress(action: str, phase: str, detail: str) -> None:
        progress(action, f"{phase}: {detail}" if detail else phase)
        if phase == "done":
            outcomes.append(Diagnosis(f"apply.{action}", Status.OK, detail or "done"))
        elif phase == "failed":
            outcomes.append(Diagnosis(f"apply.{action}", Status.ERROR, detail or "failed"))

    applier = hub_apply.Applier(ctx.hub, ctx.session, on_progress=on_progress)
    if started is not None:
        started(applier)
    try:
        result = applier.execute(reviewed.engine)
    except HubError as exc:
        return outcomes + [Diagnosis("apply", Status.ERROR, str(exc), fix="go Back and review again")]
    ctx.last_plan = None
    outcomes += [d for d in applier.diagnoses if d.id.startswith("apply.") and d.status is not Status.OK
                 and d.id not in {o.id for o in outcomes}]
    if result.ok and "env-restore" in result.done:
        # A restore planned in the Base environment step is done once: the next apply does not go back again.
        ctx.session.accept("environment.restore", None)
    if result.ok:
        outcomes.append(Diagnosis("apply", Status.OK, result.summary()))
    else:
        holds = {"old": "the hub holds the previous config.yaml"
                        + (" (restored byte for byte)" if result.rolled_back else " (nothing was changed)"),
                 "new": "the hub holds the new config.yaml (putting the previous one back failed)",
                 "unknown": "the hub could not be reached to tell: it holds the previous or the new config.yaml",
                 "other": "config.yaml on the hub is neither the previous nor the new file: look at the hub now"}
        outcomes.append(Diagnosis("apply", Status.ERROR, result.summary(), details=holds[result.hub_holds],
                                  fix="see the session log; fix the cause and apply again"))
    return outcomes

