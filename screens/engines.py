"""The engine calls both front-ends make, step by step: blocking, UI-free, returning ``Diagnosis`` lists.

The Textual screens run these in thread workers; the plain wizard calls them directly. Nothing here decides
anything an engine should decide: it picks the engine for a step, hands it the answers and the hub connection, and
turns "this engine is not built yet" into a SKIPPED diagnosis rather than a fake result.

Importing this module is cheap: every engine is imported inside the function that uses it.
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from wizard.diagnosis import Diagnosis, Status

# (host, fingerprint) -> accept? Provided by the front-end; must block until the operator decides.
HostKeyPrompt = Callable[[str, str], bool]
# (phase, message) -> None; called from worker threads.
Progress = Callable[[str, str], None]


def _no_progress(phase: str, message: str) -> None:
    pass


def engine_available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def not_available(check_id: str, what: str) -> Diagnosis:
    return Diagnosis(check_id, Status.SKIPPED, f"{what}: skipped — engine not available in this version")


@dataclass
class WizardContext:
    """What a wizard run knows beyond the answers: how to reach the hub, the open connection, the host facts."""

    session: Any  # wizard.session.Session
    mode: str = "ssh"  # "ssh", "local" (on the hub itself) or "sandbox" (the demo)
    sandbox_prefix: Path | None = None
    host_key_prompt: HostKeyPrompt | None = None
    target: Any = None
    facts: Any = None
    last_plan: Any = None
    extras: dict = field(default_factory=dict)

    @property
    def answers(self):
        return self.session.answers

    def redact(self, text: str) -> str:
        """``text`` with every secret answer replaced by ********."""
        for value in sorted(self.session.secret_values(), key=len, reverse=True):
            text = text.replace(value, "********")
        return text

    def log(self, message: str) -> None:
        self.session.logger().info(message)

    def close(self) -> None:
        target, self.target = self.target, None
        if target is not None and hasattr(target, "close"):
            target.close()


def describe_target(ctx: WizardContext) -> str:
    """One line naming the hub this run talks to."""
    if ctx.mode == "sandbox":
        return f"the demo sandbox hub at {ctx.sandbox_prefix}" if ctx.sandbox_prefix else "the demo sandbox hub"
    if ctx.mode == "local":
        return "this machine (--local)"
    answers = ctx.answers
    host = answers.get("connection.host") or "?"
    return f"{answers.get('connection.user')}@{host}:{answers.get('connection.port')}"


# ---------------------------------------------------------------------------------------------------------------
# step checks


def connect(ctx: WizardContext, progress: Progress = _no_progress) -> list[Diagnosis]:
    """Open the hub connection (once per run) and gather the host facts."""
    if not engine_available("wizard.hub.target"):
        return [not_available("connect.ssh", "connection and host facts")]
    return _hub_connect(ctx, progress)


def _hub_connect(ctx: WizardContext, progress: Progress) -> list[Diagnosis]:  # replaced as the hub engine lands
    return [not_available("connect.ssh", "connection and host facts")]


def domain_checks(ctx: WizardContext, progress: Progress = _no_progress) -> list[Diagnosis]:
    if not engine_available("wizard.dns"):
        return [not_available("dns", "DNS and reachability checks")]
    return [not_available("dns", "DNS and reachability checks")]


def https_checks(ctx: WizardContext, progress: Progress = _no_progress) -> list[Diagnosis]:
    answers = ctx.answers
    mode = answers.get("https.mode")
    if mode == "none":
        return [Diagnosis("https.mode", Status.WARNING, "HTTPS is off: logins and notebooks travel in plain text",
                          fix="choose letsencrypt, acme-dns or existing unless the hub sits behind a TLS proxy")]
    if mode == "existing":
        from wizard.https.existing import check_existing_files
        from wizard.tljh.config import certificate_domains

        return list(check_existing_files(answers.get("https.cert_path"), answers.get("https.key_path"),
                                         certificate_domains(answers)))
    return [not_available(f"https.{mode}", "certificate issuance")]


def limits_checks(ctx: WizardContext, progress: Progress = _no_progress) -> list[Diagnosis]:
    """Culling sanity and, when the sizing inputs are answered, the sizing calculator against the VM's facts."""
    from wizard import limits

    values = ctx.answers.section("limits")
    out: list[Diagnosis] = []
    if values.get("cull_enabled", True):
        out.extend(limits.check_culling(values["cull_timeout"], values["cull_every"], values["cull_max_age"]))
    if values.get("total_users"):
        inputs = limits.SizingInputs(
            total_users=values["total_users"], active_share=values.get("active_share", 0.5),
            memory_per_user=limits.parse_memory(values.get("memory") or "1G"),
            cpu_per_user=float(values.get("cpu") or 1), disk_per_user=limits.parse_memory(values["disk_per_user"]),
            headroom=values.get("headroom", 0.3))
        sizing = limits.size_hub(inputs, host_facts_for_sizing(ctx))
        out.extend(sizing.diagnoses)
        out.append(Diagnosis("limits.suggestion", Status.OK, f"suggested VM: {sizing.suggestion}",
                             details=f"{sizing.concurrent_users} users at once need {limits.format_gb(sizing.ram)} "
                                     f"RAM, {sizing.cpus:g} CPUs and {limits.format_gb(sizing.disk)} disk."))
    else:
        out.append(Diagnosis("limits.sizing", Status.SKIPPED, "sizing not run: answer Total users to size the VM"))
    return out


