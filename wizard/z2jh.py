"""Zero to JupyterHub (Helm chart 4.4.0) values from the same answers that drive a TLJH hub.

The authenticator, access lists and culling are taken from the TLJH render (``wizard.tljh.config.render``), so the
two exports never disagree about what an answer means; HTTPS, limits, the default UI and the reserved IP are mapped
to their chart keys here. Secret values go to a separate overlay (``helm ... -f values.yaml -f secrets.yaml``)
unless they are asked for inline.

Before anything is written the values are checked as Helm would: merged over the chart's defaults (mappings merge,
lists and scalars replace, ``null`` deletes a default) and validated against the chart's draft-07 schema, plus the
checks the schema misses (a Kubernetes ``Gi`` memory string that KubeSpawner refuses, a guarantee above its limit,
automatic HTTPS without a host or contact e-mail, manual HTTPS without its certificate or key).
"""

from __future__ import annotations

import copy
import ipaddress
import json
import textwrap
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, cast

from wizard import limits
from wizard.answers import Answers
from wizard.fields import ValidationError
from wizard.mappings import deep_merge

if TYPE_CHECKING:
    import jsonschema


CHART_VERSION = "4.4.0"
TLS_SECRET_NAME = "jupyterhub-tls"
DEFAULT_URLS = {"jupyterlab": "/lab", "classic": "/tree"}
# The culler's settings TLJH applies without asking (its config defaults and the culler's own), written out so the
# cluster culls exactly as the hub did: the chart's defaults differ (every 600 s, concurrency 10).
_TLJH_CULL_FIXED = {"concurrency": 5, "removeNamedServers": False, "adminUsers": True}
LOAD_BALANCER_COMMENT = ("The hub VM's reserved IP. A cluster's load balancer needs a static IP of its own: reserve "
                         "one in the cluster's region (or move this one to it) and point the DNS A record at it.")


@dataclass
class Values:
    """One export: the public values, the secret overlay, and what does not carry over to Kubernetes."""

    values: dict[str, Any]
    secrets: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------------------
# chart data

@lru_cache(maxsize=None)
def chart_defaults() -> dict[str, Any]:
    return _load_chart_file(f"z2jh/values-{CHART_VERSION}.yaml")


@lru_cache(maxsize=None)
def chart_schema() -> dict[str, Any]:
    return _load_chart_file(f"z2jh/values.schema-{CHART_VERSION}.yaml")


def _load_chart_file(name: str) -> dict[str, Any]:
    from wizard import yamlio

    loaded = yamlio.loads(resources.files("wizard.data").joinpath(name).read_text(encoding="utf-8"), name)
    return cast(dict[str, Any], loaded)  # the chart's files shipped here: mappings


def helm_merge(base: Any, overlay: Any) -> Any:
    """``overlay`` over ``base`` as Helm coalesces values: mappings merge, lists/scalars replace, null deletes."""
    if not isinstance(base, Mapping) or not isinstance(overlay, Mapping):
        return copy.deepcopy(overlay)
    merged = copy.deepcopy(dict(base))
    for key, value in overlay.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = helm_merge(merged[key], value)
        else:
            merged[key] = _strip_nulls(value)
    return merged


def _strip_nulls(value: Any) -> Any:
    """A new mapping from the user keeps no null keys (Helm deletes them while coalescing)."""
    if isinstance(value, Mapping):
        return {k: _strip_nulls(v) for k, v in value.items() if v is not None}
    return copy.deepcopy(value)


# ---------------------------------------------------------------------------------------------------------------
# render

def render(answers: Answers, *, staging: bool = False) -> Values:
    """The chart values these answers call for. ``staging`` points Let's Encrypt at the staging directory."""
    from wizard.tljh import config as tljh_config

    answers.require_complete()
    tljh = tljh_config.render(answers, tljh_version="main")
    out = Values(values={}, secrets={})

    _render_auth(tljh, out)
    if "https" not in answers.skipped:
        _render_https(answers, out, staging)
    if "limits" not in answers.skipped:
        _render_limits(answers, out)
        _render_cull(tljh["services"]["cull"], out)
    if "environment" not in answers.skipped:
        out.values.setdefault("singleuser", {})["defaultUrl"] = DEFAULT_URLS[tljh["user_environment"]["default_app"]]
    for section in sorted(answers.skipped & {"https", "limits", "environment"}):
        out.warnings.append(f"The {section} step was skipped: the chart's defaults apply for it.")
    _render_service(answers, out)
    _standing_warnings(answers, out)

    secret_values = {value for value in answers.secret_values() if isinstance(value, str)}
    out.values, moved = _split_secrets(out.values, secret_values, tljh_config.SECRET_KEYS)
    out.secrets = deep_merge(out.secrets, moved)
    return out


