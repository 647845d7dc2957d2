"""The engine calls both front-ends make, step by step: blocking, UI-free, returning ``Diagnosis`` lists.

The Textual screens run these in thread workers; the plain wizard calls them directly. Nothing here decides
anything an engine should decide: it picks the engine for a step and hands it the answers, the hub connection and
the host facts; what cannot run here (a CA reaching the demo sandbox) is a SKIPPED diagnosis, never a fake result.

Importing this module is cheap: every engine is imported inside the function that uses it.
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from wizard.diagnosis import Diagnosis, Status

# (host as known_hosts names it, key type, SHA256 fingerprint) -> accept? Provided by the front-end; blocks until
# the operator decides.
HostKeyPrompt = Callable[[str, str, str], bool]
# (phase, message) -> None; called from worker threads.
Progress = Callable[[str, str], None]


def _no_progress(phase: str, message: str) -> None:
    pass


def engine_available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


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
    return describe(ctx.mode, ctx.sandbox_prefix, ctx.answers.get)


def describe(mode: str, sandbox_prefix, get: Callable[[str], Any]) -> str:
    """``describe_target`` before a session is open: ``get`` looks an answer up (None when unanswered)."""
    if mode == "sandbox":
        return f"the demo sandbox hub at {sandbox_prefix}" if sandbox_prefix else "the demo sandbox hub"
    if mode == "local":
        return "this machine (--local)"
    return f"{get('connection.user') or 'root'}@{get('connection.host') or '?'}:{get('connection.port') or 22}"


# ---------------------------------------------------------------------------------------------------------------
# step checks


def connect(ctx: WizardContext, progress: Progress = _no_progress) -> list[Diagnosis]:
    """Open the hub connection (again, if the connection answers changed) and gather the host facts."""
    from wizard.hub.target import ConnectError, HubError, SudoError

    ctx.close()
    ctx.facts = None
    out: list[Diagnosis] = []
    try:
        progress("connect", f"connecting to {describe_target(ctx)}")
        target = open_target(ctx)
        ctx.target = target
        fingerprint = getattr(target, "host_key_fingerprint", None)
        out.append(Diagnosis("connect.ssh", Status.OK, f"connected to {target.name}"
                             + (f" (host key {fingerprint})" if fingerprint else "")))
        progress("facts", "gathering host facts (one round trip)")
        ctx.facts = gather_facts(ctx)
    except SudoError as exc:
        return out + [Diagnosis("connect.sudo", Status.ERROR, str(exc),
                                fix="give the sudo password, or use a login with passwordless sudo")]
    except ConnectError as exc:
        ctx.close()
        return [Diagnosis("connect.ssh", Status.ERROR, str(exc), fix=_CONNECT_FIXES.get(exc.kind, ""))]
    except HubError as exc:
        return out + [Diagnosis("connect.facts", Status.ERROR, f"host facts could not be gathered: {exc}")]
    facts = ctx.facts
    out.append(Diagnosis("connect.sudo", Status.OK, "commands run as root on the hub"))
    if facts.tljh_version:
        out.append(Diagnosis("connect.tljh", Status.OK, f"TLJH {facts.tljh_version} under {ctx.target.prefix}"))
    else:
        out.append(Diagnosis("connect.tljh", Status.ERROR, f"no TLJH install found under {ctx.target.prefix}",
                             fix="install TLJH first (its bootstrap script), or set the TLJH prefix"))
    out.append(Diagnosis("connect.facts", Status.OK, "; ".join(facts.summary()[:3]),
                         details="\n".join(facts.summary())))
    from wizard.audit.host import judge_disks  # a full /, /home or prefix: shown now, from the same facts

    out += [d for d in judge_disks(facts.disks or {}) if d.status in (Status.WARNING, Status.ERROR)]
    return out


_CONNECT_FIXES = {
    "dns": "check the host name (or use the IP address)",
    "refused": "check the SSH port and that sshd runs on the hub",
    "timeout": "check the address and the firewall / security group for the SSH port",
    "auth": "check the user name, the key file, and the hub's ~/.ssh/authorized_keys",
    "host_key": "compare the fingerprint with the one your provider's console shows",
}


def open_target(ctx: WizardContext):
    """The hub for this run's mode; an SSH target is connected now, asking about an unknown host key."""
    from wizard.hub.local import LocalTarget, SandboxTarget

    answers = ctx.answers
    if ctx.mode == "sandbox":
        target = SandboxTarget(ctx.sandbox_prefix)
    elif ctx.mode == "local":
        target = LocalTarget(prefix=answers.get("connection.tljh_prefix") or "/opt/tljh",
                             sudo_password=answers.get("connection.sudo_password"))
    else:
        from wizard.hub.connect import ssh_target

        target = ssh_target(answers.section("connection"), known_hosts=ctx.extras.get("known_hosts"),
                            interactive=False)
        prompt = ctx.host_key_prompt
        if prompt is not None:
            target.accept_host_key = lambda label, key_type, fingerprint: prompt(label, key_type, fingerprint)
        target.connect()
    if ctx.extras.get("hub_api_url"):
        target.hub_api_url = ctx.extras["hub_api_url"]
    if ctx.extras.get("sshd_paths"):  # a test rig's sshd with a config file of its own
        target.sshd_paths = ctx.extras["sshd_paths"]
    return target


