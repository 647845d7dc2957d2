"""The answers model (version 1): every answer of every step, typed, validated, split into public and secret.

Sections follow DESIGN.md's steps: connection, authenticator, domain, https, limits, environment, backups, ssh. Each
field is declared once (``wizard.fields.Field``); a section adds the cross-field rules one field cannot judge alone
(an OAuth client needs its secret; every real authenticator needs an access policy).

``Answers`` holds what has been accepted so far, so a half-finished wizard can be saved and resumed. Files:
``answers.yaml`` (public values, safe to commit) and ``secrets.yaml`` (secret values only, 0600).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from wizard import fields as v
from wizard import limits
from wizard.fields import Field, ValidationError

VERSION = 1


@dataclass(frozen=True)
class Section:
    name: str
    title: str
    fields: tuple[Field, ...]
    # Cross-field rules: given the section's values (and the whole answers, for rules such as the callback URL that
    # need the domain), return the errors. Called only for a complete check.
    rules: Callable[[Mapping[str, Any], "Answers"], list[ValidationError]] = field(
        default=lambda _values, _answers: [], repr=False, compare=False
    )

    def field(self, name: str) -> Field:
        for item in self.fields:
            if item.name == name:
                return item
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [item.name for item in self.fields]


def _when(key: str, *values: str) -> Callable[[Mapping[str, Any]], bool]:
    return lambda section: section.get(key) in values


# --------------------------------------------------------------------------------------------------------------
# connection

CONNECTION = Section(
    "connection",
    "Connect",
    (
        Field("host", "str", "Host", "The hub's host name or IP address, as you would give it to ssh.",
              v.host, required=True, example="hub.example.edu"),
        Field("port", "int", "SSH port", "The SSH port on the hub.", v.integer(1, 65535), default=22),
        Field("user", "str", "SSH user", "The login on the hub; it needs sudo.", v.unix_username,
              default="root", example="ubuntu"),
        Field("key_file", "path", "Private key", "Path of the SSH private key on this machine. Empty: use the SSH "
              "agent and the default keys.", v.local_path, example="~/.ssh/id_ed25519"),
        Field("key_passphrase", "secret", "Key passphrase", "The passphrase of the private key, if it has one.",
              v.secret, secret=True),
        Field("sudo_password", "secret", "sudo password", "Needed only when sudo asks for a password on the hub. "
              "Sent on sudo's standard input, never on a command line.", v.secret, secret=True),
        Field("host_key", "str", "Pinned host key", "The hub's SSH host key fingerprint as OpenSSH prints it "
              "(SHA256:...). When set, only this key is accepted; otherwise known_hosts decides.",
              v.host_key, example="SHA256:..."),
        Field("tljh_prefix", "path", "TLJH prefix", "Where TLJH is installed on the hub.", v.remote_path,
              default="/opt/tljh"),
    ),
)


# --------------------------------------------------------------------------------------------------------------
# authenticator

AUTH_TYPES = ("github", "google", "generic", "ldap", "native", "firstuse", "dummy")
OAUTH_TYPES = ("github", "google", "generic")
INSECURE_TYPES = ("firstuse", "dummy")


def _auth_rules(section: Mapping[str, Any], answers: "Answers") -> list[ValidationError]:  # noqa: C901
    errors: list[ValidationError] = []
    kind = section.get("type")
    key = "authenticator."
    if kind is None:
        return [ValidationError("a value is required", key + "type")]
    if kind in INSECURE_TYPES and not section.get("insecure_confirmed"):
        errors.append(ValidationError(
            f"{kind} lets anyone who can reach the hub log in or pick a password; set insecure_confirmed: true "
            "only if you understand this is insecure", key + "insecure_confirmed"))
    if kind in OAUTH_TYPES:
        for name in ("client_id", "client_secret"):
            if not section.get(name):
                errors.append(ValidationError(f"required for {kind} (from the OAuth app you registered)", key + name))
    if kind == "generic":
        for name in ("authorize_url", "token_url", "userdata_url"):
            if not section.get(name):
                errors.append(ValidationError("required for a generic OAuth2/OIDC provider", key + name))
        if section.get("allowed_groups") and not section.get("groups_claim"):
            errors.append(ValidationError("allowed_groups needs the claim of the user info that lists the user's "
                                          "groups (e.g. groups)", key + "groups_claim"))
    if kind == "ldap":
        if not section.get("server_address"):
            errors.append(ValidationError("required for LDAP", key + "server_address"))
        if not section.get("bind_dn_template") and not section.get("lookup_dn"):
            errors.append(ValidationError("set bind_dn_template (e.g. uid={username},ou=people,dc=example,dc=edu) "
                                          "or lookup_dn with a search user", key + "bind_dn_template"))
        if section.get("lookup_dn") and not section.get("user_search_base"):
            errors.append(ValidationError("required when lookup_dn is on", key + "user_search_base"))
        for group in section.get("allowed_groups") or []:
            try:
                v.ldap_dn(group)
            except ValidationError as exc:
                errors.append(ValidationError("LDAP groups are whole group DNs: " + exc.message,
                                              key + "allowed_groups"))
        for index, template in enumerate(section.get("bind_dn_template") or []):
            if "{username}" not in template:
                errors.append(ValidationError(f"template {index + 1} ({template[:80]!r}) has no {{username}}: "
                                              "every user would bind as the same DN", key + "bind_dn_template"))
    errors += _name_rules(section)
    if kind in INSECURE_TYPES:
        return errors  # anyone who reaches the hub (insecure_confirmed), or only allowed_users when listed
    if not has_allow_policy(section):
        # Named by the label on screen and the answers-file key alike: the message reaches both front-ends.
        grant = {"github": "allowed_organizations", "google": "hosted_domain", "generic": "allowed_groups",
                 "ldap": "allowed_groups"}.get(str(kind))
        named = [f"{field_for('authenticator.' + n).label} ({n})" for n in ("allowed_users", grant) if n]
        errors.append(ValidationError(
            f"an access policy is required: fill {' or '.join(named)}, or turn on "
            f"{field_for('authenticator.allow_all').label} (allow_all) to let every account of the provider in",
            key + "allowed_users"))
    grants = [name for name in ("allowed_users", "allowed_organizations", "allowed_groups") if section.get(name)]
    if section.get("allow_all") and grants:
        errors.append(ValidationError(
            f"allow_all: true lets every account in, so {' and '.join(grants)} would change nothing (upstream, "
            "allow_all short-circuits every list): remove allow_all, or the lists", key + "allow_all"))
    if kind == "native" and section.get("open_signup") and not (section.get("allow_all") or grants):
        errors.append(ValidationError(
            "open_signup lets anyone who signs up in without approval: confirm with allow_all: true, or turn "
            "open_signup off so an admin approves each sign-up", key + "open_signup"))
    if kind in OAUTH_TYPES and not answers.get("domain.name"):
        errors.append(ValidationError("the OAuth callback URL is https://DOMAIN/hub/oauth_callback: answer "
                                      "domain.name first", "domain.name"))
    return errors


# LDAPAuthenticator.valid_username_regex (ldapauthenticator 2.0): a login name that does not match is refused.
_LDAP_USERNAME = r"^[a-z][.a-z0-9_-]*$"


def _name_rules(section: Mapping[str, Any]) -> list[ValidationError]:
    """User names in admin_users/allowed_users/blocked_users checked by the provider's rules: GitHub logins, Google
    e-mail addresses (or, with exactly one hosted domain, the local part the authenticator keeps), LDAP login names."""
    import re

    kind = section.get("type")
    domains = list(section.get("hosted_domain") or [])
    errors = []
    for name in ("admin_users", "allowed_users", "blocked_users"):
        for item in section.get(name) or []:
            key = f"authenticator.{name}"
            try:
                if kind == "github":
                    v.github_login(item)
                elif kind == "google":
                    if "@" in item:
                        v.email(item)
                        domain = item.rpartition("@")[2].lower()
                        if domains and domain not in domains and name != "blocked_users":
                            raise ValidationError(f"{item[:80]!r} is not of the hosted domain "
                                                  f"({', '.join(domains)}): Google refuses it before any list")
                    elif len(domains) != 1:
                        raise ValidationError(f"{item[:80]!r}: Google user names are e-mail addresses (the domain is "
                                              "dropped only with exactly one hosted_domain)")
                elif kind == "ldap" and not re.match(_LDAP_USERNAME, item):
                    raise ValidationError(f"{item[:80]!r} is not an LDAP login name LDAPAuthenticator accepts "
                                          "(lower-case letter first, then a-z 0-9 . _ -)")
            except ValidationError as exc:
                errors.append(ValidationError(exc.message, key))
    return errors


def has_allow_policy(section: Mapping[str, Any]) -> bool:
    """Does the authenticator let a defined set of people in (or is allow-all explicitly confirmed)?

    Grants, as the upstream ``check_allowed`` methods count them (jupyterhub ``auth.py``; oauthenticator
    ``oauth2.py``, ``github.py``, ``google.py``; ldapauthenticator ``check_allowed``): allow_all, allowed_users,
    GitHub organizations, groups, and — rendered with ``allow_all`` — a Google hosted domain or Native's admin
    approval (open_signup off)."""
    if section.get("allow_all"):
        return True
    if section.get("type") == "native" and not section.get("open_signup"):
        return True  # every sign-up waits for an admin's approval
    return any(section.get(name) for name in ("allowed_users", "allowed_organizations", "hosted_domain",
                                              "allowed_groups"))


_oauth = _when("type", *OAUTH_TYPES)
# Items that hold spaces and commas (group names, DNs) are split only on line breaks or ';' (RFC 4514 escapes ';').
_WHOLE_ITEMS = r"\s*[\n;]\s*"
_groups = _when("type", "generic", "ldap")

AUTHENTICATOR = Section(
    "authenticator",
    "Authenticator",
    (
        Field("type", "choice", "Authenticator", "How people log in. GitHub, Google, generic OAuth2/OIDC, LDAP and "
              "Native are fit for production; FirstUse and Dummy are not.", v.choice(AUTH_TYPES),
              required=True, choices=AUTH_TYPES, default="github"),
        Field("insecure_confirmed", "bool", "I understand this is insecure", "FirstUse and Dummy let anyone who "
              "reaches the hub in. Confirm only for a throw-away hub.", v.boolean, default=False,
              applies=_when("type", *INSECURE_TYPES)),
        Field("client_id", "str", "OAuth client ID", "From the OAuth app registered with the provider.",
              v.text(256), applies=_oauth),
        Field("client_secret", "secret", "OAuth client secret", "From the OAuth app registered with the provider.",
              v.secret, secret=True, applies=_oauth),
        Field("authorize_url", "str", "Authorize URL", "The provider's OAuth2 authorization endpoint.",
              v.url(), applies=_when("type", "generic"), example="https://id.example.edu/oauth2/authorize"),
        Field("token_url", "str", "Token URL", "The provider's OAuth2 token endpoint.", v.url(),
              applies=_when("type", "generic"), example="https://id.example.edu/oauth2/token"),
        Field("userdata_url", "str", "User info URL", "The provider's userinfo endpoint.", v.url(),
              applies=_when("type", "generic"), example="https://id.example.edu/oauth2/userinfo"),
        Field("username_claim", "str", "Username claim", "Which claim of the user info is the user name.",
              v.text(64), default="preferred_username", applies=_when("type", "generic")),
        Field("scope", "list", "Scopes", "OAuth scopes to request.", v.listing(v.text(64), "scopes"),
              default=["openid", "profile", "email"], applies=_when("type", "generic")),
        Field("groups_claim", "str", "Groups claim", "Which claim of the user info lists the user's groups "
              "(needed for allowed_groups).", v.text(64), applies=_when("type", "generic"), example="groups"),
        Field("allowed_organizations", "list", "Allowed GitHub organizations", "Members of these organizations "
              "(ORG, or ORG:TEAM) may log in, including members who keep their membership private (the wizard "
              "requests the read:org scope).", v.listing(v.github_organization, "organizations"),
              applies=_when("type", "github"), example="example-org, example-org:teaching-staff"),
        Field("hosted_domain", "list", "Google Workspace domains", "Every account of these domains may log in — "
              "or, when you list allowed users, only those (of these domains). With one domain, user names lose "
              "@domain (admin teacher@example.edu is written teacher).", v.listing(v.fqdn, "domains"),
              applies=_when("type", "google"), example="example.edu"),
        Field("allowed_groups", "list", "Allowed groups", "Members of these groups may log in. One per line or "
              "separated by ';' (names keep their spaces and commas). Generic: group names as the groups claim "
              "lists them; LDAP: whole group DNs.", v.listing(v.group_name, "groups", separators=_WHOLE_ITEMS),
              applies=_groups, example="cn=jupyter,ou=groups,dc=example,dc=edu"),
        Field("server_address", "str", "LDAP server", "Host name of the LDAP server.", v.host,
              applies=_when("type", "ldap"), example="ldap.example.edu"),
        Field("server_port", "int", "LDAP port", "636 for LDAPS, 389 with StartTLS.", v.integer(1, 65535),
              default=636, applies=_when("type", "ldap")),
        Field("tls_strategy", "choice", "LDAP TLS", "on_connect (LDAPS), before_bind (StartTLS) or insecure.",
              v.choice(("on_connect", "before_bind", "insecure")), default="on_connect",
              choices=("on_connect", "before_bind", "insecure"), applies=_when("type", "ldap")),
        Field("bind_dn_template", "list", "Bind DN templates", "DN templates with {username}, tried in order; one "
              "per line or separated by ';' (never by commas: every DN holds commas).",
              v.listing(v.ldap_dn, "templates", separators=_WHOLE_ITEMS), applies=_when("type", "ldap"),
              example="uid={username},ou=people,dc=example,dc=edu"),
        Field("lookup_dn", "bool", "Look up the DN", "Search for the user's DN with a search user first.",
              v.boolean, default=False, applies=_when("type", "ldap")),
        Field("user_search_base", "str", "User search base", "Where to search for users.", v.ldap_dn,
              applies=_when("type", "ldap"), example="ou=people,dc=example,dc=edu"),
        Field("user_attribute", "str", "User attribute", "The attribute holding the user name.", v.text(64),
              default="uid", applies=_when("type", "ldap")),
        Field("lookup_dn_search_user", "str", "Search user DN", "The DN used to search for users.", v.ldap_dn,
              applies=_when("type", "ldap")),
        Field("lookup_dn_search_password", "secret", "Search user password", "The search user's password.",
              v.secret, secret=True, applies=_when("type", "ldap")),
        Field("open_signup", "bool", "Open sign-up", "Let anyone who signs up in without an admin's approval "
              "(needs allow_all: true). Off: an admin approves each sign-up.",
              v.boolean, default=False, applies=_when("type", "native")),
        Field("import_from_firstuse", "bool", "Import FirstUse users", "Switching from FirstUse: import its users "
              "and passwords, so they need not sign up again.", v.boolean, default=False,
              applies=_when("type", "native")),
        Field("minimum_password_length", "int", "Minimum password length", "For Native sign-ups.",
              v.integer(8, 128), default=12, applies=_when("type", "native")),
        Field("admin_users", "list", "Admin users", "User names with admin rights on the hub, as the authenticator "
              "names them (GitHub login; Google e-mail, or its local part with one hosted domain).",
              v.listing(v.hub_username, "user names"), required=False),
        Field("allowed_users", "list", "Allowed users", "User names allowed to log in.",
              v.listing(v.hub_username, "user names")),
        Field("blocked_users", "list", "Blocked users", "User names never allowed to log in.",
              v.listing(v.hub_username, "user names")),
        Field("allow_all", "bool", "Allow every account", "Let every account of the provider log in. Confirm only "
              "if that is really intended.", v.boolean, default=False),
    ),
    rules=_auth_rules,
)


# --------------------------------------------------------------------------------------------------------------
# domain

DEFAULT_RESOLVERS = ("1.1.1.1", "8.8.8.8", "9.9.9.9")

DOMAIN = Section(
    "domain",
    "Domain & DNS",
    (
        Field("name", "str", "Domain", "The fully qualified domain name students will use.", v.domain,
              required=True, example="hub.example.edu"),
        Field("reserved_ipv4", "str", "Reserved IPv4", "The VM's reserved (static) public IPv4 address.", v.ipv4,
              required=True, example="203.0.113.10"),
        Field("reserved_ipv6", "str", "Reserved IPv6", "The VM's IPv6 address, if the domain has an AAAA record.",
              v.ipv6, example="2001:db8::10"),
        Field("ip_reserved_confirmed", "bool", "The IP is reserved", "Confirm the address is reserved/static at "
              "your provider: an ephemeral IP changes on stop/start and breaks DNS and HTTPS.", v.boolean,
              default=False),
        Field("resolvers", "list", "Public resolvers", "Resolvers to compare with the authoritative answers "
              "(HOST[:PORT]).", v.listing(v.host_port(53), "resolvers", max_items=10),
              default=[f"{r}:53" for r in DEFAULT_RESOLVERS]),
    ),
)


# --------------------------------------------------------------------------------------------------------------
# https

HTTPS_MODES = ("letsencrypt", "acme-dns", "existing", "none")
LE_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"
LE_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
TSIG_ALGORITHMS = ("hmac-sha256", "hmac-sha384", "hmac-sha512")

_acme = _when("mode", "letsencrypt", "acme-dns")
_acme_dns = _when("mode", "acme-dns")
_existing = _when("mode", "existing")
#: Who holds ports 80/443 (TLJH issues #272, #438, #536, #903): TLJH's proxy; another web server in front of TLJH
#: (TLJH's http.port/http.address, docs/topic/tljh-config "Ports"); or the other server is stopped first.
WEB_PORTS = ("tljh", "behind", "stop")
FRONT_SERVERS = ("nginx", "apache")
_behind = _when("web_ports", "behind")


def _https_rules(section: Mapping[str, Any], answers: "Answers") -> list[ValidationError]:
    mode = section.get("mode")
    errors = []
    if mode in ("letsencrypt", "acme-dns") and not section.get("email"):
        errors.append(ValidationError("Let's Encrypt needs a contact e-mail", "https.email"))
    if mode == "acme-dns":
        for name in ("tsig_server", "tsig_zone", "tsig_key_name", "tsig_secret"):
            if not section.get(name):
                errors.append(ValidationError("required for DNS-01 (RFC 2136) issuance", "https." + name))
        if not section.get("tos_agreed"):
            errors.append(ValidationError("the ACME directory's terms of service must be agreed", "https.tos_agreed"))
    if mode == "existing":
        for name in ("cert_path", "key_path"):
            if not section.get(name):
                errors.append(ValidationError("required for an existing certificate", "https." + name))
    if mode != "none" and not answers.get("domain.name"):
        errors.append(ValidationError("HTTPS needs the domain: answer domain.name first", "domain.name"))
    if section.get("web_ports") == "behind" and mode not in (None, "none"):
        errors.append(ValidationError("behind another web server, TLJH serves plain HTTP on a local port and that "
                                      "server holds the certificate: choose none", "https.mode"))
    return errors


HTTPS = Section(
    "https",
    "HTTPS",
    (
        Field("mode", "choice", "Certificate", "letsencrypt: TLJH's proxy gets the certificate (port 443 must reach "
              "the hub); acme-dns: the wizard issues it with DNS-01; existing: your own certificate; none: plain HTTP.",
              v.choice(HTTPS_MODES), default="letsencrypt", choices=HTTPS_MODES, required=True),
        Field("email", "str", "Contact e-mail", "Let's Encrypt's contact for this certificate (expiry and account "
              "notices). Required for Let's Encrypt.", v.email,
              applies=_acme, example="admin@example.edu"),
        Field("extra_domains", "list", "Extra names", "More names for the same certificate.",
              v.listing(v.fqdn, "domains", max_items=50), applies=_when("mode", "letsencrypt", "acme-dns",
                                                                       "existing")),
        Field("staging_directory", "str", "Staging directory", "ACME directory used for the staging run.",
              v.url(("https", "http")), default=LE_STAGING, applies=_acme),
        Field("production_directory", "str", "Production directory", "ACME directory for the real certificate.",
              v.url(("https", "http")), default=LE_PRODUCTION, applies=_acme),
        Field("dns_override", "bool", "Skip the DNS gate", "Experts only: request certificates even though the "
              "DNS check does not pass. Recorded in the session.", v.boolean, default=False, applies=_acme),
        Field("tsig_server", "str", "DNS update server", "The server accepting RFC 2136 updates (HOST[:PORT]).",
              v.host_port(53), applies=_acme_dns, example="ns1.example.edu:53"),
        Field("tsig_zone", "str", "Zone", "The zone holding the domain.", v.fqdn, applies=_acme_dns,
              example="example.edu"),
        Field("tsig_key_name", "str", "TSIG key name", "The key's name as configured on the DNS server.",
              v.hostname, applies=_acme_dns, example="acme-update"),
        Field("tsig_algorithm", "choice", "TSIG algorithm", "The key's algorithm.", v.choice(TSIG_ALGORITHMS),
              default="hmac-sha256", choices=TSIG_ALGORITHMS, applies=_acme_dns),
        Field("tsig_secret", "secret", "TSIG secret", "The key's base64 secret.", v.secret, secret=True,
              applies=_acme_dns),
        Field("tos_agreed", "bool", "Terms of service agreed", "You agree to the ACME directory's terms of service.",
              v.boolean, default=False, applies=_acme_dns),
        Field("cert_path", "path", "Certificate chain", "PEM file on this machine: the certificate then its chain.",
              v.local_path, applies=_existing, example="./fullchain.pem"),
        Field("key_path", "path", "Private key", "PEM file on this machine with the certificate's private key.",
              v.local_path, applies=_existing, example="./privkey.pem"),
        Field("web_ports", "choice", "Ports 80/443", "tljh: TLJH's proxy holds them (usual). behind: another web "
              "server (nginx, apache) keeps them, holds the certificate and forwards to TLJH on a local port. stop: "
              "you stop that other server before applying, so TLJH's proxy can take them.", v.choice(WEB_PORTS),
              default="tljh", choices=WEB_PORTS),
        Field("behind_port", "int", "TLJH's local port", "Where TLJH's proxy listens behind the other server "
              "(TLJH's http.port).", v.integer(1, 65535), default=8080, applies=_behind),
        Field("behind_address", "str", "TLJH's local address", "The address TLJH's proxy listens on (TLJH's "
              "http.address); 127.0.0.1 keeps it unreachable from outside.", v.ipv4, default="127.0.0.1",
              applies=_behind),
        Field("front_server", "choice", "Server in front", "Which server keeps 80/443 (for its configuration "
              "snippet).", v.choice(FRONT_SERVERS), default="nginx", choices=FRONT_SERVERS, applies=_behind),
    ),
    rules=_https_rules,
)


# --------------------------------------------------------------------------------------------------------------
# limits

def _cull_on(section: Mapping[str, Any]) -> bool:
    return section.get("cull_enabled", True) is not False


LIMITS = Section(
    "limits",
    "Limits",
    (
        Field("memory", "str", "Memory per user", "TLJH units, binary: 512M, 2G, 1.5G. Empty: no limit.",
              limits.memory_limit, example="2G"),
        Field("cpu", "number", "CPUs per user", "A number of CPUs. TLJH 2.0.0 accepts whole numbers only. "
              "Empty: no limit.",
              limits.cpu_limit, example="1"),
        Field("cull_enabled", "bool", "Cull idle servers", "Stop servers nobody uses, to free memory.",
              v.boolean, default=True),
        Field("cull_timeout", "int", "Idle timeout (s)", "Stop a server idle this long.", limits.cull_timeout,
              default=3600, applies=_cull_on),
        Field("cull_every", "int", "Check every (s)", "How often the culler looks.", limits.cull_every,
              default=300, applies=_cull_on),
        Field("cull_max_age", "int", "Maximum age (s)", "Stop any server older than this; 0 = never.",
              limits.cull_max_age, default=0, applies=_cull_on),
        Field("cull_users", "bool", "Cull users too", "Also delete idle users from the hub database.", v.boolean,
              default=False, applies=_cull_on),
        Field("total_users", "int", "Total users", "Sizing: how many people have an account.",
              v.integer(1, 100000), example="100"),
        Field("active_share", "number", "Share active at once", "Sizing: the percentage of users with a server "
              "running at the same time, usually 40-60% (written with %: 50%).", limits.active_share, default=0.5,
              example="50%"),
        Field("disk_per_user", "str", "Disk per user", "Sizing: expected home directory size (TLJH units).",
              limits.memory_limit, default="5G"),
        Field("headroom", "number", "Headroom", "Sizing: spare capacity on top, usually 20-40% (written with %: "
              "30%).", limits.headroom, default=0.3, example="30%"),
    ),
)


# --------------------------------------------------------------------------------------------------------------
# environment

ENVIRONMENT = Section(
    "environment",
    "Base environment",
    (
        Field("default_app", "choice", "Default interface", "What users see after logging in.",
              v.choice(("jupyterlab", "classic")), default="jupyterlab", choices=("jupyterlab", "classic")),
        Field("conda_packages", "list", "conda packages to install", "Installed into the user environment, "
              "separated by spaces (numpy scipy=1.13).", v.listing(v.package_spec, "packages", separators=r"\s+"),
              example="numpy scipy=1.13"),
        Field("pip_packages", "list", "pip packages to install", "Installed into the user environment, separated "
              "by spaces (pandas>=2,<3).", v.listing(v.package_spec, "packages", separators=r"\s+"),
              example="pandas>=2,<3"),
        Field("freeze", "bool", "Freeze the environment", "Take a snapshot you can diff and restore later.",
              v.boolean, default=True),
        Field("restore", "str", "Restore a snapshot", "At apply, bring the environment back to this snapshot (its "
              "id, or newest) before any install; the wizard clears it once done. Empty: none.", v.snapshot_ref,
              example="newest"),
    ),
)


# --------------------------------------------------------------------------------------------------------------
# backups

BACKUPS = Section(
    "backups",
    "Backups",
    (
        Field("pull_bundle", "bool", "Pull a backup bundle", "Copy TLJH's config and state to this machine before "
              "any change.", v.boolean, default=True),
        Field("bundle_dir", "path", "Bundle folder", "Where bundles go on this machine. Empty: the session folder.",
              v.local_path),
        Field("snapshots_confirmed", "bool", "Provider snapshots set up", "You have scheduled snapshots (or "
              "backups) of the disk holding /home at your provider.", v.boolean, default=False),
    ),
)

# --------------------------------------------------------------------------------------------------------------
# ssh

def _ssh_keys(raw: Any) -> list[str]:
    from wizard.sshaccess.keys import key_lines

    return key_lines(raw)


def _ssh_user_keys(raw: Any) -> dict[str, list[str]]:
    from wizard.sshaccess.answers import user_keys

    return user_keys(raw)


def _ssh_rules(section: Mapping[str, Any], answers: "Answers") -> list[ValidationError]:
    from wizard.sshaccess.answers import rules

    return rules(section, answers)


PASSWORD_CHOICES = ("keep", "disable")

SSH = Section(
    "ssh",
    "SSH access",
    (
        Field("admin_keys", "list", "Admins' public keys", "OpenSSH public key lines (ssh-ed25519 AAAA... you@laptop),"
              " one per line (or separated by commas), installed for every admin's jupyter-<name> account. Admins have passwordless sudo: a "
              "key here is root on the hub.", _ssh_keys, example="ssh-ed25519 AAAA... alice@laptop"),
        Field("user_keys", "mapping", "Keys per user", "Public keys for particular hub users, as NAME: KEY LINE "
              "entries (one per line): each goes into that user's jupyter-<name> account.", _ssh_user_keys,
              example="bob: ssh-ed25519 AAAA... bob@laptop"),
        Field("password_authentication", "choice", "Password login", "keep: leave sshd as it is; disable: turn "
              "password login off (a drop-in in sshd_config.d, validated, and kept only when a new key login is "
              "proven to work).", v.choice(PASSWORD_CHOICES), default="keep", choices=PASSWORD_CHOICES),
    ),
    rules=_ssh_rules,
)

SECTIONS: dict[str, Section] = {
    s.name: s for s in (CONNECTION, AUTHENTICATOR, DOMAIN, HTTPS, LIMITS, ENVIRONMENT, BACKUPS, SSH)
}


# Sections whose step may be skipped: a skipped section leaves the hub's own settings for it exactly as they are.
SKIPPABLE = ("https", "limits", "environment", "backups", "ssh")


class AnswersError(ValidationError):
    """An answers file could not be used: bad version, unknown keys, bad values. ``errors`` lists them all."""

    def __init__(self, errors: list[ValidationError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


def field_for(key: str) -> Field:
    section, _, name = key.partition(".")
    if section not in SECTIONS:
        raise ValidationError(f"unknown section{v.did_you_mean(section, list(SECTIONS))}", key)
    try:
        return SECTIONS[section].field(name)
    except KeyError:
        raise ValidationError(f"unknown key{v.did_you_mean(name, SECTIONS[section].names)}", key) from None


class Answers:
    """The answers accepted so far: ``{section: {field: value}}``, holding public and secret values together."""

    def __init__(self, data: Mapping[str, Mapping[str, Any]] | None = None, skipped: Iterable[str] = ()) -> None:
        self.data: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
        for section, values in (data or {}).items():
            for name, value in values.items():
                self.data[section][name] = value
        # Skipped sections: the operator chose to leave the hub's settings for them untouched.
        self.skipped: set[str] = set(skipped)
        # Notes on what validators changed on the way in ("'https://github.com/ORG' is a URL: using 'ORG'").
        self.notes: list[str] = []

    # -- access ----------------------------------------------------------------------------------------------

    def get(self, key: str, default: Any = None) -> Any:
        """A value, or the field's declared default when unanswered (``default`` for unknown/undeclared)."""
        section, _, name = key.partition(".")
        values = self.data.get(section, {})
        if name in values:
            return values[name]
        try:
            declared = SECTIONS[section].field(name).default
        except KeyError:
            return default
        return copy.deepcopy(declared) if declared is not None else default

    def section(self, name: str) -> dict[str, Any]:
        """A section's values with declared defaults filled in for applicable, unanswered fields."""
        spec = SECTIONS[name]
        values = dict(self.data[name])
        for item in spec.fields:
            if item.name not in values and item.default is not None and item.applies(values):
                values[item.name] = copy.deepcopy(item.default)
        return {k: val for k, val in values.items() if spec.field(k).applies(values)}

    def set(self, key: str, raw: Any) -> Any:
        """Validate ``raw`` with the field's validator and store it; ``None``/empty clears the answer."""
        item = field_for(key)
        section, _, name = key.partition(".")
        value, notes = v.check_noted(item, raw, key) if not (raw is None or raw == "") else (None, [])
        # what a validator changed on the way in (a pasted URL turned into the name it holds), for the operator
        self.notes = [note for note in getattr(self, "notes", []) if not note.startswith(key + ":")] + notes
        if value is None:
            self.data[section].pop(name, None)
        else:
            self.data[section][name] = value
        return value

    def answered(self, key: str) -> bool:
        section, _, name = key.partition(".")
        return name in self.data.get(section, {})

    def skip(self, section: str, skipped: bool = True) -> None:
        """Mark a section as skipped (the hub keeps its own settings for it), or take it up again."""
        if section not in SKIPPABLE:
            raise ValidationError(f"cannot be skipped; only {', '.join(SKIPPABLE)} can", section)
        (self.skipped.add if skipped else self.skipped.discard)(section)

    def copy(self) -> "Answers":
        return Answers(copy.deepcopy(self.data), self.skipped)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Answers) and (self.data, self.skipped) == (other.data, other.skipped)

    # -- public / secret split ----------------------------------------------------------------------------------

    def split(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(public, secret) documents, each ``{"version": 1, section: {...}}`` without empty sections."""
        public: dict[str, Any] = {"version": VERSION}
        secret: dict[str, Any] = {"version": VERSION}
        if self.skipped:
            public["skip"] = sorted(self.skipped)
        for section, spec in SECTIONS.items():
            for name, value in self.data[section].items():
                target = secret if spec.field(name).secret else public
                target.setdefault(section, {})[name] = value
        return public, secret

    def secret_values(self) -> list[str]:
        """Every secret value held, for redaction."""
        _, secret = self.split()
        return [value for section, values in secret.items() if section not in _META for value in values.values()]

    # -- validation --------------------------------------------------------------------------------------------

    def problems(self) -> list[ValidationError]:
        """Every reason these answers cannot be applied: required values missing, cross-field rules broken."""
        errors: list[ValidationError] = []
        for name, spec in SECTIONS.items():
            if name in self.skipped:
                continue
            values = self.section(name)
            for item in spec.fields:
                if item.required and item.applies(values) and values.get(item.name) in (None, "", []):
                    errors.append(ValidationError("a value is required (missing answer)", f"{name}.{item.name}"))
            errors.extend(spec.rules(values, self))
        unique: dict[str, ValidationError] = {}
        for error in errors:
            unique.setdefault(str(error), error)
        return list(unique.values())

    def require_complete(self) -> None:
        errors = self.problems()
        if errors:
            raise AnswersError(errors)

    # -- documents ---------------------------------------------------------------------------------------------

    @classmethod
    def from_documents(cls, public: Mapping[str, Any] | None, secret: Mapping[str, Any] | None = None,
                       origin: str = "answers", secrets_inline: bool = True,
                       secrets_origin: str | None = None) -> "Answers":
        """Build answers from parsed answers/secrets documents; every problem is collected into one AnswersError.
        ``secrets_inline=False``: a secret value in the public document is refused, naming its key.
        ``origin``/``secrets_origin`` name the two documents in messages (the secrets file's problems are never
        blamed on the answers file)."""
        answers = cls()
        errors: list[ValidationError] = []
        for document, kind in ((public, "answers"), (secret, "secrets")):
            if document is None:
                continue
            where = origin if kind == "answers" or secrets_origin is None else secrets_origin
            if not isinstance(document, Mapping):
                raise AnswersError([ValidationError(f"{where}: expected a mapping of sections at the top level")])
            version = document.get("version")
            if version != VERSION:
                raise AnswersError([ValidationError(
                    f"{where}: unsupported {kind} file version {version!r}; this tljh-wizard reads version "
                    f"{VERSION}" + ("" if version is not None else " (add `version: 1` at the top)"), "version")])
            for section, values in document.items():
                if section == "version":
                    continue
                if section == "skip" and kind == "answers":
                    errors.extend(_read_skip(answers, values))
                    continue
                if section not in SECTIONS:
                    errors.append(ValidationError(f"unknown section{v.did_you_mean(section, list(SECTIONS))}",
                                                  str(section)))
                    continue
                if values is None:
                    continue
                if not isinstance(values, Mapping):
                    errors.append(ValidationError("expected a mapping of answers", section))
                    continue
                for name, raw in values.items():
                    key = f"{section}.{name}"
                    try:
                        item = field_for(key)
                    except ValidationError as exc:
                        errors.append(exc)
                        continue
                    if not item.secret and kind == "secrets":
                        errors.append(ValidationError("is not a secret: keep it in the answers file", key))
                        continue
                    if item.secret and kind == "answers" and not secrets_inline and raw not in (None, ""):
                        # answers.yaml is advertised as safe to commit: a secret in it is refused, never used.
                        errors.append(ValidationError(
                            "is a secret: it belongs in the secrets file (secrets.yaml, 0600, given with --secrets), "
                            "not in the answers file, which is meant to be safe to commit", key))
                        continue
                    try:
                        answers.set(key, raw)
                    except ValidationError as exc:
                        errors.append(exc)
        for section, spec in SECTIONS.items():
            values = answers.data[section]
            for name in list(values):
                if not spec.field(name).applies(answers.section(section) | values):
                    errors.append(ValidationError(_not_applicable(spec, name), f"{section}.{name}"))
        if errors:
            raise AnswersError(errors)
        return answers

    @classmethod
    def load(cls, path: str | Path, secrets_path: str | Path | None = None) -> "Answers":
        from wizard import yamlio

        # No aliases: nothing in an answers file needs them, and they are how a small file becomes a huge one.
        public = yamlio.load_file(path, aliases=False)
        secret = yamlio.load_file(secrets_path, aliases=False) if secrets_path else None
        # Secrets inline only in a private file (what `export --include-secrets` writes, 0600): an answers file
        # others can read is the one meant to be committed, and a secret in it is refused.
        try:
            private = os.stat(Path(path).expanduser()).st_mode & 0o077 == 0
        except OSError:
            private = False
        return cls.from_documents(public, secret, origin=str(path), secrets_inline=private,
                                  secrets_origin=str(secrets_path) if secrets_path else None)

    def save(self, path: str | Path, secrets_path: str | Path | None = None) -> None:
        """Write answers.yaml (public) and, when a path is given, secrets.yaml (0600)."""
        from wizard import yamlio
        from wizard.files import atomic_write

        public, secret = self.split()
        atomic_write(path, yamlio.dump(public, header=ANSWERS_HEADER), mode=0o644)
        if secrets_path is not None:
            atomic_write(secrets_path, yamlio.dump(secret, header=SECRETS_HEADER), mode=0o600)


_META = ("version", "skip")


def _read_skip(answers: Answers, raw: Any) -> list[ValidationError]:
    if not isinstance(raw, list):
        return [ValidationError(f"expected a list of sections to leave as they are on the hub: "
                                f"{', '.join(SKIPPABLE)}", "skip")]
    errors = []
    for section in raw:
        if section in SKIPPABLE:
            answers.skip(section)
        else:
            errors.append(ValidationError(f"{section!r} cannot be skipped; only {', '.join(SKIPPABLE)} can"
                                          f"{v.did_you_mean(str(section), SKIPPABLE)}", "skip"))
    return errors


def _not_applicable(spec: Section, name: str) -> str:
    return f"does not apply to these answers (check {spec.name}.type/mode: this key belongs to another choice)"


ANSWERS_HEADER = ("tljh-wizard answers (no secrets: safe to commit).\n"
                  "Replay: tljh-wizard apply answers.yaml --secrets secrets.yaml")
SECRETS_HEADER = "tljh-wizard secrets. Keep this file private (0600); never commit it."


def keys() -> Iterable[str]:
    for section, spec in SECTIONS.items():
        for item in spec.fields:
            yield f"{section}.{item.name}"