def _render_auth(tljh: Mapping[str, Any], out: Values) -> None:
    from wizard.tljh.config import INSECURE_CLASSES

    auth = tljh["auth"]
    class_path = auth["type"]
    class_name = class_path.rsplit(".", 1)[1]
    config: dict[str, Any] = {"JupyterHub": {"authenticator_class": class_path}}
    if auth.get(class_name):
        config[class_name] = copy.deepcopy(auth[class_name])
    users = tljh.get("users") or {}
    access = {trait: list(users[key]) for key, trait in (("admin", "admin_users"), ("allowed", "allowed_users"),
                                                         ("banned", "blocked_users")) if users.get(key)}
    if access:
        config["Authenticator"] = access
    out.values["hub"] = {"config": config}
    if class_name == "FirstUseAuthenticator":
        out.warnings.append("FirstUse passwords live in the TLJH hub's state (a dbm file on the VM) and do not move "
                            "to the cluster: every user sets a password again at first login, and anyone who knows "
                            "a user name can claim it first. Choose a real authenticator before moving.")
    if class_name in INSECURE_CLASSES:
        out.warnings.append(f"{class_name} is not fit for production on a cluster either.")


def _render_https(answers: Answers, out: Values, staging: bool) -> None:
    from wizard.tljh.config import certificate_domains

    mode = answers.get("https.mode")
    if mode == "none":
        out.values.setdefault("proxy", {})["https"] = {"enabled": False}
        out.warnings.append("HTTPS is off: logins and notebooks travel in clear text.")
        return
    https: dict[str, Any] = {"enabled": True, "hosts": certificate_domains(answers)}
    if mode == "letsencrypt":
        staging_url = answers.get("https.staging_directory")
        production_url = answers.get("https.production_directory")
        https["type"] = "letsencrypt"
        https["letsencrypt"] = {"contactEmail": answers.get("https.email"),
                                "acmeServer": staging_url if staging else production_url}
        out.notes.append(f"Test with the staging CA first: proxy.https.letsencrypt.acmeServer: {staging_url}"
                         if not staging else
                         f"This export uses the staging CA; switch to {production_url} once the staging "
                         "certificate is served (and delete the proxy's acme secret).")
    elif mode == "acme-dns":
        https["type"] = "secret"
        https["secret"] = {"name": TLS_SECRET_NAME, "key": "tls.key", "crt": "tls.crt"}
        out.warnings.append(f"The wizard's DNS-01 certificate is renewed by `tljh-wizard renew` on the VM only. On "
                            f"the cluster, store it as the TLS secret {TLS_SECRET_NAME} (kubectl create secret tls "
                            f"{TLS_SECRET_NAME} --cert=fullchain.pem --key=privkey.pem) and renew it there, e.g. "
                            "with cert-manager's RFC 2136 DNS-01 solver.")
    elif mode == "existing":
        https["type"] = "manual"
        https["manual"] = {"cert": _read_pem(answers.get("https.cert_path"), "https.cert_path", "CERTIFICATE")}
        key = _read_pem(answers.get("https.key_path"), "https.key_path", "PRIVATE KEY")
        out.secrets = deep_merge(out.secrets, {"proxy": {"https": {"manual": {"key": key}}}})
    out.values.setdefault("proxy", {})["https"] = https


def _read_pem(path: str | None, key: str, marker: str) -> str:
    from ruamel.yaml.scalarstring import LiteralScalarString

    try:
        text = Path(path or "").expanduser().read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not a PEM text file"
        raise ValidationError(f"{path}: cannot read ({reason}); the chart's manual HTTPS needs the PEM inline",
                              key) from None
    if "-----BEGIN " not in text or marker not in text:
        raise ValidationError(f"{path}: no PEM {marker} block in this file", key)
    return cast(str, LiteralScalarString(text.strip() + "\n"))  # a str, written as a YAML block scalar


def _render_limits(answers: Answers, out: Values) -> None:
    memory = answers.get("limits.memory")
    cpu = answers.get("limits.cpu")
    singleuser = out.values.setdefault("singleuser", {})
    # A guarantee equal to the limit reserves what TLJH's sizing assumed every active user may use; unset limits
    # write null so the chart's default 1G guarantee is not silently applied.
    singleuser["memory"] = {"limit": memory, "guarantee": memory}
    singleuser["cpu"] = {"limit": limits.cpu_limit(cpu) if cpu is not None else None,
                         "guarantee": limits.cpu_limit(cpu) if cpu is not None else None}
    unset = [name for name, value in (("memory", memory), ("cpu", cpu)) if value is None]
    if unset:
        out.warnings.append(f"No {' and '.join(unset)} limit: one user's pod can take a whole node. Set "
                            f"{' and '.join('limits.' + name for name in unset)} before moving.")
    else:
        out.notes.append("Guarantees equal the limits (TLJH's sizing); lower them to pack more users per node.")