def gather_facts(ctx: WizardContext):
    from wizard.hub import facts

    # The demo sandbox runs on the operator's own machine: its cloud metadata says nothing about a hub.
    base = ctx.extras.get("metadata_base") or ("http://127.0.0.1:9" if ctx.mode == "sandbox" else facts.METADATA_BASE)
    return facts.gather(ctx.target, metadata_base=base)


def ensure_target(ctx: WizardContext, progress: Progress = _no_progress) -> list[Diagnosis]:
    """Reconnect when a resumed run reaches a step that needs the hub; the diagnoses say why it failed, if it did."""
    if ctx.target is not None and ctx.facts is not None:
        return []
    found = connect(ctx, progress)
    return found if ctx.target is None or ctx.facts is None else []


def hub_tljh_version(ctx: WizardContext) -> str:
    """The TLJH schema the hub's install calls for (``wizard.tljh.config.TLJH_VERSIONS``): ``main`` for an install
    newer than 2.0.0 (the host facts' version, ``limits.tljh_accepts_fractional_cpu``), else ``2.0.0`` — also while
    the facts are unknown (the strictest). Entry rules and Review's plan use the same value, so Review never refuses
    what a step accepted."""
    from wizard import limits

    version = getattr(ctx.facts, "tljh_version", None)
    return "main" if version and limits.tljh_accepts_fractional_cpu(str(version)) else "2.0.0"


def entry_error(ctx: WizardContext, key: str, value: Any):
    """A rule ``key`` can only know from the hub, for its accepted ``value``: a ``ValidationError`` or None. Today
    the CPU limit against the hub's TLJH version (``limits.cpu_for_tljh``: TLJH 2.0.0's schema takes whole CPUs
    only). Both front-ends apply it where the field is entered."""
    from wizard.fields import ValidationError

    if key == "limits.cpu" and value not in (None, ""):
        from wizard import limits

        version = hub_tljh_version(ctx)
        if version != "main":
            try:
                limits.cpu_for_tljh(value, version)
            except ValidationError as exc:
                return exc.at(key)
    return None


def entry_errors(ctx: WizardContext, section: str) -> list:
    """``entry_error`` for every answered field of ``section``."""
    from wizard.answers import SECTIONS

    found = (entry_error(ctx, f"{section}.{item.name}", ctx.answers.get(f"{section}.{item.name}"))
             for item in SECTIONS[section].fields)
    return [error for error in found if error is not None]


def facts_needed(ctx: WizardContext, progress: Progress = _no_progress) -> list[Diagnosis]:
    """Connect and gather the host facts when a resumed run reaches a step that reads them. Returns an ERROR
    diagnosis when they cannot be had (the step shows it), else nothing."""
    if ctx.facts is not None:
        return []
    progress("facts", "gathering the host facts this step needs")
    found = ensure_target(ctx, progress)
    if ctx.facts is None:
        return found or [Diagnosis("connect.facts", Status.ERROR, "the host facts could not be gathered",
                                   fix="go Back to Connect")]
    return []


