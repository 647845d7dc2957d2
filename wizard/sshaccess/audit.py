"""``check``'s SSH findings: who can reach the hub with a key, and what no longer should.

``findings(answers, target, paths=None) -> list[Diagnosis]`` — read-only, one round trip (``remote.py survey``):
- ``ssh.keys`` (OK): the ``jupyter-*`` accounts holding authorized keys, with their count (the wizard's own marked);
- ``ssh.offboarded`` (WARNING, one per account): keys in the account of a hub user who is no longer allowed in
  (``blocked_users``; not in ``allowed_users``/``admin_users`` when those lists are the whole access policy; or gone
  from the hub's database), and the wizard's admin keys in the account of someone who is no longer admin;
- ``ssh.orphans`` (WARNING): ``jupyter-*`` accounts that belong to no hub user (neither the hub's database, nor the
  answers, name a user whose account it is — TLJH's naming, ``wizard.sshaccess.naming``), listed with their keys;
- ``ssh.passwords`` (WARNING): sshd accepts password logins (``sshd -T``) although the answers turned them off
  (password login as such is ``wizard.audit.host``'s hygiene finding).

Hub users are read from JupyterHub's database when the hub has one (``state/jupyterhub.sqlite``), else from the
answers (admins, allowed users, per-user keys).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wizard.diagnosis import Diagnosis, Status
from wizard.hub.target import HubError
from wizard.sshaccess import engine, keys, naming
from wizard.sshaccess import sshd as sshdmod

if TYPE_CHECKING:
    from wizard.answers import Answers
    from wizard.audit.checks import AuditRun
    from wizard.hub.target import HubTarget


KEYS, OFFBOARDED, ORPHANS, PASSWORDS = "ssh.keys", "ssh.offboarded", "ssh.orphans", "ssh.passwords"

# Grants other than a list of names: with any of them the answers cannot tell who else is allowed.
_OTHER_GRANTS = ("allowed_organizations", "hosted_domain", "allowed_groups", "allow_all")


def _allowed(answers: Answers, user: str) -> bool | None:
    """Is ``user`` (normalised) allowed in by the answers? None when the answers' policy cannot tell."""
    norm = naming.normalize
    if user in {norm(u) for u in answers.get("authenticator.blocked_users") or []}:
        return False
    listed = {norm(u) for u in (answers.get("authenticator.allowed_users") or [])
              + (answers.get("authenticator.admin_users") or [])}
    if user in listed:
        return True
    section = answers.data.get("authenticator") or {}
    if any(section.get(grant) for grant in _OTHER_GRANTS) or section.get("type") in ("native", "firstuse", "dummy"):
        return None
    return False if section.get("allowed_users") else None


def _reverse(account: str) -> str | None:
    """The hub user of an account TLJH named without truncating (``jupyter-alice`` -> ``alice``), else None."""
    if account.startswith(naming.PREFIX) and naming.system_username(account[len(naming.PREFIX):]) == account:
        return account[len(naming.PREFIX):]
    return None


