"""Who can log in: a preview computed by the authenticator's own code, and the preflight that guards apply.

- ``sample_identities(config)``: people to try, derived from a TLJH config (each admin, an allowed user, an
  organization/group/domain member, a Native newcomer, a blocked user, an outsider); ``parse_identity`` adds the
  operator's own (``alice@example.edu:groups=students``).
- ``preview(config, identities, target=None)``: runs ``wizard.access.probe`` — on the hub with
  ``PREFIX/hub/bin/python`` over the target's connection (the script on stdin, read-only, a scratch directory), else
  with this machine's Python when JupyterHub and the authenticator packages are importable here, else SKIPPED.
  Returns a ``Preview``: where it ran, the configurer used, and one ``Verdict`` per identity.
- ``Preview.diagnoses(...)``: the preflight. A config the authenticator cannot be constructed with (the hub would
  not start), one that admits nobody, or one that admits every account without a confirmed allow-all is an ERROR;
  an admin who cannot log in is a WARNING.

Secrets never leave: the config sent to the probe has every secret value replaced by a placeholder (constructing
an authenticator does not need them).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any, Iterable, Mapping, cast

from wizard.diagnosis import Diagnosis, Status
from wizard.fields import ValidationError
from wizard.mappings import section as mapping_section

if TYPE_CHECKING:
    from wizard.answers import Answers
    from wizard.hub.target import HubTarget


PREVIEW, PREFLIGHT = "access.preview", "access.preflight"
OUTSIDER = "outsider"
_KEYS = ("groups", "orgs", "domain", "approved", "public")
_FREE_MAIL = ("gmail.com", "googlemail.com")
PLACEHOLDER_SECRET = "preview-placeholder-not-a-secret"


@dataclass
class Verdict:
    name: str  # what the person logs in as (GitHub login, e-mail, LDAP login)
    label: str  # why this identity is in the table
    username: str | None  # the hub user name the authenticator produced (None: refused)
    allowed: bool
    admin: bool
    rule: str  # what decided

    @property
    def outcome(self) -> str:
        return "admin" if self.allowed and self.admin else "allowed" if self.allowed else "refused"


@dataclass
class Preview:
    """The outcome of one run. ``where``: "hub" (PREFIX/hub/bin/python), "local", or "" (not run)."""

    where: str
    authenticator: str = ""
    configurer: str = ""
    constructed: bool = False
    error: str = ""  # the authenticator (or TLJH's configurer) refused the config: the hub would not start
    skipped: str = ""  # why it did not run
    allow_all: bool = False
    verdicts: list[Verdict] = field(default_factory=list)
    identity_errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for verdict, item in zip(self.verdicts, data["verdicts"]):
            item["outcome"] = verdict.outcome
        return data

    def table(self) -> str:
        """The preview as a text table (one identity a line)."""
        if self.skipped:
            return f"Who can log in: SKIPPED — {self.skipped}"
        if self.error:
            return f"Who can log in: the authenticator cannot be constructed: {self.error}"
        where = {"hub": "the hub's own Python", "local": "this machine's Python"}.get(self.where, self.where)
        lines = [f"Who can log in ({self.authenticator}, computed by its own code with {where}; "
                 f"config applied by {self.configurer}):"]
        width = max([len(v.name) for v in self.verdicts] + [8])
        for verdict in self.verdicts:
            shown = f" as {verdict.username}" if verdict.username and verdict.username != verdict.name else ""
            lines.append(f"  {verdict.name:<{width}}  {verdict.outcome.upper():8} {verdict.rule}{shown}"
                         f"  [{verdict.label}]")
        return "\n".join(lines)

    def diagnoses(self, *, allow_all_confirmed: bool = False, live: bool = False) -> list[Diagnosis]:
        """The preflight (``live``: judging a hub's running config for ``check``, where a confirmation is unknown)."""
        data = self.to_json()
        if self.skipped:
            return [Diagnosis(PREVIEW, Status.SKIPPED, f"who can log in: not computed — {self.skipped}", data=data)]
        if self.error:
            return [Diagnosis(PREFLIGHT, Status.ERROR, f"the authenticator cannot be constructed with this config: "
                              f"{self.error[:300]} — the hub would not start", fix=_fix_for(self.error),
                              data=data)]
        findings = []
        allowed = [v for v in self.verdicts if v.allowed]
        outsiders = [v for v in self.verdicts if v.label == OUTSIDER]
        if self.identity_errors:
            findings.append(Diagnosis(PREFLIGHT, Status.ERROR, "the authenticator failed on a sample login: "
                                      + self.identity_errors[0][:300], details="\n".join(self.identity_errors)))
        if not allowed and not self.identity_errors:
            findings.append(Diagnosis(PREFLIGHT, Status.ERROR, "nobody can log in: every sample identity, admins "
                                      "included, is refused", details=self.table(),
                                      fix="grant access: allowed users, organizations, groups or a domain (or a "
                                          "confirmed allow_all)"))
        elif any(v.allowed for v in outsiders):
            if live:
                findings.append(Diagnosis(PREFLIGHT, Status.WARNING, f"every account can log in ({self.authenticator}"
                                          " lets an outsider in)", details=self.table(),
                                          fix="narrow the policy unless that is intended (tljh-wizard HOST)"))
            elif not allow_all_confirmed:
                findings.append(Diagnosis(PREFLIGHT, Status.ERROR, "the config lets every account of the provider "
                                          "in, and allow-all was not confirmed", details=self.table(),
                                          fix="set authenticator.allow_all: true to confirm, or grant a narrower "
                                              "set of people"))
        for verdict in self.verdicts if not self.identity_errors else []:
            if verdict.label.startswith("admin") and not verdict.allowed:
                findings.append(Diagnosis(PREFLIGHT, Status.WARNING, f"admin {verdict.name} cannot log in: "
                                          f"{verdict.rule}", fix=f"add {verdict.name} to allowed_users (for this "
                                          "authenticator admin_users alone does not grant access)"))
        summary = ", ".join(f"{v.name}: {v.outcome}" for v in self.verdicts)
        status = Status.OK
        findings.insert(0, Diagnosis(PREVIEW, status, f"who can log in ({self.where}): {summary}"[:400],
                                     details=self.table(), data=data))
        return findings


def _fix_for(error: str) -> str:
    if "manage_groups" in error:
        return "groups need manage_groups: true (the wizard renders it with allowed_groups and groups_claim)"
    if "bind_dn_template" in error or "lookup_dn" in error:
        return "set authenticator.bind_dn_template or lookup_dn"
    if "No module named" in error:
        return "the hub's Python lacks this authenticator's package: install it in PREFIX/hub"
    return "fix the authenticator settings named in the message"


# ---------------------------------------------------------------------------------------------------------------
# identities

def parse_identity(text: str) -> dict[str, Any]:
    """``NAME[:key=value]...`` -> an identity. Keys: ``groups`` (names separated by ``,``; DNs, which hold commas,
    by ``;``), ``orgs`` (GitHub ORG or ORG:TEAM, by ``,``), ``domain`` (Google hd), ``approved`` (Native: an admin
    approved the sign-up), ``public`` (GitHub membership is public). E.g. ``alice@example.edu:groups=students``."""
    if not isinstance(text, str) or not text.strip() or len(text) > 2000:
        raise ValidationError("expected NAME[:groups=a,b][:orgs=ORG][:domain=DOMAIN]", "--as")
    pieces = re.split(r":(?=(?:%s)(?:=|:|$))" % "|".join(_KEYS), text.strip())
    name = pieces[0]
    if not name or any(c.isspace() or ord(c) < 32 for c in name):
        raise ValidationError(f"{text[:80]!r}: the name comes first, without spaces", "--as")
    identity: dict[str, Any] = {"name": name, "label": "given"}
    if "@" in name and name.rpartition("@")[2].lower() not in _FREE_MAIL:
        identity["domain"] = name.rpartition("@")[2].lower()
    for piece in pieces[1:]:
        key, _, value = piece.partition("=")
        if key in ("groups", "orgs"):
            separator = ";" if key == "groups" and "=" in value else ","
            identity[key] = [item.strip() for item in value.split(separator) if item.strip()]
        elif key == "domain":
            identity["domain"] = value.strip().lower() or None
        else:
            identity[key] = value.strip().lower() in ("", "1", "true", "yes")
    return identity


def _class_section(config: Mapping[str, Any]) -> tuple[str, Mapping[str, Any], Mapping[str, Any]]:
    auth = mapping_section(config, "auth")
    class_path = str(auth.get("type") or "firstuseauthenticator.FirstUseAuthenticator")
    class_name = class_path.rsplit(".", 1)[-1]
    section = mapping_section(auth, class_name)
    users = mapping_section(config, "users")
    return class_name, section, users


def sample_identities(config: Mapping[str, Any], extra: Iterable[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """Sample people for a TLJH config: each admin, an allowed user, a member of the first organization/group/hosted
    domain, a Native newcomer (and one an admin approved), the first blocked user, and an outsider."""
    class_name, section, users = _class_section(config)
    google = class_name == "GoogleOAuthenticator"
    domains = [str(d).lower() for d in section.get("hosted_domain") or []]
    if isinstance(section.get("hosted_domain"), str):
        domains = [section["hosted_domain"].lower()]
    out: list[dict[str, Any]] = []

    def person(name: str, label: str, **more: Any) -> None:
        if google and "@" not in name:
            name = f"{name}@{domains[0] if domains else 'example.org'}"
        if google and "domain" not in more:
            domain = name.rpartition("@")[2].lower()
            more["domain"] = domain if domain not in _FREE_MAIL else None
        if name not in [item["name"] for item in out]:
            out.append({"name": name, "label": label, **more})

    admins = list(users.get("admin") or []) + list(section.get("admin_users") or [])
    for name in admins:
        person(str(name), "admin")
    allowed = [str(n) for n in list(users.get("allowed") or []) + list(section.get("allowed_users") or [])
               if n not in admins]
    if allowed:
        person(allowed[0], "allowed user")
    for org in (section.get("allowed_organizations") or [])[:2]:
        person(f"member-of-{str(org).split(':')[0]}"[:39].rstrip("-"), f"member of {org} (private membership)",
               orgs=[str(org)])
    groups = section.get("allowed_groups") or []
    if groups:
        person("groupmember", f"member of {groups[0]}", groups=[str(groups[0])])
    if google and domains:
        person(f"student@{domains[0]}", f"account of {domains[0]}", domain=domains[0])
    if class_name == "NativeAuthenticator":
        person("newcomer", "signs up, not yet approved")
        person("approved", "signs up, approved by an admin", approved=True)
    blocked = list(users.get("banned") or []) + list(section.get("blocked_users") or [])
    if blocked:
        person(str(blocked[0]), "blocked user")
    if google:
        person("outsider@gmail.com", OUTSIDER, domain=None)
    elif class_name != "NativeAuthenticator":
        person("outsider", OUTSIDER)
    else:
        person("outsider", OUTSIDER)  # signs up like anyone; nobody approves
    for identity in extra:
        if google and "domain" not in identity and "@" in identity["name"]:
            domain = identity["name"].rpartition("@")[2].lower()
            identity = {**identity, "domain": domain if domain not in _FREE_MAIL else None}
        out.append(dict(identity))
    return out


# ---------------------------------------------------------------------------------------------------------------
# running the probe

MARK = "TLJH-WIZARD-ACCESS "


def _without_secrets(config: Mapping[str, Any]) -> Any:
    from wizard.tljh.config import is_secret

    def walk(node: Any) -> Any:
        if isinstance(node, Mapping):
            return {str(k): PLACEHOLDER_SECRET if is_secret(k, v) else walk(v) for k, v in node.items()}
        if isinstance(node, (list, tuple)):
            return [walk(item) for item in node]
        if isinstance(node, (set, frozenset)):
            return sorted(walk(item) for item in node)
        return node

    return walk(config)


def script(config: Mapping[str, Any], identities: list[dict[str, Any]]) -> bytes:
    """The Python program sent to the hub's interpreter: the probe, then its payload as one JSON string literal
    (serialised, never formatted into code)."""
    source = resources.files("wizard.access").joinpath("probe.py").read_text(encoding="utf-8")
    payload = json.dumps({"config": _without_secrets(config), "identities": identities}, default=str)
    return (source + f"\n\nmain({payload!r})\n").encode("utf-8")


def _parse(output: str, where: str) -> Preview:
    line = next((line for line in output.splitlines() if line.startswith(MARK)), None)
    if line is None:
        return Preview(where="", skipped=f"the probe gave no answer with {where} Python")
    data = json.loads(line[len(MARK):])
    if data.get("unavailable"):
        return Preview(where="", skipped=data["unavailable"])
    return Preview(where=where, authenticator=data.get("authenticator") or "", configurer=data.get("configurer") or "",
                   constructed=bool(data.get("constructed")), error=data.get("error") or "",
                   allow_all=bool(data.get("allow_all")), identity_errors=list(data.get("identity_errors") or []),
                   verdicts=[Verdict(**{k: item[k] for k in ("name", "label", "username", "allowed", "admin",
                                                             "rule")}) for item in data.get("verdicts") or []])


def local_packages_missing(class_path: str) -> str | None:
    """Why the preview cannot run here (a package that is not importable), or None."""
    import importlib.util

    module = class_path.rsplit(".", 1)[0] if "." in class_path else "jupyterhub"
    for name in ("jupyterhub", module.split(".")[0]):
        try:
            if importlib.util.find_spec(name) is None:
                return f"{name} is not importable here"
        except (ImportError, ValueError):
            return f"{name} is not importable here"
    return None


def run_local(config: Mapping[str, Any], identities: list[dict[str, Any]], timeout: float = 120.0) -> Preview:
    """The probe with this machine's Python, in a child process (its own scratch directory, no network)."""
    import subprocess
    import sys

    class_name, _, _ = _class_section(config)
    auth = mapping_section(config, "auth")
    missing = local_packages_missing(str(auth.get("type") or "firstuseauthenticator.FirstUseAuthenticator"))
    if missing:
        return Preview(where="", skipped=f"no hub to run it on, and {missing} (install the authenticator packages "
                                         "or connect to the hub)")
    try:
        done = subprocess.run([sys.executable, "-B", "-"], input=script(config, identities), capture_output=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return Preview(where="", skipped=f"the local probe took longer than {timeout:g} s")
    preview = _parse(done.stdout.decode("utf-8", "replace"), "local")
    if preview.skipped and done.stderr:
        preview.skipped += ": " + done.stderr.decode("utf-8", "replace").strip().splitlines()[-1][:200]
    return preview


def hub_python(target: HubTarget) -> str:
    return str(target.prefix / "hub" / "bin" / "python")


def run_on_hub(target: HubTarget, config: Mapping[str, Any], identities: list[dict[str, Any]],
               timeout: float = 120.0) -> Preview:
    """The probe with the hub's own Python (``PREFIX/hub/bin/python -``), the script on stdin; read-only, as
    root, as TLJH runs it (the wizard reads the hub's config.yaml with sudo too). Nothing is written but the probe's
    own scratch directory, removed afterwards. A hub without that interpreter gives a SKIPPED preview."""
    # -B: no bytecode written beside the hub's modules (the probe changes nothing on the hub)
    result = target.run([hub_python(target), "-B", "-"], stdin=script(config, identities), sudo=True, timeout=timeout)
    output = result.stdout.decode("utf-8", "replace")
    preview = _parse(output, "hub")
    if preview.skipped and not result.ok:
        preview.skipped = f"{hub_python(target)} could not run the probe (exit {result.exit_status})"
    return preview


def preview(config: Mapping[str, Any], identities: list[dict[str, Any]] | None = None, *,
            target: HubTarget | None = None,
            extra: Iterable[dict[str, Any]] = ()) -> Preview:
    """Run the probe where it can run: on ``target``'s hub Python, else locally, else SKIPPED."""
    identities = identities if identities is not None else sample_identities(config, extra)
    if target is not None:
        found = target.run(["test", "-x", hub_python(target)], sudo=True, timeout=30)
        if found.ok:
            return run_on_hub(target, config, identities)
    return run_local(config, identities)


def rendered_config(answers: Answers, base_text: str = "") -> dict[str, Any]:
    """The config.yaml apply would write (the answers over ``base_text``), as plain data."""
    from wizard import yamlio
    from wizard.tljh import config as tljh_config

    text = tljh_config.update(base_text, tljh_config.render(answers))
    data = yamlio.loads(text, "config.yaml") or {}
    return cast(dict[str, Any], json.loads(json.dumps(data, default=str)))  # a dict, dumped and read back


def allow_all_confirmed(answers: Answers) -> bool:
    """Whether the answers confirm that every account may log in (the one way to admit everybody)."""
    auth = answers.section("authenticator")
    return bool(auth.get("allow_all")) or (auth.get("type") in ("firstuse", "dummy")
                                           and bool(auth.get("insecure_confirmed")))