def domain_checks(ctx: WizardContext, progress: Progress = _no_progress) -> list[Diagnosis]:
    """DNS at every authoritative server and the resolvers, whether the IP is reserved, and reachability."""
    import asyncio

    from wizard.dns.caa import known_accounts
    from wizard.dns.check import check_domain
    from wizard.dns.reachability import check_reachability
    from wizard.dns.reserved_ip import check_reserved_ip

    facts_missing = facts_needed(ctx, progress)
    answers = ctx.answers
    domain = answers.get("domain.name")
    ipv4, ipv6 = answers.get("domain.reserved_ipv4"), answers.get("domain.reserved_ipv6")
    progress("dns", f"asking the authoritative nameservers and resolvers about {domain}")
    # CAA may admit only one ACME account: compare with the accounts that would order (read-only).
    accounts = known_accounts(ctx.session, ctx.target if ctx.mode != "sandbox" else None)
    probe = None if ctx.mode == "sandbox" or ctx.extras.get("skip_reachability") else 443
    out = check_domain(domain, ipv4, ipv6, resolvers=answers.get("domain.resolvers"), accounts=accounts,
                       https_mode=answers.get("https.mode"), probe_port=probe, **ctx.extras.get("dns_options", {}))
    facts = ctx.facts
    if facts is not None:
        public_ip = facts.public_ip if facts.public_ip != "unknown" else None
        provider = facts.provider if facts.provider != "unknown" else None
        says = None if facts.reserved_ip is None and provider != "digitalocean" else bool(facts.reserved_ip)
        out.append(check_reserved_ip(ipv4, public_ip, provider, says, bool(answers.get("domain.ip_reserved_confirmed")),
                                     facts.reserved_ip))
    else:
        out.append(check_reserved_ip(ipv4, None, None, None, bool(answers.get("domain.ip_reserved_confirmed"))))
    if ctx.mode == "sandbox" or ctx.extras.get("skip_reachability"):
        out.append(Diagnosis("reach", Status.SKIPPED, "reachability not checked: "
                             + ("the demo's hub is a sandbox on this machine" if ctx.mode == "sandbox"
                                else "switched off for this run")))
    else:
        progress("reach", f"probing {ipv4} ports 80 and 443")
        out += asyncio.run(check_reachability(domain, ipv4, None,
                                              before_https=answers.get("https.mode") in (None, "none")
                                              or not ctx.session.record("https.certificate")))
    ctx.extras["dns_diagnoses"] = out
    return facts_missing + out


def https_checks(ctx: WizardContext, progress: Progress = _no_progress) -> list[Diagnosis]:
    """Whether a certificate can be had: the DNS gate and port 443 (ACME modes), or the operator's files judged."""
    answers = ctx.answers
    mode = answers.get("https.mode")
    if answers.get("https.web_ports") == "behind":
        return [behind_diagnosis(answers)]
    held = web_ports_findings(ctx, progress) if mode != "none" else []
    return held + _https_checks(ctx, progress)


def _https_checks(ctx: WizardContext, progress: Progress = _no_progress) -> list[Diagnosis]:
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
    if ctx.mode == "sandbox":
        return [Diagnosis("https.gate", Status.SKIPPED, "the demo's sandbox hub cannot be reached by a CA: no "
                          "certificate is requested (config.yaml still gets the HTTPS settings)")]
    from wizard.https.letsencrypt import LetsEncryptEnvironment, gate

    progress("dns", "re-running the DNS check (issuance is gated on it)")
    dns_diagnoses = [d for d in domain_checks(ctx, progress) if d.id.startswith("dns.")]
    results = gate(ctx.session, dns_diagnoses, LetsEncryptEnvironment(**ctx.extras.get("letsencrypt_env", {})))
    if mode == "acme-dns":  # DNS-01 needs no inbound port
        results = [d for d in results if d.id != "https.port443"]
    return results


def behind_diagnosis(answers) -> Diagnosis:
    """TLJH behind another web server: where TLJH listens, and that server's reverse-proxy site (``--details``)."""
    from wizard.tljh.behind import snippet

    port, address = answers.get("https.behind_port") or 8080, answers.get("https.behind_address") or "127.0.0.1"
    front = answers.get("https.front_server") or "nginx"
    return Diagnosis("https.behind", Status.OK, f"TLJH's proxy will listen on {address}:{port} (plain HTTP); {front} "
                     "keeps ports 80/443 and the certificate, and forwards to it",
                     details=snippet(front, answers.get("domain.name") or "HUB.EXAMPLE.EDU", port, address),
                     data={"port": port, "address": address, "front_server": front})


def web_ports_findings(ctx: WizardContext, progress: Progress = _no_progress) -> list[Diagnosis]:
    """Who holds ports 80/443 on the hub (``wizard.audit.host.ports_finding``; one round trip): another program there
    stops TLJH's proxy from serving HTTPS, so the step offers the ways out (https.web_ports)."""
    from wizard.audit import host, hubfacts
    from wizard.hub.target import HubError

    if ctx.target is None or ctx.mode == "sandbox":
        return []
    progress("ports", "asking the hub who listens on ports 80 and 443")
    try:
        facts = hubfacts.gather(ctx.target, hubfacts.Sources(only=("listeners",),
                                                            ports=tuple(ctx.extras.get("web_ports", (80, 443)))))
    except (HubError, ValueError) as exc:
        return [Diagnosis(host.PORTS, Status.SKIPPED, f"ports 80/443 not checked: {ctx.redact(str(exc))}")]
    finding = host.ports_finding(facts, {"https": {"enabled": True}})
    foreign = finding.data.get("foreign")
    ctx.extras["web_ports_held"] = list(foreign or [])  # Review refuses to plan while another program holds them
    if foreign and ctx.answers.get("https.web_ports") == "stop":
        names = ", ".join(foreign)
        return [Diagnosis(host.PORTS, Status.WARNING, f"{names} still holds ports 80/443: stop it before applying",
                          fix=f"`sudo systemctl disable --now {host._service_name(foreign)}` on the hub",
                          data=finding.data)]
    if foreign:
        finding.fix = ("choose Ports 80/443 = behind (TLJH behind it, which then holds the certificate) or stop "
                       "(you stop it first); or stop it now and check again")
        return [finding]
    if finding.status is Status.ERROR:  # nothing listens yet: TLJH's proxy starts at apply
        return [Diagnosis(host.PORTS, Status.OK, "no other program holds ports 80/443", data=finding.data)]
    return [finding]