def findings(answers: Answers, target: HubTarget, paths: engine.SshdPaths | None = None) -> list[Diagnosis]:
    from wizard.sshaccess.answers import wanted_keys

    paths = paths or engine.paths_for(target)
    operator = getattr(target, "user", None) or "root"
    try:
        survey = engine.read_survey(target, paths, [operator], operator)
    except HubError as exc:
        return [Diagnosis(KEYS, Status.ERROR, f"cannot read the accounts on the hub: {exc}")]
    hub_users = survey.get("hub_users")
    known: dict[str, str] = {}  # account -> hub user
    admins_now = {naming.normalize(u) for u in answers.get("authenticator.admin_users") or []}
    candidates = set(admins_now) | {naming.normalize(u) for u in answers.get("authenticator.allowed_users") or []}
    candidates |= set(answers.get("ssh.user_keys") or {})
    in_db: set[str] = set()
    if hub_users is not None:
        in_db = {naming.normalize(name) for name, _admin in hub_users}
        admins_now |= {naming.normalize(name) for name, admin in hub_users if admin}
        candidates |= in_db
    for candidate in candidates:
        known[naming.system_username(candidate)] = candidate
    wanted = {naming.system_username(user): {keys.parse_public_key(line).blob for line in lines}
              for user, lines in wanted_keys(answers).items()}
    admin_blobs = {keys.parse_public_key(line).blob for line in answers.get("ssh.admin_keys") or []}

    out: list[Diagnosis] = []
    holding: list[str] = []
    orphans: list[str] = []
    for account in survey["jupyter_accounts"]:
        info = survey["accounts"].get(account) or {}
        entries = [e for e in keys.parse_file((info.get("keys") or {}).get("text") or "") if e.blob is not None]
        if not entries:
            continue
        managed = [e for e in entries if e.managed]
        holding.append(f"{account} ({len(entries)} key(s)" + (f", {len(managed)} the wizard's)" if managed else ")"))
        user: str | None = known.get(account)
        described = "; ".join(key.describe() for key in (e.key for e in entries[:5]) if key is not None) + (
            " …" if len(entries) > 5 else "")
        if user is None and not managed:
            orphans.append(f"{account}: {described}")
            continue
        reasons = []
        if user is None:  # the wizard installed these keys for a user the answers no longer give any
            user = _reverse(account)
            if hub_users is not None:
                reasons.append(f"{user or account} is no longer a user of the hub")
        allowed = _allowed(answers, user) if user else None
        if allowed is False:
            reasons.append(f"{user} is no longer allowed to log in to the hub")
        elif hub_users is not None and user not in in_db and allowed is not True and not reasons:
            reasons.append(f"{user} is no longer a user of the hub")
        if not reasons and account not in wanted:
            reasons.append("the answers no longer give this account any key")
        stale_admin = [e for e in managed if e.blob in admin_blobs and user not in admins_now]
        if stale_admin:
            reasons.append(f"{user or account} is no longer admin but the account holds {len(stale_admin)} admin "
                           "key(s)")
        if reasons:
            unwanted = [e for e in managed if e.blob not in wanted.get(account, set())]
            out.append(Diagnosis(
                OFFBOARDED, Status.WARNING, f"{account} still holds SSH keys: {'; '.join(reasons)}",
                details=described,
                fix=("apply the answers again: it removes the wizard's lines" if unwanted else
                     f"remove the keys from ~{account}/.ssh/authorized_keys (they are not the wizard's)"),
                data={"account": account, "user": user}))
    out.insert(0, Diagnosis(KEYS, Status.OK, f"{len(holding)} jupyter-* account(s) hold SSH keys"
                            + (f": {', '.join(holding[:10])}" if holding else ""),
                            data={"accounts": holding}))
    if orphans:
        out.append(Diagnosis(ORPHANS, Status.WARNING, f"{len(orphans)} account(s) with SSH keys belong to no hub "
                             "user", details="\n".join(orphans),
                             fix="remove the account (userdel -r) or its keys, unless you know whose it is"))
    sshd = survey["sshd"]
    wanted_off = answers.get("ssh.password_authentication") == "disable"
    if sshd["status"] != 0 and wanted_off:
        out.append(Diagnosis(PASSWORDS, Status.SKIPPED, f"sshd -T failed: {sshd['error'][-200:]}"))
        return out
    if not wanted_off:  # password login as such is the hygiene finding audit.ssh_password (wizard.audit.host)
        return out
    state = engine._password_state(sshdmod.parse_effective(sshd["operator"]))
    if state == "no":
        out.append(Diagnosis(PASSWORDS, Status.OK, "sshd accepts no password logins, as the answers want"))
    else:
        out.append(Diagnosis(PASSWORDS, Status.WARNING, f"sshd accepts password logins ({state}), although the "
                             "answers turned them off",
                             fix="apply the answers again (the drop-in was removed, or something overrides it)"))
    return out


def probe(run: AuditRun) -> list[Diagnosis]:
    """``check``'s probe (``wizard.audit.checks.register``): the findings over the audit's one hub connection."""
    if not applies(run.subject.answers):
        return []
    return findings(run.subject.answers, run.value("hub"))


def applies(answers: Answers | None) -> bool:
    """``check`` looks at SSH access when the wizard manages it for this hub (the ``ssh`` answers)."""
    return answers is not None and "ssh" not in answers.skipped and bool(answers.data.get("ssh"))
