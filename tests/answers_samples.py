"""Varied, complete answers used across tests: every authenticator type, each HTTPS mode, limits set and unset."""

from __future__ import annotations

import copy

SENTINELS = {
    "authenticator.client_secret": "SENTINEL-client-secret-7f3a",
    "authenticator.lookup_dn_search_password": "SENTINEL-ldap-bind-9c1e",
    "https.tsig_secret": "U0VOVElORUwtdHNpZy1zZWNyZXQtNGQ1Yg==",
    "connection.sudo_password": "SENTINEL-sudo-2b8d",
    "connection.key_passphrase": "SENTINEL-passphrase-6a0f",
}

BASE = {
    "version": 1,
    "connection": {"host": "hub.example.edu", "port": 22, "user": "ubuntu"},
    "domain": {"name": "hub.example.edu", "reserved_ipv4": "203.0.113.10", "ip_reserved_confirmed": True},
    "https": {"mode": "letsencrypt", "email": "admin@example.edu"},
    "limits": {"memory": "2G", "cpu": 1, "cull_timeout": 3600, "cull_every": 300},
    "environment": {"default_app": "jupyterlab"},
    "backups": {"pull_bundle": True},
}

AUTHENTICATORS = {
    "github": {"type": "github", "client_id": "gh-id", "allowed_organizations": ["example-org"],
               "admin_users": ["alice"]},
    "google": {"type": "google", "client_id": "g-id.apps.example", "hosted_domain": ["example.edu"],
               "admin_users": ["alice@example.edu"]},
    "generic": {"type": "generic", "client_id": "oidc", "authorize_url": "https://id.example.edu/authorize",
                "token_url": "https://id.example.edu/token", "userdata_url": "https://id.example.edu/userinfo",
                "groups_claim": "groups", "allowed_groups": ["students", "staff"], "admin_users": ["alice"]},
    "ldap": {"type": "ldap", "server_address": "ldap.example.edu", "lookup_dn": True,
             "user_search_base": "ou=people,dc=example,dc=edu", "lookup_dn_search_user": "cn=search,dc=example,dc=edu",
             "allowed_groups": ["cn=jupyter,ou=groups,dc=example,dc=edu"], "admin_users": ["alice"],
             # LDAP admits admins only through a grant (jupyterhub adds admin_users to a non-empty allowed_users)
             "allowed_users": ["alice"]},
    "native": {"type": "native", "admin_users": ["alice"]},
    "firstuse": {"type": "firstuse", "insecure_confirmed": True, "allowed_users": ["alice", "bob"]},
    "dummy": {"type": "dummy", "insecure_confirmed": True, "allow_all": True},
}

HTTPS_MODES = {
    "letsencrypt": {"mode": "letsencrypt", "email": "admin@example.edu", "extra_domains": ["www.hub.example.edu"]},
    "acme-dns": {"mode": "acme-dns", "email": "admin@example.edu", "tsig_server": "127.0.0.1:5353",
                 "tsig_zone": "example.edu", "tsig_key_name": "acme-update", "tos_agreed": True},
    "existing": {"mode": "existing", "cert_path": "/tmp/fullchain.pem", "key_path": "/tmp/privkey.pem"},
    "none": {"mode": "none"},
}


def documents(auth: str = "github", https: str = "letsencrypt", limits: bool = True) -> tuple[dict, dict]:
    """(answers document, secrets document) for one combination."""
    public = copy.deepcopy(BASE)
    public["authenticator"] = copy.deepcopy(AUTHENTICATORS[auth])
    public["https"] = copy.deepcopy(HTTPS_MODES[https])
    if not limits:
        public["limits"] = {"cull_enabled": False}
    secret: dict = {"version": 1, "connection": {"sudo_password": SENTINELS["connection.sudo_password"],
                                                 "key_passphrase": SENTINELS["connection.key_passphrase"]}}
    if auth in ("github", "google", "generic"):
        secret.setdefault("authenticator", {})["client_secret"] = SENTINELS["authenticator.client_secret"]
    if auth == "ldap":
        secret.setdefault("authenticator", {})["lookup_dn_search_password"] = \
            SENTINELS["authenticator.lookup_dn_search_password"]
    if https == "acme-dns":
        secret["https"] = {"tsig_secret": SENTINELS["https.tsig_secret"]}
    return public, secret


def combinations():
    for auth in AUTHENTICATORS:
        for https in HTTPS_MODES:
            for limits in (True, False):
                yield auth, https, limits