def limits_checks(ctx: WizardContext, progress: Progress = _no_progress) -> list[Diagnosis]:
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


def host_facts_for_sizing(ctx: WizardContext):
    from wizard import limits

    facts = ctx.facts
    if facts is None:
        return limits.HostFacts()
    home = (facts.disks or {}).get("home") or {}
    return limits.HostFacts(ram=facts.ram_bytes, cpus=facts.cpus, disk=home.get("total"))


def environment_checks(ctx: WizardContext, progress: Progress = _no_progress) -> list[Diagnosis]:
    """The environment's summary and a dry run of the installs the answers ask for. Read-only: installs, the freeze
    and a restore are actions of the reviewed plan, run by apply (``wizard.environment.work``)."""
    from wizard.environment.step import dry_run_installs, summary_diagnoses

    missing = ensure_target(ctx, progress)
    if missing:
        return missing
    progress("environment", "reading the user environment")
    return summary_diagnoses(ctx.target) + dry_run_installs(ctx.target, ctx.answers, progress)


def environment_restore_plan(ctx: WizardContext, progress: Progress = _no_progress):
    """The plan that brings the environment back to the newest snapshot on the hub, or a Diagnosis saying why not."""
    from wizard.environment.restore import plan_restore
    from wizard.environment.snapshot import hub_snapshots
    from wizard.environment.summary import gather

    missing = ensure_target(ctx, progress)
    if missing:
        return missing[0]
    progress("environment", "listing the snapshots stored on the hub")
    snapshots, _broken = hub_snapshots(ctx.target)
    if not snapshots:
        return Diagnosis("environment.restore", Status.WARNING, "no snapshot on the hub yet: freeze first")
    progress("environment", f"comparing the live environment with snapshot {snapshots[-1].id}")
    return plan_restore(snapshots[-1], gather(ctx.target))


def environment_restore(ctx: WizardContext, plan, progress: Progress = _no_progress) -> list[Diagnosis]:
    """Put the confirmed restore into the answers (``environment.restore``): apply runs it, after Review."""
    ctx.session.accept("environment.restore", plan.snapshot.id)
    return [Diagnosis("environment.restore", Status.OK, f"restore of snapshot {plan.snapshot.id} planned: it runs "
                      "when you apply, after Review (nothing was changed on the hub)", details=plan.render())]


def backups_checks(ctx: WizardContext, progress: Progress = _no_progress) -> list[Diagnosis]:
    """Where /home lives, and whether a backup bundle is pulled at apply (its first action). Read-only."""
    from wizard.hub import backup

    missing = ensure_target(ctx, progress)
    if missing:
        return missing
    out = [backup.home_report(ctx.facts)]
    answers = ctx.answers
    if answers.get("backups.pull_bundle"):
        where = answers.get("backups.bundle_dir") or ctx.session.dir / "backups"
        out.append(Diagnosis("backups.bundle", Status.OK, f"a backup bundle is pulled to {where} as the apply's "
                             "first action, before anything on the hub changes"))
    if not answers.get("backups.snapshots_confirmed"):
        out.append(Diagnosis("backups.snapshots", Status.WARNING, "provider snapshots of /home are not confirmed",
                             fix="schedule disk snapshots at your provider, then confirm it here"))
    return out


