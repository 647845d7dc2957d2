"""Render TLJH's ``config.yaml`` from the answers, validate it, update an existing file in place, and diff it.

Validation is TLJH's JSON schema (2.0.0 by default, ``main`` selectable) **plus** the checks that schema misses
(see the reference README): unknown top-level keys (the schema's ``additionalProperties`` sits in the wrong place),
``auth`` keys that are not class names holding mappings, ``limits.cpu`` not an integer on 2.0.0, a memory value TLJH
cannot parse, HTTPS switched on without a certificate source, a real authenticator without an allow policy.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any, Mapping, MutableMapping, cast

from wizard import limits
from wizard.answers import Answers
from wizard.fields import ValidationError, did_you_mean
from wizard.mappings import section as mapping_section
from wizard.masking import MASK

TLJH_VERSIONS = ("2.0.0", "main")
DEFAULT_TLJH_VERSION = "2.0.0"

AUTH_CLASSES = {
    "github": "oauthenticator.github.GitHubOAuthenticator",
    "google": "oauthenticator.google.GoogleOAuthenticator",
    "generic": "oauthenticator.generic.GenericOAuthenticator",
    "ldap": "ldapauthenticator.LDAPAuthenticator",
    "native": "nativeauthenticator.NativeAuthenticator",
    "firstuse": "firstuseauthenticator.FirstUseAuthenticator",
    "dummy": "jupyterhub.auth.DummyAuthenticator",
}
INSECURE_CLASSES = {"FirstUseAuthenticator", "DummyAuthenticator"}

# answers field -> trait of the authenticator class, per type (only fields that apply to the type are rendered)
_AUTH_TRAITS = {
    "github": {"client_id": "client_id", "client_secret": "client_secret",
               "allowed_organizations": "allowed_organizations"},
    "google": {"client_id": "client_id", "client_secret": "client_secret", "hosted_domain": "hosted_domain"},
    "generic": {"client_id": "client_id", "client_secret": "client_secret", "authorize_url": "authorize_url",
                "token_url": "token_url", "userdata_url": "userdata_url", "username_claim": "username_claim",
                "scope": "scope", "allowed_groups": "allowed_groups"},
    "ldap": {"server_address": "server_address", "server_port": "server_port", "tls_strategy": "tls_strategy",
             "bind_dn_template": "bind_dn_template", "lookup_dn": "lookup_dn", "user_search_base": "user_search_base",
             "user_attribute": "user_attribute", "lookup_dn_search_user": "lookup_dn_search_user",
             "lookup_dn_search_password": "lookup_dn_search_password", "allowed_groups": "allowed_groups"},
    "native": {"minimum_password_length": "minimum_password_length", "import_from_firstuse": "import_from_firstuse"},
    "firstuse": {},
    "dummy": {},
}

# Keys whose values are secrets wherever they appear in a config.yaml (masked in diffs and plans).
SECRET_KEYS = {"client_secret", "lookup_dn_search_password", "password", "secret_key", "recaptcha_secret",
               "tsig_secret"}
_SECRET_WORDS = ("password", "secret", "passphrase")


def is_secret(key: object, value: object) -> bool:
    """Whether a config.yaml value is a secret: under a known key, or text under any key naming a password, secret,
    passphrase or token (a hub's hand-written settings, e.g. SharedPasswordAuthenticator.admin_password)."""
    if value in (None, ""):
        return False
    name = str(key).lower()
    return name in SECRET_KEYS or isinstance(value, str) and (
        any(word in name for word in _SECRET_WORDS) or name == "token" or name.endswith("_token"))

# Paths the wizard owns: when the answers leave them unset they are removed from an existing config.yaml (unless
# their whole section was skipped, which keeps the hub's settings as they are).
_REMOVE_WHEN_UNSET = (("limits", "memory"), ("limits", "cpu"), ("https", "letsencrypt"), ("https", "tls"),
                      ("users", "admin"), ("users", "allowed"), ("users", "banned"))
_REPLACED = ("auth",)  # sections rewritten whole (keys absent from the render are dropped; comments kept)


def callback_url(domain: str, https: bool = True) -> str:
    return f"{'https' if https else 'http'}://{domain}/hub/oauth_callback"


def https_on(answers: Answers) -> bool:
    """Whether the hub serves HTTPS after this apply: a certificate mode answered (and not skipped)."""
    return "https" not in answers.skipped and answers.get("https.mode") in ("letsencrypt", "acme-dns", "existing")


def oauth_callback_url(answers: Answers) -> str | None:
    """The exact callback URL to register with the OAuth provider (``http://`` unless HTTPS is on)."""
    domain = answers.get("domain.name")
    return callback_url(domain, https_on(answers)) if domain else None


def certificate_domains(answers: Answers) -> list[str]:
    names = [answers.get("domain.name")] + list(answers.get("https.extra_domains") or [])
    return [name for index, name in enumerate(names) if name and name not in names[:index]]


def tls_paths(answers: Answers) -> tuple[str, str]:
    """Where the wizard installs a certificate chain and key on the hub (modes acme-dns and existing)."""
    prefix = answers.get("connection.tljh_prefix") or "/opt/tljh"
    return f"{prefix}/state/tljh-wizard/tls/fullchain.pem", f"{prefix}/state/tljh-wizard/tls/privkey.pem"


def render(answers: Answers, *, tljh_version: str = DEFAULT_TLJH_VERSION, staging: bool = False) -> dict[str, Any]:
    """The config.yaml the answers call for, as plain data. ``staging`` points Let's Encrypt at its staging CA."""
    config: dict[str, Any] = {}
    if answers.section("authenticator").get("type"):
        config.update(render_auth(answers))
    if "https" not in answers.skipped:
        config.update(_render_https(answers, staging))
    if "limits" not in answers.skipped:
        config.update(_render_limits(answers.section("limits"), tljh_version))
    if "environment" not in answers.skipped:
        config["user_environment"] = {"default_app": answers.get("environment.default_app") or "jupyterlab"}
    return config


# Every access trait the wizard owns (see ``render_auth``): in the authenticator's own section each is either rendered
# from the answers or removed by ``update``; other authenticators' sections are dropped whole. Sources: jupyterhub
# auth.py (allow_all, allowed_users, blocked_users, admin_users, allow_existing_users), oauthenticator oauth2.py
# (allowed_groups, admin_groups, manage_groups, auth_state_groups_key, allowed_scopes, scope), github.py
# (allowed_organizations, populate_teams_in_auth_state), google.py (hosted_domain, strip_domain,
# allowed_google_groups, admin_google_groups), generic.py (claim_groups_key), ldapauthenticator (allowed_groups,
# search_filter), nativeauthenticator (open_signup, import_from_firstuse), firstuseauthenticator (create_users).
ACCESS_TRAITS = frozenset({
    "allow_all", "allowed_users", "blocked_users", "admin_users", "allow_existing_users", "allowed_groups",
    "admin_groups", "manage_groups", "auth_state_groups_key", "claim_groups_key", "allowed_scopes", "scope",
    "allowed_organizations", "populate_teams_in_auth_state", "hosted_domain", "strip_domain",
    "allowed_google_groups", "admin_google_groups", "search_filter", "open_signup", "import_from_firstuse",
    "create_users", "whitelist", "blacklist", "username_claim",
})


def hub_names(auth: Mapping[str, Any], names: list[str] | None) -> list[str]:
    """User names as the authenticator will produce them: with exactly one Google hosted domain, GoogleOAuthenticator
    strips ``@domain`` (oauthenticator google.py ``user_info_to_username``, ``strip_domain`` default), so
    ``teacher@example.edu`` is the hub user ``teacher``. Other names are kept as typed."""
    out: list[str] = []
    domains = list(auth.get("hosted_domain") or [])
    for name in names or []:
        if auth.get("type") == "google" and len(domains) == 1 and name.lower().endswith("@" + domains[0]):
            name = name[: -len(domains[0]) - 1]
        if name not in out:
            out.append(name)
    return out


def render_auth(answers: Answers) -> dict[str, Any]:
    """``auth`` and ``users`` for the answers: the policy form the operator chose, with every trait it needs.

    - The grants are the operator's choices; restrictions come with the grant they need: a Google hosted domain with
      no listed users is "every account of the domain" (``hosted_domain`` + ``allow_all``, since hosted_domain only
      blocks others: oauthenticator google.py ``check_blocked_users``); Native with open_signup off is "an admin
      approves each sign-up" (``allow_all``: nativeauthenticator 1.3 leaves ``check_allowed`` to JupyterHub, which
      refuses everyone else, even an approved admin).
    - GitHub organizations request ``read:org`` (private members are invisible without it: github.py
      ``_check_membership_allowed_organizations``); generic groups turn on ``manage_groups`` (oauth2.py
      ``_requires_manage_groups`` raises ValueError otherwise) with ``auth_state_groups_key``.
    - Access lists go to TLJH's ``users.allowed/admin/banned`` (tljh configurer.py ``update_userlists``), names as
      the authenticator produces them (``hub_names``). ``allow_all`` is always explicit.
    """
    auth = answers.section("authenticator")
    kind = auth["type"]
    class_path = AUTH_CLASSES[kind]
    section: dict[str, Any] = {}
    for name, trait in _AUTH_TRAITS[kind].items():
        if auth.get(name) not in (None, [], ""):
            section[trait] = copy.deepcopy(auth[name])
    if kind in ("github", "google", "generic") and answers.get("domain.name"):
        section["oauth_callback_url"] = oauth_callback_url(answers)
    allowed = hub_names(auth, auth.get("allowed_users"))
    allow_all = bool(auth.get("allow_all"))
    if kind == "github" and auth.get("allowed_organizations"):
        section["scope"] = ["read:org"]
    if kind == "generic" and auth.get("allowed_groups"):
        section["manage_groups"] = True
        section["auth_state_groups_key"] = f"oauth_user.{auth.get('groups_claim') or 'groups'}"
    elif kind == "generic":
        section.pop("allowed_groups", None)
    if kind == "google" and auth.get("hosted_domain") and not allowed:
        allow_all = True  # every account of the hosted domain(s)
    if kind == "native":
        section["open_signup"] = bool(auth.get("open_signup"))
        if not allowed:
            allow_all = True  # admin approval (open_signup off) or a confirmed open sign-up
    if kind in ("firstuse", "dummy") and not allowed:
        allow_all = True  # confirmed as insecure: anyone who reaches the hub (TLJH does the same for FirstUse)
    if kind == "firstuse":
        section["create_users"] = allow_all
    section["allow_all"] = allow_all
    users = {"admin": hub_names(auth, auth.get("admin_users")), "allowed": allowed,
             "banned": hub_names(auth, auth.get("blocked_users"))}
    return {"auth": {"type": class_path, class_path.rsplit(".", 1)[1]: section},
            # Always rendered with the authenticator: the wizard owns the access lists (an emptied list is removed).
            "users": {key: value for key, value in users.items() if value}}


def _render_https(answers: Answers, staging: bool) -> dict[str, Any]:
    https = answers.section("https")
    mode = https.get("mode")
    if https.get("web_ports") == "behind":  # another server keeps 80/443 and terminates TLS (wizard.tljh.behind)
        return {"http": {"port": https.get("behind_port") or 8080,
                         "address": https.get("behind_address") or "127.0.0.1"}, "https": {"enabled": False}}
    if mode == "letsencrypt":
        return {"https": {"enabled": True, "letsencrypt": {
            "email": https.get("email", ""), "domains": certificate_domains(answers), "staging": bool(staging)}}}
    if mode in ("acme-dns", "existing"):
        cert, key = tls_paths(answers)
        return {"https": {"enabled": True, "tls": {"cert": cert, "key": key}}}
    return {"https": {"enabled": False}}


def _render_limits(limit_values: Mapping[str, Any], tljh_version: str) -> dict[str, Any]:
    """``limits`` (possibly empty: no limit) and ``services.cull``, always explicit."""
    rendered: dict[str, Any] = {}
    if limit_values.get("memory"):
        rendered["memory"] = limit_values["memory"]
    if limit_values.get("cpu") is not None:
        cpu = limit_values["cpu"]
        # The `main` schema takes any number; a released version's own rule comes from the limits step.
        rendered["cpu"] = cpu if tljh_version == "main" else limits.cpu_for_tljh(cpu, tljh_version)
    cull = {"enabled": limit_values.get("cull_enabled", True) is not False}
    if cull["enabled"]:
        cull.update(timeout=limit_values["cull_timeout"], every=limit_values["cull_every"],
                    max_age=limit_values["cull_max_age"], users=bool(limit_values.get("cull_users")))
    return {"limits": rendered, "services": {"cull": cull}}


# ---------------------------------------------------------------------------------------------------------------
# validation

@lru_cache(maxsize=None)
def schema(version: str = DEFAULT_TLJH_VERSION) -> dict[str, Any]:
    if version not in TLJH_VERSIONS:
        raise ValidationError(f"unknown TLJH schema {version!r}; expected one of {', '.join(TLJH_VERSIONS)}")
    text = resources.files("wizard.data").joinpath(f"tljh/config-schema-{version}.json").read_text()
    return cast(dict[str, Any], json.loads(text))  # a schema shipped here: a JSON object


@lru_cache(maxsize=None)
def defaults() -> dict[str, Any]:
    return cast(dict[str, Any], json.loads(resources.files("wizard.data").joinpath("tljh/config-defaults.json")
                                           .read_text()))  # shipped here: a JSON object


def effective(config: Any) -> dict[str, Any]:
    """``config`` (a parsed config.yaml; anything but a mapping counts as empty) merged over TLJH's defaults, as TLJH
    itself reads it (``tljh/configurer.py`` ``load_config``: mappings merge key by key, any other value replaces)."""
    from wizard.mappings import deep_merge

    return deep_merge(defaults(), config if isinstance(config, Mapping) else {})


def known_top_level_keys(version: str = DEFAULT_TLJH_VERSION) -> list[str]:
    keys = [k for k in schema(version)["properties"] if k != "additionalProperties"]
    return sorted(set(keys) | set(defaults()) | {"auth"})


def validate(config: Any, version: str = DEFAULT_TLJH_VERSION) -> list[ValidationError]:
    """Every problem with ``config`` for TLJH ``version``: the schema's verdict plus the checks it misses."""
    import jsonschema

    if not isinstance(config, Mapping):
        return [ValidationError("config.yaml must be a mapping at the top level", "config")]
    plain = json.loads(json.dumps(config, default=str))
    errors = []
    validator = jsonschema.Draft7Validator(schema(version))
    for error in sorted(validator.iter_errors(plain), key=lambda e: list(map(str, e.absolute_path))):
        path = ".".join(str(p) for p in error.absolute_path) or "config"
        errors.append(ValidationError(f"{error.message} (TLJH {version} schema)", path))
    errors.extend(_stricter_checks(plain, version))
    return errors


def _stricter_checks(config: Mapping[str, Any], version: str) -> list[ValidationError]:
    errors = []
    known = known_top_level_keys(version)
    for key in config:
        if key not in known:
            errors.append(ValidationError(f"unknown top-level key{did_you_mean(key, known)}; TLJH ignores it",
                                          str(key)))
    auth = config.get("auth")
    if auth is not None:
        errors.extend(_check_auth(auth, config))
    limit_values = config.get("limits") or {}
    if isinstance(limit_values, Mapping):
        cpu = limit_values.get("cpu")
        if version == "2.0.0" and isinstance(cpu, float):
            errors.append(ValidationError(
                f"TLJH 2.0.0 accepts whole CPUs only; use {limits.nearest_whole_cpu(cpu)}", "limits.cpu"))
        memory = limit_values.get("memory")
        if isinstance(memory, str):
            try:
                limits.memory_limit(memory)
            except ValidationError as exc:
                errors.append(exc.at("limits.memory"))
    https = config.get("https") or {}
    if isinstance(https, Mapping) and https.get("enabled"):
        le = https.get("letsencrypt") or {}
        tls = https.get("tls") or {}
        has_le = isinstance(le, Mapping) and bool(le.get("domains"))
        has_tls = isinstance(tls, Mapping) and bool(tls.get("cert")) and bool(tls.get("key"))
        if not has_le and not has_tls:
            errors.append(ValidationError("HTTPS is enabled without a certificate source: set "
                                          "https.letsencrypt.domains and email, or https.tls.cert and key",
                                          "https"))
        if has_le and not le.get("email"):
            errors.append(ValidationError("Let's Encrypt needs a contact e-mail", "https.letsencrypt.email"))
        if isinstance(le, Mapping) and isinstance(le.get("domains"), list):
            from wizard.fields import fqdn

            for index, name in enumerate(le["domains"]):
                try:
                    fqdn(name)
                except ValidationError as exc:
                    errors.append(exc.at(f"https.letsencrypt.domains[{index}]"))
    return errors


def _check_auth(auth: Any, config: Mapping[str, Any]) -> list[ValidationError]:
    if not isinstance(auth, Mapping):
        return [ValidationError("must be a mapping with `type` and class sections", "auth")]
    errors = []
    kind = auth.get("type")
    if not isinstance(kind, str) or not kind:
        errors.append(ValidationError("must name the authenticator class, e.g. "
                                      "oauthenticator.github.GitHubOAuthenticator", "auth.type"))
    for key, value in auth.items():
        if key == "type":
            continue
        if not re.fullmatch(r"[A-Z][A-Za-z0-9_]*", str(key)):
            errors.append(ValidationError("keys under auth (besides type) must be class names such as "
                                          "GitHubOAuthenticator; the hub fails to start otherwise", f"auth.{key}"))
        elif not isinstance(value, Mapping):
            errors.append(ValidationError("a class section must be a mapping of settings", f"auth.{key}"))
    if isinstance(kind, str) and kind:
        class_name = kind.rsplit(".", 1)[-1]
        section = mapping_section(auth, class_name)
        users = mapping_section(config, "users")
        problem = policy_problem(class_name, section, users)
        if problem:
            errors.append(ValidationError(problem, f"auth.{class_name}"))
    return errors


_OAUTH_CLASSES = {"GitHubOAuthenticator", "GoogleOAuthenticator", "GenericOAuthenticator"}


def policy_problem(class_name: str, section: Mapping[str, Any], users: Mapping[str, Any]) -> str | None:
    """Why a config's access policy cannot work as written (``None`` when it has a grant), judged as the upstream code
    judges it: only grants count (allow_all, allowed users, GitHub organizations, groups with what they need, and —
    for OAuthenticator classes — admin users); a Google hosted domain or Native sign-up alone admits nobody; generic
    groups without ``manage_groups`` stop the hub (oauth2.py ``_requires_manage_groups`` raises ValueError)."""
    if class_name in INSECURE_CLASSES:
        return None  # TLJH turns allow_all on for FirstUse without users.allowed (configurer.py update_userlists)
    if class_name in _OAUTH_CLASSES and not section.get("manage_groups") and any(
            section.get(name) for name in ("allowed_groups", "admin_groups", "auth_state_groups_key")):
        return (f"{class_name}: allowed_groups/admin_groups/auth_state_groups_key need manage_groups: true — "
                "without it the authenticator raises ValueError and the hub does not start")
    if section.get("allow_all"):
        return None
    grants = [list(users.get("allowed") or []), list(section.get("allowed_users") or []),
              section.get("allowed_organizations"), section.get("allowed_google_groups"),
              section.get("allowed_groups") if class_name not in _OAUTH_CLASSES or section.get("manage_groups")
              else None]
    if class_name in _OAUTH_CLASSES:  # oauth2.py check_allowed: admin users are allowed
        grants += [list(users.get("admin") or []), list(section.get("admin_users") or [])]
    if any(grants):
        return None
    hint = {"GoogleOAuthenticator": " (hosted_domain only restricts: it needs allow_all: true to admit the "
                                    "domain's accounts)",
            "NativeAuthenticator": " (admin approval needs allow_all: true with open_signup off)"}.get(class_name, "")
    return (f"{class_name} has no allow policy: nobody can log in{hint}. Set users.allowed, an allowed "
            f"organization/group, or {class_name}.allow_all: true")


# ---------------------------------------------------------------------------------------------------------------
# files

HEADER = "Written by tljh-wizard. Keys the wizard does not manage are kept as they are."


def dump(config: Mapping[str, Any]) -> str:
    from wizard import yamlio

    return yamlio.dump(_plain(config), header=HEADER, round_trip=True)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def update(base_text: str, rendered: Mapping[str, Any], origin: str = "config.yaml") -> str:
    """``base_text`` with the wizard's keys set to ``rendered``: comments and keys the wizard does not own are kept."""
    from wizard import yamlio

    if not base_text.strip():
        return dump(rendered)
    document = yamlio.loads(base_text, origin, round_trip=True)
    if document is None:
        return dump(rendered)
    if not isinstance(document, MutableMapping):
        raise ValidationError(f"{origin}: expected a mapping at the top level")
    for path in _REMOVE_WHEN_UNSET:
        if path[0] in rendered and _get(rendered, path) is None:  # a section not rendered was skipped: kept
            parent = _get(document, path[:-1])
            if isinstance(parent, dict) and path[-1] in parent:
                del parent[path[-1]]
    for key in _REPLACED:
        if key in rendered and isinstance(document.get(key), dict):
            for stale in [k for k in document[key] if k not in rendered[key]]:
                del document[key][stale]
    if isinstance(rendered.get("auth"), Mapping) and isinstance(document.get("auth"), dict):
        # The wizard owns every access trait: one the answers leave unset goes, visibly in the diff.
        for class_name, values in rendered["auth"].items():
            kept = document["auth"].get(class_name)
            if class_name != "type" and isinstance(values, Mapping) and isinstance(kept, dict):
                for stale in [k for k in kept if k in ACCESS_TRAITS and k not in values]:
                    del kept[stale]
    _merge(document, rendered)
    return yamlio.dump(document, round_trip=True)


def _get(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(data, Mapping) or key not in data:
            return None
        data = data[key]
    return data


def _merge(target: MutableMapping[str, Any], source: Mapping[str, Any]) -> None:
    for key, value in source.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = _plain(value)


def mask(config: Any) -> Any:
    """A copy of a parsed config with every secret value replaced by ********."""
    if isinstance(config, Mapping):
        masked = copy.copy(config) if isinstance(config, dict) else dict(config)
        for key, value in config.items():
            masked[key] = MASK if is_secret(key, value) else mask(value)
        return masked
    if isinstance(config, list):
        return [mask(item) for item in config]
    return config


def masked_text(text: str) -> str:
    """config.yaml text with secret values masked, comments and layout kept."""
    from wizard import yamlio

    if not text.strip():
        return text
    document = yamlio.loads(text, round_trip=True)
    if not isinstance(document, Mapping):
        return text
    _mask_in_place(document)
    return yamlio.dump(document, round_trip=True)


def _mask_in_place(node: Any) -> None:
    if isinstance(node, dict):
        for key in list(node):
            if is_secret(key, node[key]):
                node[key] = MASK
            else:
                _mask_in_place(node[key])
    elif isinstance(node, list):
        for item in node:
            _mask_in_place(item)


def secret_values_in(text: str, min_length: int = 4) -> set[str]:
    """Every secret-shaped value (see ``is_secret``) of a config.yaml's text, as strings of at least ``min_length``
    characters, for masking output that may quote them (a hub's error during a rollback can echo the *previous*
    file's client secret). Text that does not parse yields nothing."""
    from wizard import yamlio
    from wizard.fields import ValidationError

    found: set[str] = set()
    if not text.strip():
        return found
    try:
        document = yamlio.loads(text)
    except ValidationError:
        return found

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                if is_secret(key, value) and isinstance(value, (str, int, float)) and len(str(value)) >= min_length:
                    found.add(str(value))
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(document)
    return found


def masked_diff(old_text: str, new_text: str, path: str = "config.yaml") -> str:
    """The unified diff an operator reviews: secrets masked on both sides."""
    old_lines = masked_text(old_text).splitlines(keepends=True)
    new_lines = masked_text(new_text).splitlines(keepends=True)
    return "".join(difflib.unified_diff(old_lines, new_lines, f"{path} (on the hub)", f"{path} (after apply)"))