def host_facts_for_sizing(ctx: WizardContext):
    from wizard import limits

    facts = ctx.facts
    if facts is None:
        return limits.HostFacts()
    return limits.HostFacts(ram=getattr(facts, "ram", None), cpus=getattr(facts, "cpus", None),
                            disk=getattr(facts, "home_disk", None))


def environment_checks(ctx: WizardContext, progress: Progress = _no_progress) -> list[Diagnosis]:
    return [not_available("environment", "environment summary and freeze")]


def backups_checks(ctx: WizardContext, progress: Progress = _no_progress) -> list[Diagnosis]:
    return [not_available("backups", "backup bundle")]


# ---------------------------------------------------------------------------------------------------------------
# review & apply


@dataclass
class Plan:
    diff: str  # the masked unified diff of config.yaml
    actions: list[str]
    problems: list[str]  # reasons the answers cannot be applied; empty when ready
    engine: Any = None  # the hub engine's own plan object, when there is one


def plan(ctx: WizardContext, progress: Progress = _no_progress) -> Plan:
    """The masked diff and action list; problems name the answers still missing."""
    from wizard.tljh import config as tljh_config

    answers = ctx.answers
    problems = [str(p) for p in answers.problems()]
    if problems:
        return Plan("", [], problems)
    current = current_config_text(ctx)
    rendered = tljh_config.render(answers)
    new_text = tljh_config.update(current, rendered) if current else tljh_config.dump(rendered)
    diff = tljh_config.masked_diff(current or "", new_text)
    actions = ["back up config.yaml (on the hub and on this machine)", "write config.yaml atomically"]
    if "https" in rendered:
        actions.append("reload the proxy (tljh-config reload proxy)")
    actions += ["reload the hub (tljh-config reload hub)", "verify the hub answers /hub/api"]
    result = Plan(diff, actions, [])
    ctx.last_plan = result
    return result


def current_config_text(ctx: WizardContext) -> str | None:
    facts = ctx.facts
    text = getattr(facts, "config_text", None) if facts is not None else None
    return text


def apply(ctx: WizardContext, progress: Progress = _no_progress) -> list[Diagnosis]:
    if not engine_available("wizard.hub.apply"):
        return [not_available("apply", "apply")]
    return [not_available("apply", "apply")]


# ---------------------------------------------------------------------------------------------------------------
# done


EXPORTS = ("answers", "secrets", "tljh", "z2jh")


def export(ctx: WizardContext, kind: str, directory: Path) -> Path:
    """Write one export into ``directory``; secrets only into the 0600 secrets file."""
    from wizard import export as exporter
    from wizard.files import atomic_write, private_dir

    private_dir(directory)
    answers = ctx.answers
    if kind in ("answers", "secrets"):
        public, secret = exporter.render_answers(answers, include_secrets=False)
        if kind == "answers":
            return atomic_write(directory / "answers.yaml", public, mode=0o644)
        return atomic_write(directory / "secrets.yaml", secret, mode=0o600)
    if kind == "tljh":
        text = exporter.render_tljh(answers, "2.0.0", None, include_secrets=False)
        return atomic_write(directory / "config.yaml", text, mode=0o644)
    if kind == "z2jh":
        if not engine_available("wizard.z2jh"):
            raise LookupError("the Z2JH export is not available in this version")
        from wizard import z2jh

        text, _secrets = z2jh.export(answers, include_secrets=False)
        return atomic_write(directory / "values.yaml", text, mode=0o644)
    raise ValueError(kind)


def cron_line(ctx: WizardContext) -> str:
    """The crontab line that audits this hub every morning."""
    import shlex

    if ctx.mode == "sandbox":
        target = "demo"
    else:
        answers = ctx.answers
        host = answers.get("connection.host") or "HOST"
        port = answers.get("connection.port")
        target = f"{answers.get('connection.user')}@{host}" + (f":{port}" if port and port != 22 else "")
    return f"17 7 * * * tljh-wizard check {shlex.quote(target)} >/dev/null || echo 'tljh-wizard check: attention needed'"


def ago(timestamp: float, now: float | None = None) -> str:
    """'2 h ago' style for the resume prompt."""
    seconds = max(0, (now or time.time()) - timestamp)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"