def ssh_checks(ctx: WizardContext, progress: Progress = _no_progress) -> list[Diagnosis]:
    """What the SSH answers would do (accounts, fingerprints) and what in sshd would stop the logins. Read-only."""
    from wizard.hub.target import HubError
    from wizard.sshaccess import engine

    intro = Diagnosis("ssh.admins", Status.OK, "note: an admin's jupyter-<name> account has passwordless sudo "
                      "(TLJH's sudoers rule for jupyterhub-admins): an admin key is root on the hub")
    if ctx.mode == "sandbox":
        return [intro, Diagnosis("ssh.sshd", Status.SKIPPED, "the demo's sandbox hub has no sshd and no accounts: "
                                 "keys are planned on a real hub")]
    missing = ensure_target(ctx, progress)
    if missing:
        return missing
    progress("ssh", "reading accounts, authorized_keys files and sshd -T on the hub")
    try:
        planned = engine.plan(ctx.answers, ctx.target)
    except HubError as exc:
        return [Diagnosis("ssh.survey", Status.ERROR, str(exc))]
    if planned is None:
        return [intro, Diagnosis("ssh.keys", Status.SKIPPED, "no SSH answers: accounts and sshd are left alone")]
    out = [intro, *planned.findings]
    if planned.changes:
        out.append(Diagnosis("ssh.keys", Status.OK, f"{len(planned.changes)} account(s) to change",
                             details="\n".join(planned.lines())))
    else:
        out.append(Diagnosis("ssh.keys", Status.OK, "every key is in place already"))
    out += [Diagnosis("ssh.refused", Status.ERROR, reason) for reason in planned.refusals]
    return out


def ssh_plan(ctx: WizardContext, progress: Progress = _no_progress):
    """The SSH part of the plan (``wizard.sshaccess.engine.SshPlan``) or None; never on the demo sandbox."""
    if ctx.mode == "sandbox":
        return None
    from wizard.sshaccess import engine

    progress("plan", "reading accounts and sshd's configuration")
    return engine.plan(ctx.answers, ctx.target)


# ---------------------------------------------------------------------------------------------------------------
# authenticator: the callback URL, what a switch of authenticator means for existing users, who can log in

def access_checks(ctx: WizardContext, progress: Progress = _no_progress) -> list[Diagnosis]:
    """The Authenticator step's checks: the exact OAuth callback URL to register, a warning when switching from
    FirstUse to Native would make every user sign up again, and the who-can-log-in preview computed by the hub's own
    authenticator code (``wizard.access``) with its preflight findings."""
    from wizard import access
    from wizard.tljh import config as tljh_config

    answers = ctx.answers
    kind = answers.get("authenticator.type")
    out: list[Diagnosis] = []
    url = tljh_config.oauth_callback_url(answers)
    if kind in ("github", "google", "generic") and url:
        out.append(Diagnosis("access.callback", Status.OK, f"register this callback URL with the provider: {url}",
                             details="http:// until HTTPS is on (the HTTPS step); the wizard updates it when HTTPS is "
                                     "switched on in the same apply, and you must update it at the provider too."))
    facts_config = getattr(ctx.facts, "config", None) if ctx.facts is not None else None
    current = str(((facts_config or {}).get("auth") or {}).get("type") or "") if isinstance(facts_config, dict) else ""
    current = current or ("firstuseauthenticator.FirstUseAuthenticator" if ctx.facts is not None else "")
    if current.endswith("FirstUseAuthenticator") and kind == "native":
        if answers.get("authenticator.import_from_firstuse"):
            out.append(Diagnosis("access.switch", Status.OK, "FirstUse users and passwords are imported into Native"))
        else:
            out.append(Diagnosis("access.switch", Status.WARNING, "switching from FirstUse to Native: every existing "
                                 "user must sign up again (and be approved)",
                                 fix="set Import FirstUse users (authenticator.import_from_firstuse) to keep them"))
    elif current and kind and not current.endswith(tljh_config.AUTH_CLASSES[kind].rsplit(".", 1)[1]):
        out.append(Diagnosis("access.switch", Status.OK, f"switching from {current.rsplit('.', 1)[-1]}: existing hub "
                             "users keep their servers and files when the new authenticator gives the same user name"))
    progress("access", "who can log in: running the authenticator's own code")
    try:
        base = ctx.facts.config_text if ctx.facts is not None and ctx.facts.config_text else ""
        config = access.rendered_config(answers, base)
        preview = access.preview(config, target=ctx.target)
    except Exception as exc:  # shown as a row, never a crash
        return out + [Diagnosis(access.PREVIEW, Status.SKIPPED, ctx.redact(f"who can log in: not computed — "
                                                                           f"{type(exc).__name__}: {exc}"))]
    return out + preview.diagnoses(allow_all_confirmed=access.allow_all_confirmed(answers))