def _render_cull(cull: Mapping[str, Any], out: Values) -> None:
    if not cull.get("enabled"):
        out.values["cull"] = {"enabled": False}
        return
    out.values["cull"] = {"enabled": True, "timeout": cull["timeout"], "every": cull["every"],
                          "maxAge": cull["max_age"], "users": bool(cull["users"]), **_TLJH_CULL_FIXED}


def _render_service(answers: Answers, out: Values) -> None:
    from ruamel.yaml.comments import CommentedMap

    address = answers.get("domain.reserved_ipv4")
    if not address:
        return
    service = CommentedMap(loadBalancerIP=address)
    service.yaml_set_comment_before_after_key("loadBalancerIP", before="\n".join(textwrap.wrap(LOAD_BALANCER_COMMENT, 100)),
                                              indent=4)
    out.values.setdefault("proxy", {})["service"] = service


def _standing_warnings(answers: Answers, out: Values) -> None:
    out.warnings.append("users.extra_user_groups (Unix groups on the VM) has no Kubernetes equivalent: users get no "
                        "extra groups in their pods.")
    packages = list(answers.get("environment.conda_packages") or []) + list(answers.get("environment.pip_packages")
                                                                            or [])
    out.warnings.append("The shared user environment (/opt/tljh/user" + (f", with {', '.join(packages)}"
                                                                          if packages else "")
                        + ") does not move: build a singleuser image from its frozen snapshot and set "
                          "singleuser.image.")
    out.warnings.append("Home directories stay on the VM: copy /home into the users' volumes "
                        "(singleuser.storage) before switching DNS.")


def _split_secrets(node: Any, secret_values: set[str], secret_keys: set[str]) -> tuple[Any, dict[str, Any]]:
    """(node without secrets, the secrets at the same paths)."""
    if not isinstance(node, dict):
        return node, {}
    public = type(node)()
    if hasattr(node, "copy_attributes"):
        node.copy_attributes(public)
    secret: dict[str, Any] = {}
    for key, value in node.items():
        if (key in secret_keys and value not in (None, "")) or (isinstance(value, str) and value in secret_values):
            secret[key] = value
            continue
        kept, moved = _split_secrets(value, secret_values, secret_keys)
        public[key] = kept
        if moved:
            secret[key] = moved
    return public, secret


# ---------------------------------------------------------------------------------------------------------------
# validation

@lru_cache(maxsize=None)
def _validator() -> jsonschema.Draft7Validator:
    import jsonschema

    return jsonschema.Draft7Validator(chart_schema())


def validate(values: Mapping[str, Any]) -> list[ValidationError]:
    """Every problem of a user values file once Helm merges it over the chart's defaults."""
    plain = json.loads(json.dumps(values))
    merged = helm_merge(chart_defaults(), plain)
    errors = []
    for error in sorted(_validator().iter_errors(merged), key=lambda e: [str(p) for p in e.absolute_path]):
        path = ".".join(str(p) for p in error.absolute_path) or "values"
        errors.append(ValidationError(f"{error.message} (Z2JH {CHART_VERSION} schema)", path))
    errors.extend(_stricter_checks(merged))
    return errors


def _stricter_checks(merged: Mapping[str, Any]) -> list[ValidationError]:
    errors: list[ValidationError] = []
    singleuser = merged.get("singleuser") or {}
    sizes: dict[str, dict[str, float]] = {"memory": {}, "cpu": {}}
    for kind in ("memory", "cpu"):
        section = singleuser.get(kind) or {}
        if not isinstance(section, Mapping):
            continue
        for bound in ("limit", "guarantee"):
            value = section.get(bound)
            path = f"singleuser.{kind}.{bound}"
            if value is None or isinstance(value, bool):
                continue
            if kind == "memory" and isinstance(value, str):
                try:
                    sizes[kind][bound] = limits.parse_memory(value)
                except ValidationError as exc:
                    errors.append(ValidationError(
                        f"KubeSpawner reads memory as JupyterHub's byte specification (K, M, G, T; binary): "
                        f"{exc.message}", path))
            elif isinstance(value, (int, float)):
                if value <= 0:
                    errors.append(ValidationError("must be more than 0", path))
                sizes[kind][bound] = value
        if "limit" in sizes[kind] and "guarantee" in sizes[kind] and sizes[kind]["guarantee"] > sizes[kind]["limit"]:
            errors.append(ValidationError("the guarantee exceeds the limit; Kubernetes refuses such a pod",
                                          f"singleuser.{kind}.guarantee"))
    errors.extend(_check_https((merged.get("proxy") or {}).get("https") or {}))
    address = ((merged.get("proxy") or {}).get("service") or {}).get("loadBalancerIP")
    if isinstance(address, str):
        try:
            ipaddress.ip_address(address)
        except ValueError:
            errors.append(ValidationError(f"{address!r} is not an IP address", "proxy.service.loadBalancerIP"))
    authenticator = ((merged.get("hub") or {}).get("config") or {}).get("JupyterHub", {}).get("authenticator_class")
    if not authenticator:
        errors.append(ValidationError("no authenticator class", "hub.config.JupyterHub.authenticator_class"))
    return errors


