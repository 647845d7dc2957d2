"""Connect: open the hub connection (SSH, this machine, or the demo's sandbox) and gather the host facts.

Every later step that needs the hub calls ``ensure_target`` (a resumed run reconnects where it stopped) or
``facts_needed`` (a step that reads the host facts). The front-end answers an unknown host key through
``WizardContext.host_key_prompt``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wizard.context import HostKeyPrompt, Progress, WizardContext, demo_prefix, describe_target, no_progress
from wizard.diagnosis import Diagnosis, Status

if TYPE_CHECKING:
    from wizard.hub.facts import HostFacts
    from wizard.hub.target import HubTarget


def connect(ctx: WizardContext, progress: Progress = no_progress) -> list[Diagnosis]:
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
        ctx.facts = facts = gather_facts(ctx)
    except SudoError as exc:
        return out + [Diagnosis("connect.sudo", Status.ERROR, str(exc),
                                fix="give the sudo password, or use a login with passwordless sudo")]
    except ConnectError as exc:
        ctx.close()
        return [Diagnosis("connect.ssh", Status.ERROR, str(exc), fix=_CONNECT_FIXES.get(exc.kind, ""))]
    except HubError as exc:
        return out + [Diagnosis("connect.facts", Status.ERROR, f"host facts could not be gathered: {exc}")]
    out.append(Diagnosis("connect.sudo", Status.OK, "commands run as root on the hub"))
    if facts.tljh_version:
        out.append(Diagnosis("connect.tljh", Status.OK, f"TLJH {facts.tljh_version} under {target.prefix}"))
    else:
        out.append(Diagnosis("connect.tljh", Status.ERROR, f"no TLJH install found under {target.prefix}",
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


def open_target(ctx: WizardContext) -> HubTarget:
    """The hub for this run's mode; an SSH target is connected now, asking about an unknown host key."""
    from wizard.hub.local import LocalTarget, SandboxTarget

    answers = ctx.answers
    options = ctx.options
    target: HubTarget
    if ctx.mode == "sandbox":
        target = SandboxTarget(ctx.sandbox_prefix or demo_prefix())
    elif ctx.mode == "local":
        target = LocalTarget(prefix=answers.get("connection.tljh_prefix") or "/opt/tljh",
                             sudo_password=answers.get("connection.sudo_password"))
    else:
        from wizard.hub.connect import ssh_target

        ssh = ssh_target(answers.section("connection"), known_hosts=options.known_hosts, interactive=False)
        prompt = ctx.host_key_prompt
        if prompt is not None:
            ssh.accept_host_key = lambda label, key_type, fingerprint: ask_host_key(ctx, prompt, label, key_type,
                                                                                    fingerprint)
        ssh.connect()
        target = ssh
    if options.hub_api_url:
        target.hub_api_url = options.hub_api_url
    if options.sshd_paths is not None:  # a test rig's sshd with a config file of its own
        target.sshd_paths = options.sshd_paths
    return target


def ask_host_key(ctx: WizardContext, prompt: HostKeyPrompt, label: str, key_type: str, fingerprint: str) -> bool:
    """The front-end's host-key question, never asked (and never accepted) once the run's engine call is cancelled:
    a cancel while the question is open makes the front-end's prompt return False (it watches the same token)."""
    if ctx.cancel is not None and ctx.cancel.cancelled:
        return False
    return prompt(label, key_type, fingerprint) and not (ctx.cancel is not None and ctx.cancel.cancelled)


def gather_facts(ctx: WizardContext) -> HostFacts:
    """The host facts of the connected hub (``wizard.hub.facts.gather``: one round trip)."""
    from wizard.hub import facts

    # The demo sandbox runs on the operator's own machine: its cloud metadata says nothing about a hub.
    base = ctx.options.metadata_base or ("http://127.0.0.1:9" if ctx.mode == "sandbox" else facts.METADATA_BASE)
    return facts.gather(ctx.hub, metadata_base=base)


def _connected(ctx: WizardContext) -> bool:
    return ctx.target is not None and ctx.facts is not None


def ensure_target(ctx: WizardContext, progress: Progress = no_progress) -> list[Diagnosis]:
    """Reconnect when a resumed run reaches a step that needs the hub; the diagnoses say why it failed, if it did."""
    if _connected(ctx):
        return []
    found = connect(ctx, progress)
    return [] if _connected(ctx) else found


def facts_needed(ctx: WizardContext, progress: Progress = no_progress) -> list[Diagnosis]:
    """Connect and gather the host facts when a resumed run reaches a step that reads them. Returns an ERROR
    diagnosis when they cannot be had (the step shows it), else nothing."""
    if ctx.facts is not None:
        return []
    progress("facts", "gathering the host facts this step needs")
    found = ensure_target(ctx, progress)
    if not _connected(ctx):  # (a function: the call above may have set ctx.facts)
        return found or [Diagnosis("connect.facts", Status.ERROR, "the host facts could not be gathered",
                                   fix="go Back to Connect")]
    return []