def access_preview(ctx: WizardContext, new_text: str) -> tuple[str, list[str]]:
    """Who can log in with the config an apply would write (Review): the table, and the preflight's errors that block
    the apply (the authenticator cannot be constructed, nobody or an unconfirmed everybody can log in). Never raises."""
    import json

    from wizard import access, yamlio

    try:
        data = yamlio.loads(new_text, "config.yaml") if new_text.strip() else {}
        config = json.loads(json.dumps(data if isinstance(data, dict) else {}, default=str))
        preview = access.preview(config, target=ctx.target)
        findings = preview.diagnoses(allow_all_confirmed=access.allow_all_confirmed(ctx.answers))
    except Exception as exc:
        return ctx.redact(f"Who can log in: not computed — {type(exc).__name__}: {exc}"), []
    warnings = [f"  {d.status.value.upper()}: {d.summary}" for d in findings if d.status is Status.WARNING]
    errors = [f"who can log in: {d.summary}" + (f" (fix: {d.fix})" if d.fix else "") for d in findings
              if d.status is Status.ERROR]
    return "\n".join([preview.table()] + warnings), errors


# ---------------------------------------------------------------------------------------------------------------
# review & apply


@dataclass
class Plan:
    diff: str  # the masked unified diff of config.yaml
    actions: list[str]
    problems: list[str]  # reasons the answers cannot be applied; empty when ready
    engine: Any = None  # the hub engine's own plan, which apply executes
    access: str = ""  # who can log in with the new config (the hub's own authenticator code)