def _check_https(https: Mapping[str, Any]) -> list[ValidationError]:
    from wizard.fields import email, fqdn

    if not isinstance(https, Mapping) or https.get("enabled") is False:
        return []
    errors: list[ValidationError] = []
    kind = https.get("type") or "letsencrypt"
    hosts = https.get("hosts")
    if kind == "letsencrypt":
        if not hosts:
            errors.append(ValidationError("automatic HTTPS needs the domain in proxy.https.hosts", "proxy.https.hosts"))
        contact = (https.get("letsencrypt") or {}).get("contactEmail")
        if not contact:
            errors.append(ValidationError("Let's Encrypt needs a contact e-mail", "proxy.https.letsencrypt.contactEmail"))
        else:
            try:
                email(contact)
            except ValidationError as exc:
                errors.append(exc.at("proxy.https.letsencrypt.contactEmail"))
    if isinstance(hosts, list):
        for index, name in enumerate(hosts):
            try:
                fqdn(name)
            except ValidationError as exc:
                errors.append(exc.at(f"proxy.https.hosts[{index}]"))
    if kind == "manual":
        manual = https.get("manual") or {}
        for name in ("cert", "key"):
            if not manual.get(name):
                errors.append(ValidationError("manual HTTPS needs the PEM inline", f"proxy.https.manual.{name}"))
    if kind == "secret" and not (https.get("secret") or {}).get("name"):
        errors.append(ValidationError("type secret needs the Kubernetes TLS secret's name", "proxy.https.secret.name"))
    return errors


def check(values: Mapping[str, Any]) -> None:
    """Raise ``ValidationError`` naming the first bad path (and listing every problem) unless ``values`` is valid."""
    problems = validate(values)
    if problems:
        listing = "\n  ".join(str(p) for p in problems)
        raise ValidationError(f"the Z2JH values are not valid for chart {CHART_VERSION}:\n  {listing}",
                              problems[0].key)


# ---------------------------------------------------------------------------------------------------------------
# export

VALUES_HEADER = f"""Helm values for Zero to JupyterHub (chart {CHART_VERSION}), written by tljh-wizard from its answers.
Validated against the chart's defaults and schema.
Install: helm upgrade --install jupyterhub jupyterhub/jupyterhub --version {CHART_VERSION} \\
           --values values.yaml --values secrets.yaml"""
SECRETS_HEADER = f"""Secret values for Zero to JupyterHub (chart {CHART_VERSION}): pass after values.yaml with --values.
Keep this file private (0600); never commit it."""


def header(out: Values, base: str = VALUES_HEADER) -> str:
    lines = [base]
    if out.warnings:
        lines.append("")
        lines.append("WARNINGS (no Kubernetes equivalent, or needs action on the cluster):")
        lines.extend(textwrap.fill(text, 110, initial_indent="- ", subsequent_indent="  ") for text in out.warnings)
    if out.notes:
        lines.append("")
        lines.extend(textwrap.fill(text, 110, initial_indent="Note: ", subsequent_indent="  ") for text in out.notes)
    return "\n".join(lines) + "\n"


INLINE_SECRETS_HEADER = f"""Helm values for Zero to JupyterHub (chart {CHART_VERSION}), written by tljh-wizard from its answers.
Validated against the chart's defaults and schema. HOLDS SECRETS: keep this file private (0600); never commit it.
Install: helm upgrade --install jupyterhub jupyterhub/jupyterhub --version {CHART_VERSION} --values values.yaml"""


def export(answers: Answers, include_secrets: bool, *, staging: bool = False) -> tuple[str, str]:
    """(values.yaml text, secrets overlay text); with ``include_secrets`` the secrets are inline and the overlay is
    empty. Nothing is returned unless the full deployment (values + secrets) validates."""
    from wizard import yamlio

    out = render(answers, staging=staging)
    check(deep_merge(out.values, out.secrets))
    if include_secrets:
        return (yamlio.dump(deep_merge(out.values, out.secrets), header=header(out, INLINE_SECRETS_HEADER),
                            round_trip=True), "")
    return (yamlio.dump(out.values, header=header(out), round_trip=True),
            yamlio.dump(out.secrets, header=SECRETS_HEADER, round_trip=True))
