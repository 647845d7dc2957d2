"""SSH access: what the SSH answers would do on the hub (accounts, fingerprints, what in sshd would stop the
logins), the SSH part of the plan, and Done's login lines."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wizard.context import Progress, WizardContext, no_progress
from wizard.diagnosis import Diagnosis, Status
from wizard.steps.connect import ensure_target

if TYPE_CHECKING:
    from wizard.sshaccess.engine import SshPlan


def ssh_checks(ctx: WizardContext, progress: Progress = no_progress) -> list[Diagnosis]:
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
        planned = engine.plan(ctx.answers, ctx.hub)
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


def ssh_plan(ctx: WizardContext, progress: Progress = no_progress) -> SshPlan | None:
    """The SSH part of the plan (``wizard.sshaccess.engine.SshPlan``) or None; never on the demo sandbox."""
    if ctx.mode == "sandbox":
        return None
    from wizard.sshaccess import engine

    progress("plan", "reading accounts and sshd's configuration")
    return engine.plan(ctx.answers, ctx.hub)


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