def plan(ctx: WizardContext, progress: Progress = _no_progress) -> Plan:
    """The masked diff against the hub's config.yaml and the action list; problems name what is still missing."""
    answers = ctx.answers
    problems = [str(p) for p in answers.problems()
                if not (ctx.mode != "ssh" and p.key.startswith("connection."))]
    held = ctx.extras.get("web_ports_held")  # what the HTTPS step found on 80/443 (web_ports_findings)
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
        # plan when the hub or the session lacks it.
        smoke = ctx.mode != "sandbox" and not ctx.extras.get("no_smoke")
        engine_plan = hub_apply.build_plan(answers, ctx.target, ctx.session, tljh_version=hub_tljh_version(ctx),
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


def https_plan_extra(ctx: WizardContext, progress: Progress = _no_progress) -> dict:
    """What the HTTPS sub-plan (``wizard.https.work``) needs from this front-end: where the served certificate is
    checked and which CAs are trusted (``ctx.extras`` "letsencrypt_env" / "acme_env", for private or test CAs), and
    the DNS check of the ACME modes' gate — re-run when the plan is made, never trusted from an earlier step."""
    from wizard.https.plan import HttpsEnvironment

    def dns_diagnoses() -> list[Diagnosis]:
        progress("dns", "re-running the DNS check (certificate orders are gated on it)")
        return [d for d in domain_checks(ctx, progress) if d.id.startswith("dns.")]

    return {"https_env": HttpsEnvironment(letsencrypt=dict(ctx.extras.get("letsencrypt_env", {})),
                                          acme=dict(ctx.extras.get("acme_env", {}))),
            "dns_diagnoses": dns_diagnoses, "tljh_version": hub_tljh_version(ctx)}


def apply(ctx: WizardContext, progress: Progress = _no_progress,
          started: Callable[[Any], None] | None = None) -> list[Diagnosis]:
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

    applier = hub_apply.Applier(ctx.target, ctx.session, on_progress=on_progress,
                                **ctx.extras.get("apply_options", {}))
    if started is not None:
        started(applier)
    try:
        result = applier.execute(reviewed.engine)
    except HubError as exc:
        return outcomes + [Diagnosis("apply", Status.ERROR, str(exc), fix="go Back and review again")]
    ctx.last_plan = None
    outcomes += [d for d in applier.diagnoses if d.id.startswith("apply.") and d.status is not Status.OK
                 and d.id not in {o.id for o in outcomes}]
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


def hub_config_state(ctx: WizardContext) -> Diagnosis:
    """Read config.yaml on the hub again and say whether it is the file the last apply left there (the new file
    after a finished apply, the old one after a rollback). One round trip; read-only."""
    from wizard.hub import apply as hub_apply
    from wizard.hub.target import HubError

    record = ctx.session.record(hub_apply.RECORD)
    if not isinstance(record, dict) or not record.get("new_sha256"):
        return Diagnosis("done.config", Status.WARNING, "no apply recorded in this session: config.yaml on the hub "
                         "was not changed by the wizard")
    missing = ensure_target(ctx)
    if missing:
        return Diagnosis("done.config", Status.WARNING, "config.yaml on the hub could not be read again: "
                         + "; ".join(d.summary for d in missing))
    try:
        digest = hub_apply.sha256(hub_apply.read_config(ctx.target))
    except HubError as exc:
        return Diagnosis("done.config", Status.WARNING, f"config.yaml on the hub could not be read again: {exc}")
    status = record.get("status")
    if digest == record["new_sha256"]:
        if status == "done":
            return Diagnosis("done.config", Status.OK, f"config.yaml on the hub is the applied file "
                             f"(apply {record['id']}, sha256 {digest[:12]}…)")
        return Diagnosis("done.config", Status.WARNING, f"config.yaml on the hub is the new file, but apply "
                         f"{record['id']} did not finish ({status}): apply again to complete it")
    if digest == record.get("old_sha256"):
        if status == "done":
            return Diagnosis("done.config", Status.ERROR, f"config.yaml on the hub is the file from before apply "
                             f"{record['id']}: the applied one was replaced since (by hand, or a restore)")
        return Diagnosis("done.config", Status.WARNING, f"config.yaml on the hub is the previous file: apply "
                         f"{record['id']} " + ("was rolled back" if status == "rolled-back" else
                                               "changed nothing" if status == "failed" else f"is {status}"))
    return Diagnosis("done.config", Status.ERROR, f"config.yaml on the hub is neither the applied nor the previous "
                     f"file of apply {record['id']}: it was changed since (tljh-wizard check shows the drift)")


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
        return export_z2jh(ctx, directory)[0]
    raise ValueError(kind)


def export_z2jh(ctx: WizardContext, directory: Path) -> tuple[Path, Path]:
    """The Zero to JupyterHub export as ``export --format z2jh --secrets`` writes it: ``z2jh/values.yaml`` and the
    chart's secrets overlay ``z2jh/secrets.yaml`` (0600, in a 0700 folder of its own, so it never meets the
    wizard's own secrets.yaml). The values header's install line names both files, run from that folder."""
    from wizard import z2jh
    from wizard.files import atomic_write, private_dir

    if not engine_available("wizard.z2jh"):
        raise LookupError("the Z2JH export is not available in this version")
    folder = directory / "z2jh"
    private_dir(directory)
    private_dir(folder)
    values, secrets = z2jh.export(ctx.answers, include_secrets=False)
    secrets_path = atomic_write(folder / "secrets.yaml", secrets, mode=0o600)
    return atomic_write(folder / "values.yaml", values, mode=0o644), secrets_path


def followups(ctx: WizardContext) -> list[tuple[str, str]]:
    """(command, what it does) for this session, each one that works on it as written: for the demo, against its
    sandbox on this machine (never the answers' addresses, which the demo never reached)."""
    import shlex

    name = shlex.quote(ctx.session.name)
    if ctx.mode == "sandbox":
        prefix = shlex.quote(str(ctx.sandbox_prefix or demo_prefix()))
        return [("tljh-wizard demo", "resume or walk the demo again (--plain: the same steps as prompts)"),
                (f"tljh-wizard backup --sandbox {prefix}", "pull a backup bundle of the demo hub"),
                ("tljh-wizard env list demo", "list the demo hub's environment snapshots"),
                ("tljh-wizard export demo -o answers.yaml --secrets secrets.yaml", "the answers, to replay"),
                ("tljh-wizard sessions", "the saved sessions")]
    resume = "tljh-wizard --local" if ctx.mode == "local" else f"tljh-wizard {shlex.quote(describe_target(ctx))}"
    lines = [(resume, "resume this wizard where it stopped"),
             (f"tljh-wizard check {name}", "audit the hub (read-only; for cron: " + cron_line(ctx) + ")")]
    if ctx.answers.get("https.mode") == "acme-dns":
        lines.append((f"tljh-wizard renew {name}", "renew the certificate when due (for cron)"))
    lines += [(f"tljh-wizard backup {name}" if ctx.mode == "ssh" else "tljh-wizard backup --local",
               "pull a backup bundle of TLJH's config and state"),
              (f"tljh-wizard export {name} -o answers.yaml --secrets secrets.yaml", "the answers, to replay")]
    return lines


def replay_line(directory: str = "tljh-wizard-exports") -> str:
    """The non-interactive command that replays this run from Done's answers and secrets exports."""
    return f"tljh-wizard apply {directory}/answers.yaml --secrets {directory}/secrets.yaml"


def exit_summary(ctx: WizardContext, finished: bool) -> str:
    """What a front-end prints when the wizard ends (quit or done): what was applied, what is pending, and the
    commands that go on from here (each one works on this session: ``followups``)."""
    from wizard.steps import STEPS

    session = ctx.session
    skipped, failed = set(session.skipped_steps), set(session.state.get("failed_steps", []))
    done = set(session.state.get("finished_steps", []))
    applied = "review" in done
    pending = [s.title for s in STEPS[:-1] if s.id not in done and s.id not in skipped]
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
        lines.append(f"    {replay_line()}   # replay without prompts (after Done's Answers and Secrets exports)")
    return "\n".join(lines)


def _step_title(step_id: str | None) -> str:
    from wizard.steps import step

    try:
        return step(step_id).title if step_id else "the start"
    except KeyError:
        return str(step_id)


def ssh_done_lines(ctx: WizardContext) -> list[str]:
    """The Done step's SSH text: the exact login line for each admin with a key, and how users add their own keys."""
    from wizard.sshaccess.engine import ssh_command
    from wizard.sshaccess.naming import system_username

    answers = ctx.answers
    host = answers.get("domain.name") or answers.get("connection.host") or "HUB"
    port = int(answers.get("connection.port") or 22)
    login = f"ssh {'-p %d ' % port if port != 22 else ''}jupyter-NAME@{host}"
    if "ssh" in answers.skipped or not answers.data.get("ssh"):
        return [f"Users can add their own key to ~/.ssh/authorized_keys from a Jupyter terminal, then: {login}"]
    lines = []
    if answers.get("ssh.admin_keys"):
        lines.append("Admins log in with their key (passwordless sudo: this is root on the hub):")
        lines += [f"  {ssh_command(system_username(name), host, port)}"
                  for name in answers.get("authenticator.admin_users") or []]
    for name in sorted(answers.get("ssh.user_keys") or {}):
        lines.append(f"  {ssh_command(system_username(name), host, port)}")
    lines += ["Any user can add their own key: open a Terminal in JupyterLab on the hub and run",
              "  mkdir -p -m 700 ~/.ssh && nano ~/.ssh/authorized_keys   (paste the line of your .pub file, save)",
              "  chmod 600 ~/.ssh/authorized_keys",
              f"then log in with {login} (NAME: the hub user name; long names are shortened as TLJH does — "
              "`whoami` in that terminal prints the account)."]
    return lines


def cron_line(ctx: WizardContext) -> str:
    """The crontab line that audits this hub every morning; ``--quiet`` prints only problems, so cron mails only
    then (the session name carries the connection details)."""
    import shlex

    return f"17 7 * * * tljh-wizard check --quiet {shlex.quote(ctx.session.name)}"


def ago(timestamp: float, now: float | None = None) -> str:
    """'2 h ago' style for the resume prompt."""
    seconds = max(0, (now or time.time()) - timestamp)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"


# Each step's checks (None: the step has none of its own). Both front-ends run the same function for a step.
CHECKS: dict[str, Callable[..., list[Diagnosis]] | None] = {
    "connect": connect,
    "authenticator": access_checks,
    "domain": domain_checks,
    "https": https_checks,
    "limits": limits_checks,
    "environment": environment_checks,
    "backups": backups_checks,
    "ssh": ssh_checks,
    "review": None,
    "done": None,
}


def resume_question(ctx: WizardContext) -> str | None:
    """'Resume hub.example.edu at HTTPS, stopped 2 h ago?' when the session stopped part-way, else None."""
    from wizard.steps import STEP_IDS, step

    session = ctx.session
    current = session.current_step
    if current == STEP_IDS[0] and not session.finished_steps:
        return None
    host = "the demo hub" if ctx.mode == "sandbox" else (session.answers.get("connection.host") or session.name)
    return f"Resume {host} at {step(current).title}, stopped {ago(session.state['updated'])}?"


def demo_prefix() -> Path:
    """Where `tljh-wizard demo` keeps its sandbox hub: beside the demo session, so it survives a resume."""
    from wizard.session import state_dir

    return state_dir() / "demo-hub" / "opt" / "tljh"


def open_context(session_name: str | None, *, mode: str = "ssh", prefill: dict | None = None,
                 sandbox_prefix: Path | None = None) -> WizardContext:
    """Open (and lock) the session, pre-fill answers the command line gave, and describe the hub to reach.

    ``session_name`` None: the mode's own (``demo``, ``local``, or ``user@host:port`` from the prefilled
    connection); the demo's sandbox defaults to ``demo_prefix()``."""
    from wizard.session import Session
    from wizard.session import session_name as name_for

    prefill = dict(prefill or {})
    if mode == "sandbox" and sandbox_prefix is None:
        sandbox_prefix = demo_prefix()
        prefill.setdefault("connection.tljh_prefix", str(sandbox_prefix))
    if session_name is None:
        session_name = {"sandbox": "demo", "local": "local"}.get(mode) or name_for(
            prefill.get("connection.host"), prefill.get("connection.user"), prefill.get("connection.port"))
    session = Session.open(session_name, host=prefill.get("connection.host"))
    changed = False
    for key, value in prefill.items():
        if value is not None and session.answers.get(key) != value:
            session.answers.set(key, value)  # validated like any answer; saved once below
            changed = True
    if changed:
        session.save()
    return WizardContext(session=session, mode=mode, sandbox_prefix=sandbox_prefix)
