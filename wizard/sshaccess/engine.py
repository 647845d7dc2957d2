"""The SSH access step's engine: survey the hub, plan, execute (with proof and revert), verify by logging in.

Shapes:
- ``plan(answers, target, paths=None) -> SshPlan | None`` — one read-only round trip (``remote.py survey``). None when
  the answers leave SSH alone (the ``ssh`` section skipped or never answered).
- ``execute(plan, target, session, progress) -> list[Diagnosis]`` — the reviewed actions in order, each journaled in
  the session (intent before, outcome after): ``ssh-accounts`` (missing accounts created as TLJH creates them),
  ``ssh-keys`` (authorized_keys files written by their accounts, verified), ``sshd-passwords`` (the drop-in, proven
  by a new key login before the operator's connection is given up; reverted otherwise), ``ssh-verify`` (a second
  connection as ``jupyter-<admin>`` runs ``id`` and ``sudo -n true``).

Paths of sshd are configurable (``SshdPaths``, defaults those of Debian/Ubuntu's openssh-server); a target may carry
its own as ``target.sshd_paths`` (test rigs run sshd with a config file of their own).

What is kept, what is changed: only the wizard's own lines in an authorized_keys file (``keys.MARK``), only the one
drop-in file it names; accounts are created only when a key is to be installed and only the way TLJH's spawner
would create them at the user's first login (``naming``), so TLJH later finds each as its own.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from wizard.diagnosis import Diagnosis, Status
from wizard.hub.target import HubError
from wizard.sshaccess import keys as keymod
from wizard.sshaccess import naming
from wizard.sshaccess import sshd as sshdmod

if TYPE_CHECKING:
    from wizard.answers import Answers
    from wizard.hub.ssh import SSHTarget
    from wizard.hub.target import HubTarget
    from wizard.session import Session


Progress = Callable[[str, str, str], None]  # (action id, phase: start/done/failed, detail)

DROPIN_TEXT = ("# Written by tljh-wizard: password login off. To undo: remove this file, then reload sshd.\n"
               "PasswordAuthentication no\nKbdInteractiveAuthentication no\n")
PROOF_ATTEMPTS = 8  # a reloaded sshd re-executes itself: new connections may be refused for a moment


@dataclass(frozen=True)
class SshdPaths:
    """Where sshd and its configuration live on the hub."""

    sshd: str = "/usr/sbin/sshd"
    config: str = "/etc/ssh/sshd_config"
    dropin_dir: str = "/etc/ssh/sshd_config.d"
    # Files of the drop-in directory are read in lexical order and the first value wins (servconf.c): "01-" comes
    # before the "50-cloud-init.conf" some cloud images ship with PasswordAuthentication yes.
    dropin_name: str = "01-tljh-wizard.conf"
    config_dir: str = "/etc/ssh"  # relative Include patterns are read from here

    @classmethod
    def beside(cls, config: str) -> "SshdPaths":
        """An sshd_config elsewhere (a test rig's), its drop-in directory ``sshd_config.d`` next to it."""
        import posixpath

        directory = posixpath.dirname(config)
        return cls(config=config, dropin_dir=posixpath.join(directory, "sshd_config.d"), config_dir=directory)


def paths_for(target: HubTarget) -> SshdPaths:
    return target.sshd_paths or SshdPaths()


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def call(target: HubTarget, operation: str, request: dict[str, Any], timeout: float = 120.0) -> dict[str, Any]:
    """Run one operation of ``remote.SCRIPT`` as root on the hub: one round trip, JSON in and out."""
    from wizard.sshaccess.remote import SCRIPT

    result = target.run(["python3", "-c", SCRIPT, operation], stdin=json.dumps(request).encode("utf-8"),
                        sudo=True, timeout=timeout)
    if not result.ok:
        detail = result.stderr.decode("utf-8", "replace").strip().splitlines()[-2:]
        raise HubError(f"the SSH access step's {operation} on the hub failed (status {result.exit_status})"
                       + (f": {' / '.join(detail)}" if detail else ""))
    try:
        answer = json.loads(result.stdout.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise HubError(f"the SSH access step's {operation} on the hub answered something unreadable") from None
    if not isinstance(answer, dict):
        raise HubError(f"the SSH access step's {operation} on the hub answered something else than a JSON object")
    return answer


# ---------------------------------------------------------------------------------------------------------------
# plan


@dataclass
class AccountChange:
    """One account's change: created (as TLJH would) and/or its authorized_keys rewritten."""

    account: str
    hub_user: str | None  # None: an account whose only change is the removal of the wizard's lines
    admin: bool
    create: bool
    added: list[keymod.PublicKey]
    removed: list[keymod.PublicKey]
    old_sha256: str  # of the file the plan read ("missing": none)
    new_text: str

    @property
    def keys_changed(self) -> bool:
        return bool(self.added or self.removed)


@dataclass
class SshPlan:
    paths: SshdPaths
    changes: list[AccountChange] = field(default_factory=list)
    password: str = "keep"
    dropin_text: str | None = None  # set: password login goes off with this drop-in
    dropin_old: str | None = None  # the drop-in's text before (None: no such file)
    findings: list[Diagnosis] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)  # why the plan cannot be applied as answered
    verify: tuple[str, str] | None = None  # (account, how the wizard holds its key) for the verifying login
    logins: list[str] = field(default_factory=list)  # the exact ssh commands for the admins' accounts
    operator: str = "root"

    @property
    def actions(self) -> list[tuple[str, str]]:
        out = []
        created = [c.account for c in self.changes if c.create]
        if created:
            out.append(("ssh-accounts", f"create {', '.join(created)} as TLJH does (useradd --create-home, "
                                        f"groups {naming.USERS_GROUP}/{naming.ADMINS_GROUP})"))
        if any(c.keys_changed for c in self.changes):
            count = sum(len(c.added) for c in self.changes)
            gone = sum(len(c.removed) for c in self.changes)
            out.append(("ssh-keys", f"authorized_keys: add {count} key(s), remove {gone} of the wizard's own "
                                    "(0700 ~/.ssh, 0600 file, written by each account itself):\n"
                                    + "\n".join(f"     {line}" for line in self.key_lines())))
        if self.dropin_text is not None:
            out.append(("sshd-passwords", f"password login off: {self.paths.dropin_dir}/{self.paths.dropin_name}, "
                                          "sshd -t, reload, proven by a new key login (else reverted)"))
        if self.verify and out:
            out.append(("ssh-verify", f"log in as {self.verify[0]} with {self.verify[1]}: id, sudo -n true"))
        return out

    def key_lines(self) -> list[str]:
        """Each account whose keys change, and the fingerprints added or removed (as ``ssh-keygen -l`` prints)."""
        out = []
        for change in self.changes:
            if not change.keys_changed:
                continue
            role = "admin" if change.admin else "user"
            out.append(f"{change.account} ({role} {change.hub_user})" if change.hub_user else change.account)
            out += [f"  + {key.describe()}" for key in change.added]
            out += [f"  - {key.describe()} (the wizard's line)" for key in change.removed]
        return out

    def lines(self) -> list[str]:
        """The Review's lines: each account and the fingerprints added or removed."""
        out = []
        for change in self.changes:
            role = "admin" if change.admin else "user"
            head = f"{change.account} ({role} {change.hub_user})" if change.hub_user else change.account
            if change.create:
                head += ": new account, as TLJH creates it on first login"
            out.append(head)
            out += [f"  + {key.describe()}" for key in change.added]
            out += [f"  - {key.describe()} (the wizard's line)" for key in change.removed]
        if self.dropin_text is not None:
            out.append(f"sshd: PasswordAuthentication no via {self.paths.dropin_dir}/{self.paths.dropin_name}")
        out += [f"refused: {reason}" for reason in self.refusals]
        return out


def read_survey(target: HubTarget, paths: SshdPaths, accounts: list[str], operator: str) -> dict[str, Any]:
    """The hub's accounts, keys, groups, hub users and sshd settings (``remote.py survey``): one round trip."""
    return call(target, "survey", {
        "accounts": accounts, "sshd": paths.sshd, "config": paths.config, "dropin_dir": paths.dropin_dir,
        "dropin_name": paths.dropin_name, "operator": operator,
        "hub_db": str(target.prefix / "state" / "jupyterhub.sqlite")})


def plan(answers: Answers, target: HubTarget, paths: SshdPaths | None = None) -> SshPlan | None:
    """What the ``ssh`` answers would change on the hub; touches nothing. ``None`` when SSH is left alone."""
    from wizard.sshaccess.answers import wanted_keys

    if "ssh" in answers.skipped or not answers.data.get("ssh"):
        return None
    paths = paths or paths_for(target)
    wanted = {naming.system_username(user): (user, keymod.parse_lines(lines))
              for user, lines in wanted_keys(answers).items()}
    admins = {naming.normalize(name) for name in answers.get("authenticator.admin_users") or []}
    operator = getattr(target, "user", None) or "root"
    survey = read_survey(target, paths, sorted(set(wanted) | {operator}), operator)
    result = SshPlan(paths, password=answers.get("ssh.password_authentication") or "keep", operator=operator)
    accounts = survey["accounts"]
    for account in sorted(set(wanted) | set(survey["jupyter_accounts"])):
        hub_user, keys = wanted.get(account, (None, []))
        info = accounts.get(account) or {"exists": False}
        if not info["exists"]:
            if keys:
                result.changes.append(AccountChange(account, hub_user, hub_user in admins, True, keys, [],
                                                    "missing", keymod.merge("", keys).text))
            continue
        state = info["keys"]
        if state["dir"] not in ("dir", "missing") or state["file"] not in ("file", "missing"):
            if keys:
                result.refusals.append(f"{account}: ~/.ssh{'' if state['dir'] != 'dir' else '/authorized_keys'} "
                                       "is not a plain directory/file (a symlink?): fix it by hand first")
            continue
        if state.get("too_big"):
            result.refusals.append(f"{account}: ~/.ssh/authorized_keys is over 1 MiB; look at it by hand")
            continue
        text = state.get("text") or ""
        merged = keymod.merge(text, keys)
        if merged.changed:
            result.changes.append(AccountChange(account, hub_user, hub_user in admins, False, merged.added,
                                                merged.removed, state.get("sha256") or "missing", merged.text))
    if any(c.create for c in result.changes) and (survey["groups"].get(naming.USERS_GROUP) is None):
        result.refusals.append(f"the group {naming.USERS_GROUP} is missing: TLJH is not installed on this hub "
                               "(its installer creates the groups the accounts go in)")
    _analyse_sshd(result, survey, wanted, admins, answers, target)
    _plan_password(result, survey, target)
    _plan_verify(result, answers, target, wanted, admins)
    return result


def _groups_for(account: str, info: dict[str, Any], admin: bool) -> list[str]:
    if info.get("exists"):
        return list(info.get("groups") or [])
    return [account, naming.USERS_GROUP] + ([naming.ADMINS_GROUP] if admin else [])


def _analyse_sshd(result: SshPlan, survey: dict[str, Any], wanted: dict[str, Any], admins: set[str],
                  answers: Answers, target: HubTarget) -> None:
    sshd = survey["sshd"]
    if sshd["status"] != 0:
        result.findings.append(Diagnosis("ssh.sshd", Status.ERROR, "sshd -T could not read sshd's configuration: "
                                          + (sshd["error"][-200:] or f"status {sshd['status']}"),
                                          fix=f"check {result.paths.config} with sshd -t on the hub"))
        return
    accounts = survey["accounts"]
    operator_config = sshdmod.parse_effective(sshd["operator"])
    connection = (survey.get("operator_connection") or "").split()
    addr = connection[0] if connection else None
    operator_info = accounts.get(result.operator) or {}
    verdict = sshdmod.login_verdict(operator_config, result.operator, operator_info.get("groups") or [],
                                    host=addr, addr=addr, shell_ok=operator_info.get("shell_ok", True),
                                    locked=operator_info.get("locked", False), home=operator_info.get("home"))
    if not verdict.ok:
        result.findings.append(Diagnosis(
            "ssh.operator", Status.ERROR, f"sshd's configuration as it is now would refuse YOUR next login as "
            f"{result.operator}: {'; '.join(verdict.problems)}",
            fix="fix sshd_config before closing this connection (someone changed it since sshd last read it?)"))
    allow = operator_config.get("allowusers", [])
    for account, (hub_user, keys) in wanted.items():
        if not keys:
            continue
        info = accounts.get(account) or {"exists": False}
        per = sshd["per_account"].get(account)
        config = sshdmod.parse_effective(per) if per else operator_config
        check = sshdmod.login_verdict(config, account, _groups_for(account, info, hub_user in admins),
                                      shell_ok=info.get("shell_ok", True), locked=info.get("locked", True),
                                      home=info.get("home"))
        if check.problems:
            fix = "change sshd_config on the hub"
            if any(p.startswith("AllowUsers") for p in check.problems):
                fix = (f"add {account} to AllowUsers — and keep {result.operator} in it, or your own login is "
                       "locked out: AllowUsers " + " ".join(dict.fromkeys([*allow, result.operator, account])))
            result.findings.append(Diagnosis(f"ssh.login.{account}", Status.WARNING,
                                             f"sshd would refuse {account}: {'; '.join(check.problems)}", fix=fix))
        for note in check.notes:
            result.findings.append(Diagnosis(f"ssh.login.{account}", Status.WARNING, note))
    if sshdmod.first(operator_config, "permitrootlogin") == "yes":
        result.findings.append(Diagnosis("ssh.root", Status.WARNING, "PermitRootLogin yes: root may log in, with "
                                         "a password too while password login is on",
                                         fix="PermitRootLogin prohibit-password (or no) in sshd_config"))
    result.findings.append(Diagnosis("ssh.sshd", Status.OK, "sshd: PubkeyAuthentication "
                                     f"{sshdmod.first(operator_config, 'pubkeyauthentication', 'yes')}, "
                                     f"PasswordAuthentication {_password_state(operator_config)}"))


def _password_state(config: dict[str, Any]) -> str:
    password = sshdmod.first(config, "passwordauthentication", "yes")
    kbd = sshdmod.first(config, "kbdinteractiveauthentication",
                        sshdmod.first(config, "challengeresponseauthentication", "yes"))
    if password == "no" and (kbd == "no" or sshdmod.first(config, "usepam", "no") != "yes"):
        return "no"
    return "yes" if password == "yes" else "no (but keyboard-interactive with PAM asks for passwords)"


def operator_auth(target: HubTarget) -> str | None:
    """How the operator's own connection logged in: ``publickey``, ``password``, ``keyboard-interactive``; None
    when it cannot be told (on the hub itself with --local, the sandbox)."""
    client = getattr(target, "_client", None)
    transport = client.get_transport() if client is not None else None
    handler = getattr(transport, "auth_handler", None) if transport is not None else None
    return getattr(handler, "auth_method", None) or None


def _plan_password(result: SshPlan, survey: dict[str, Any], target: HubTarget) -> None:
    if result.password != "disable" or survey["sshd"]["status"] != 0:
        return
    config = sshdmod.parse_effective(survey["sshd"]["operator"])
    if _password_state(config) == "no":
        result.findings.append(Diagnosis("ssh.passwords", Status.OK, "password login is already off"))
        return
    paths = result.paths
    method = operator_auth(target)
    if method != "publickey":
        how = "in a way the wizard cannot see (on the hub itself?)" if method is None else f"with {method}"
        result.refusals.append(f"password login stays on: your own connection logged in {how}; connect with a key "
                               "first, so turning passwords off cannot lock you out")
        return
    if not sshdmod.includes(survey.get("main_config") or "", paths.dropin_dir, paths.dropin_name, paths.config_dir):
        result.refusals.append(f"password login stays on: {paths.config} does not Include {paths.dropin_dir}/*.conf "
                               f"at its top; add the line `Include {paths.dropin_dir}/*.conf` as its first line "
                               "(Debian's and Ubuntu's default), or set PasswordAuthentication no there by hand")
        return
    result.dropin_text, result.dropin_old = DROPIN_TEXT, survey.get("dropin_text")


def held_keys(target: HubTarget) -> list[tuple[bytes, str]]:
    """Public halves of the keys this run can log in with (the key file, else the agent's keys)."""
    import paramiko

    out: list[tuple[bytes, str]] = []
    key_file = getattr(target, "key_file", None)
    if key_file:
        from pathlib import Path

        try:
            passphrase = getattr(target, "_passphrase", None)
            key = paramiko.PKey.from_path(Path(key_file).expanduser(),
                                          password=passphrase.encode() if passphrase else None)
            out.append((key.asbytes(), f"the key {key_file}"))
        except Exception:  # an unreadable key simply cannot verify: the step says which login to try by hand
            pass
        return out
    if getattr(target, "allow_agent", False):
        try:
            out += [(key.asbytes(), "a key of your SSH agent") for key in paramiko.Agent().get_keys()]
        except Exception:
            pass
    return out


def _plan_verify(result: SshPlan, answers: Answers, target: HubTarget, wanted: dict[str, Any],
                 admins: set[str]) -> None:
    host = answers.get("domain.name") or getattr(target, "host", None) or answers.get("connection.host") or "HUB"
    port = getattr(target, "port", 22) or 22
    for account, (hub_user, keys) in sorted(wanted.items()):
        if hub_user in admins and keys:
            result.logins.append(ssh_command(account, host, port))
    if not hasattr(target, "_client"):
        return
    held = held_keys(target)
    for account, (hub_user, keys) in sorted(wanted.items()):
        if hub_user not in admins:
            continue
        blobs = {key.blob for key in keys}
        for blob, how in held:
            if blob in blobs:
                result.verify = (account, how)
                return


def ssh_command(account: str, host: str, port: int = 22) -> str:
    """The exact command to log in as ``account`` (quoted for a POSIX shell)."""
    return shlex.join(["ssh", *(["-p", str(port)] if port != 22 else []), f"{account}@{host}"])


# ---------------------------------------------------------------------------------------------------------------
# execute


def _journal(session: Session | None, action: str, phase: str, **data: Any) -> None:
    if session is not None:
        session.journal(action, phase, **data)


def execute(plan: SshPlan, target: HubTarget, session: Session | None = None,
            progress: Progress | None = None) -> list[Diagnosis]:
    """Run the plan's actions in order; stop at the first failure. Every outcome is a Diagnosis (``apply.ssh-*``)."""
    report = progress or (lambda *_: None)
    out: list[Diagnosis] = []
    if plan.refusals:
        return [Diagnosis("apply.ssh", Status.ERROR, "; ".join(plan.refusals))]
    for action, title in plan.actions:
        _journal(session, action, "intent")
        report(action, "start", title)
        try:
            diagnosis = _ACTIONS[action](plan, target)
        except HubError as exc:
            diagnosis = Diagnosis(f"apply.{action}", Status.ERROR, str(exc))
        failed = diagnosis.status is Status.ERROR
        _journal(session, action, "failed" if failed else "done", detail=diagnosis.summary)
        report(action, "failed" if failed else "done", diagnosis.summary)
        out.append(diagnosis)
        if failed:
            break
    else:
        if plan.verify is None and plan.logins and any(c.keys_changed and c.admin for c in plan.changes):
            out.append(Diagnosis("apply.ssh-verify", Status.SKIPPED, "not verified: this run holds none of the "
                                 "admin keys; try the login by hand", fix=" ; ".join(plan.logins),
                                 data={"logins": list(plan.logins)}))
    return out


def _create_accounts(plan: SshPlan, target: HubTarget) -> Diagnosis:
    create = [{"name": c.account, "admin": c.admin} for c in plan.changes if c.create]
    answer = call(target, "accounts", {"create": create})
    if answer["errors"]:
        return Diagnosis("apply.ssh-accounts", Status.ERROR, "creating accounts failed: " + "; ".join(answer["errors"]))
    return Diagnosis("apply.ssh-accounts", Status.OK, f"created {', '.join(answer['created']) or 'nothing'}")


def _write_keys(plan: SshPlan, target: HubTarget) -> Diagnosis:
    files = [{"user": c.account, "old_sha256": c.old_sha256, "text": c.new_text, "sha256": _sha(c.new_text)}
             for c in plan.changes if c.keys_changed]
    answer = call(target, "keys", {"files": files})
    if answer["errors"]:
        return Diagnosis("apply.ssh-keys", Status.ERROR, "authorized_keys not written: " + "; ".join(answer["errors"]),
                         details=f"written: {', '.join(answer['written']) or 'none'}")
    return Diagnosis("apply.ssh-keys", Status.OK, f"authorized_keys written for {', '.join(answer['written'])}")


def _sshd_request(plan: SshPlan, text: str | None, old: str | None) -> dict[str, Any]:
    paths = plan.paths
    return {"sshd": paths.sshd, "config": paths.config, "dropin_dir": paths.dropin_dir,
            "dropin_name": paths.dropin_name, "text": text, "old_sha256": "missing" if old is None else _sha(old),
            "expect": {"passwordauthentication": "no", "kbdinteractiveauthentication": "no"} if text else {}}


def _disable_passwords(plan: SshPlan, target: HubTarget) -> Diagnosis:
    answer = call(target, "dropin", _sshd_request(plan, plan.dropin_text, plan.dropin_old))
    if not answer["ok"]:
        kept = "sshd's configuration is unchanged" if answer.get("restored", True) else \
            "PUTTING THE PREVIOUS DROP-IN BACK FAILED: look at the hub now"
        return Diagnosis("apply.sshd-passwords", Status.ERROR, f"password login stays on: {answer['error']}; {kept}")
    reload = call(target, "reload", _sshd_request(plan, None, None))
    problem = None if reload["ok"] else reload["error"]
    if problem is None:
        problem = prove_key_login(target)
    if problem is None:
        methods = offered_methods(target)
        if methods is not None and ("password" in methods or "keyboard-interactive" in methods):
            problem = f"sshd still offers {', '.join(methods)} after the reload"
        else:
            return Diagnosis("apply.sshd-passwords", Status.OK, "password login is off; a new key login was proven "
                             "before this connection was given up"
                             + (f" (sshd now offers: {', '.join(methods)})" if methods else ""))
    # Revert: the previous drop-in back, sshd reloaded, and the old connection (still open) is the way in.
    revert = call(target, "dropin", _sshd_request(plan, plan.dropin_old, plan.dropin_text))
    reloaded = call(target, "reload", _sshd_request(plan, None, None)) if revert.get("ok") else {"ok": False}
    undone = "the drop-in was reverted and sshd reloaded" if revert.get("ok") and reloaded.get("ok") else \
        f"REVERTING FAILED ({revert.get('error') or reloaded.get('error')}): keep this connection open and fix " \
        f"{plan.paths.dropin_dir}/{plan.paths.dropin_name} by hand"
    return Diagnosis("apply.sshd-passwords", Status.ERROR, f"password login was NOT turned off: {problem}; {undone}")


def clone_target(target: SSHTarget, *, user: str | None = None, key_file: str | None = None) -> SSHTarget:
    """A second, independent SSH connection to the same hub: the host key pinned to the one this run verified."""
    from wizard.hub.ssh import SSHTarget

    return SSHTarget(target.host, port=target.port, user=user or target.user,
                     key_file=key_file if key_file is not None else target.key_file,
                     key_passphrase=getattr(target, "_passphrase", None), allow_agent=target.allow_agent,
                     look_for_keys=target.look_for_keys, pinned_host_key=target.host_key_fingerprint,
                     known_hosts_files=target.known_hosts_files, own_known_hosts=target.own_known_hosts,
                     prefix=str(target.prefix), connect_timeout=target.connect_timeout)


def prove_key_login(target: HubTarget, attempts: int = PROOF_ATTEMPTS) -> str | None:
    """Open a NEW connection like the operator's (key based) and run ``true``; None when it worked, else why not.
    sshd re-executes itself on SIGHUP, so a refused connection is retried for a few seconds."""
    from wizard.hub.ssh import SSHTarget
    from wizard.hub.target import ConnectError

    if not isinstance(target, SSHTarget):
        return "no SSH connection to prove a login with"
    delay, last = 0.1, "no attempt"
    for _ in range(attempts):
        probe = clone_target(target)
        try:
            probe.connect()
            if probe.run(["true"], timeout=30).ok:
                return None
            last = "the new connection could not run a command"
        except ConnectError as exc:
            last = str(exc)
            if exc.kind == "auth":
                return f"a new key login was refused: {last}"
        except HubError as exc:
            last = str(exc)
        finally:
            probe.close()
        time.sleep(delay)
        delay = min(delay * 2, 2.0)
    return f"no new connection could be made: {last}"


def offered_methods(target: HubTarget) -> list[str] | None:
    """The authentication methods sshd offers now (a "none" attempt on a fresh transport), or None (also when the
    hub is not reached over SSH)."""
    import socket

    import paramiko

    from wizard.hub.ssh import SSHTarget

    if not isinstance(target, SSHTarget):
        return None
    try:
        sock = socket.create_connection((target.host, target.port), timeout=10)
    except OSError:
        return None
    transport = paramiko.Transport(sock)
    try:
        transport.start_client(timeout=10)
        key = transport.get_remote_server_key()
        from wizard.hub.ssh import fingerprint

        if fingerprint(key) != target.host_key_fingerprint:
            return None
        try:
            transport.auth_none(target.user)
        except paramiko.BadAuthenticationType as exc:
            return list(exc.allowed_types)
        except paramiko.SSHException:
            return None
        return []
    except (paramiko.SSHException, OSError, EOFError):
        return None
    finally:
        transport.close()


def _verify(plan: SshPlan, target: HubTarget) -> Diagnosis:
    if plan.verify is None:
        return Diagnosis("apply.ssh-verify", Status.SKIPPED, "no login to verify with")
    account, how = plan.verify
    from wizard.hub.ssh import SSHTarget
    from wizard.hub.target import ConnectError

    if not isinstance(target, SSHTarget):
        return Diagnosis("apply.ssh-verify", Status.SKIPPED, "not verified: the hub is not reached over SSH")
    probe = clone_target(target, user=account)

    try:
        probe.connect()
        ident = probe.run(["id"], timeout=30)
        sudo = probe.run(["sudo", "-n", "true"], timeout=30)
    except (ConnectError, HubError) as exc:
        return Diagnosis("apply.ssh-verify", Status.ERROR, f"logging in as {account} failed: {exc}",
                         fix="try it by hand: " + (plan.logins[0] if plan.logins else f"ssh {account}@HUB"))
    finally:
        probe.close()
    text = ident.text.strip()
    if not ident.ok:
        return Diagnosis("apply.ssh-verify", Status.ERROR, f"{account} logged in but `id` failed")
    if not sudo.ok:
        return Diagnosis("apply.ssh-verify", Status.WARNING, f"{account} logs in ({text}) but `sudo -n true` "
                         "failed: the account is not (yet) in jupyterhub-admins",
                         fix="TLJH adds admins to jupyterhub-admins on their next server start")
    return Diagnosis("apply.ssh-verify", Status.OK, f"logged in as {account} with {how}: {text}; sudo -n true works",
                     data={"id": text})


_ACTIONS = {"ssh-accounts": _create_accounts, "ssh-keys": _write_keys, "sshd-passwords": _disable_passwords,
            "ssh-verify": _verify}
