"""The "who can log in" probe: runs the authenticator's own code over a config.yaml and sample identities.

This file is **sent as a script** to a Python that has JupyterHub and the authenticator packages — the hub's own
``PREFIX/hub/bin/python`` (over the session's SSH connection, on stdin), or this machine's Python when the packages
are importable here. It imports nothing from tljh-wizard. The payload (JSON, embedded by ``wizard.access.script``)
holds the config as data and the identities; the script prints one line ``TLJH-WIZARD-ACCESS <json>``.

Read-only: it works in a fresh scratch directory (removed afterwards) with an in-memory SQLite database; no hub
state, database or file is opened. No network: every OAuth provider request goes to a stub that answers from the
sample identity (``_Provider``), never to the network.

What runs, and where it comes from:
1. config.yaml -> traitlets config with TLJH's own ``tljh.configurer.apply_config`` when importable (on a hub),
   otherwise ``_stand_in_apply_config`` — a stand-in for TLJH 2.0.0's configurer.py ``update_auth`` /
   ``update_userlists``, named as such in the result.
2. The authenticator class is constructed as JupyterHub's ``JupyterHub.authenticator`` default constructs it
   (jupyterhub app.py: ``authenticator_class(parent=..., _deprecated_db_session=db)``); a constructor exception
   (e.g. oauthenticator's ``manage_groups`` ValueError) is the preflight's ERROR.
3. JupyterHub's start-up step that touches access (app.py ``init_users``): names normalised, admin users added to
   ``allowed_users`` when that set is non-empty, and ``add_user`` called for each admin (they exist in the database).
4. Each identity logs in through ``Authenticator.get_authenticated_user`` (jupyterhub auth.py): the class's own
   ``authenticate``, ``normalize_username``, ``check_blocked_users``, ``allow_all``, ``check_allowed``, ``is_admin``.
   OAuth classes get a stub provider (token, user info, GitHub membership); LDAP a stub directory connection;
   Native a real sign-up (``create_user``) in the scratch database; FirstUse/Dummy log in with a password.
"""

import asyncio
import json
import os
import shutil
import sys
import tempfile
import traceback
from typing import Any

MARK = "TLJH-WIZARD-ACCESS "


# ---------------------------------------------------------------------------------------------------------------
# config.yaml -> traitlets

def _merge(a, b):
    for key, value in b.items():
        if isinstance(a.get(key), dict) and isinstance(value, dict):
            _merge(a[key], value)
        else:
            a[key] = value
    return a


def _stand_in_apply_config(config, c):
    """Stand-in for TLJH 2.0.0 ``tljh/configurer.py`` (``apply_config`` -> ``update_auth``, ``update_userlists``):
    ``auth.type`` -> ``JupyterHub.authenticator_class``; every ``auth.<ClassName>`` mapping -> ``c.<ClassName>``
    (None values skipped); ``users.allowed/banned/admin`` -> ``Authenticator.allowed_users/blocked_users/
    admin_users``; FirstUse (TLJH's default) without allowed users gets ``allow_all`` unless it is set."""
    default_type = "firstuseauthenticator.FirstUseAuthenticator"
    full = _merge({"auth": {"type": default_type, "FirstUseAuthenticator": {"create_users": False}},
                   "users": {"allowed": [], "banned": [], "admin": []}}, json.loads(json.dumps(config)))
    auth = full["auth"]
    c.JupyterHub.authenticator_class = auth["type"]
    for key, value in auth.items():
        if key == "type":
            continue
        if not (key[0] == key[0].upper() and isinstance(value, dict)):
            raise ValueError(f"Error: auth.{key} was ignored, it didn't look like a valid configuration")
        for name, item in value.items():
            if item is not None:
                setattr(c[key], name, item)
    users = full["users"]
    if not users["allowed"] and auth["type"] == default_type and "allow_all" not in c.FirstUseAuthenticator:
        c.FirstUseAuthenticator.allow_all = True
    c.Authenticator.allowed_users = set(users["allowed"] or [])
    c.Authenticator.blocked_users = set(users["banned"] or [])
    c.Authenticator.admin_users = set(users["admin"] or [])


def load_config(config):
    from traitlets.config import Config

    c = Config()
    try:
        from tljh.configurer import apply_config
    except ImportError:
        _stand_in_apply_config(config, c)
        return c, "stand-in for tljh.configurer (TLJH 2.0.0)"
    apply_config(json.loads(json.dumps(config)), c)
    return c, "tljh.configurer"


# ---------------------------------------------------------------------------------------------------------------
# stubs: the provider's side of a login, answered from the sample identity

class _Response:
    def __init__(self, code, body=b"", headers=None):
        self.code, self.body, self.headers = code, body, headers or {}


class _Provider:
    """Plays the OAuth provider for one identity: the token endpoint, the user info endpoint, GitHub's membership
    API. Every request is answered here; nothing reaches the network."""

    def __init__(self, auth, identity):
        self.auth, self.identity = auth, identity
        self.memberships = []  # GitHub org/team memberships the authenticator asked about and was told yes

    def granted_scopes(self):
        return list(self.auth.scope or [])

    def user_info(self):
        ident = self.identity
        kind = type(self.auth).__name__
        if "GitHub" in kind:
            return {"login": ident["name"], "id": 1000, "name": ident["name"],
                    "email": f"{ident['name']}@users.noreply.github.com"}
        if "Google" in kind:
            email = ident["name"]
            info = {"email": email, "verified_email": ident.get("verified", True),
                    "email_verified": ident.get("verified", True), "sub": "1000"}
            domain = ident.get("domain")
            if domain:  # the hd claim: present only for Google Workspace accounts
                info["hd"] = domain
            return info
        claim = self.auth.username_claim if isinstance(self.auth.username_claim, str) else "preferred_username"
        info = {claim: ident["name"], "sub": "1000", "email": ident.get("email") or ""}
        key = self.auth.auth_state_groups_key
        if isinstance(key, str) and key.startswith(self.auth.user_auth_state_key + "."):
            node = info
            parts = key.split(".")[1:]
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = list(ident.get("groups") or [])
        return info

    async def fetch(self, req, label="fetching", parse_json=True, raise_error=True, **kwargs):
        url = req.url.split("?", 1)[0]
        auth = self.auth
        body: object = None  # the JSON the provider would answer
        code = 200
        if url == auth.token_url.split("?", 1)[0]:
            body = {"access_token": "preview-access-token", "token_type": "bearer",
                    "scope": " ".join(self.granted_scopes())}
        elif url == (auth.userdata_url or "").split("?", 1)[0]:
            body = self.user_info()
        elif "/orgs/" in url and "/members/" in url and hasattr(auth, "github_api"):
            path = url[len(auth.github_api):] if url.startswith(auth.github_api) else url
            parts = path.strip("/").split("/")  # orgs/ORG/members/USER or orgs/ORG/teams/TEAM/members/USER
            org_team = parts[1] + (f":{parts[3]}" if len(parts) > 4 and parts[2] == "teams" else "")
            member = org_team.lower() in [o.lower() for o in self.identity.get("orgs") or []]
            private = not self.identity.get("public_membership", False)
            # GitHub shows a private membership only to a token with read:org (a member of that org)
            visible = member and (not private or "read:org" in self.granted_scopes())
            if visible:
                self.memberships.append(org_team)
            return _Response(204 if visible else 404, b"" if visible else b'{"message": "Not Found"}')
        elif url.endswith("/user/emails") or url.endswith("/user/teams"):
            body = []
        else:
            code = 404
        if code != 200:
            if raise_error:
                from tornado.httpclient import HTTPClientError

                raise HTTPClientError(code, "stubbed provider: not found")
            return _Response(code, b'{"message": "Not Found"}')
        data = json.dumps(body).encode()
        return body if parse_json else _Response(200, data)


class _Namespace:
    def __init__(self, **values):
        self.__dict__.update(values)


class _Handler:
    """The parts of the OAuth callback handler that ``OAuthenticator.authenticate`` reads (the request, for a callback
    URL guessed when ``oauth_callback_url`` is not set yet)."""

    def __init__(self, state_cookie):
        self._state_cookie = state_cookie
        self.request = _Namespace(protocol="https", host="hub.invalid")
        self.hub = _Namespace(server=_Namespace(base_url="/hub/"))

    def get_argument(self, name, default=None):
        return "preview-code" if name == "code" else default

    def get_state_cookie(self):
        return self._state_cookie


class _LDAPConnection:
    """The directory's side of an LDAP login: binds succeed (the password is not what the preview judges), group
    searches find the identity's groups, the search_filter search finds the one user."""

    def __init__(self, auth, identity):
        self.auth, self.identity, self.entries = auth, identity, []

    def search(self, search_base, search_scope=None, search_filter="", attributes=None, **kwargs):
        groups = [g.replace(" ", "").lower() for g in self.identity.get("groups") or []]
        if search_base.replace(" ", "").lower() in groups:
            self.entries = [object()]
            return True
        if search_base == self.auth.user_search_base:
            self.entries = [object()]
            return True
        self.entries = []
        return False


# ---------------------------------------------------------------------------------------------------------------
# one login

async def _login(auth, db, identity, scratch):
    """(auth model or None, detail) for one identity, through ``get_authenticated_user``."""
    from jupyterhub.auth import Authenticator  # noqa: F401  (jupyterhub is the oracle; imported for clarity)

    kind = type(auth).__mro__
    names = {cls.__name__ for cls in kind}
    detail: dict[str, Any] = {}
    if "OAuthenticator" in names:
        provider = _Provider(auth, identity)
        auth.fetch = provider.fetch  # the instance's HTTP goes to the stub
        if getattr(auth, "allowed_google_groups", None) or getattr(auth, "admin_google_groups", None):
            async def member_groups(email, domain, *args, **kwargs):
                return set(identity.get("groups") or [])
            auth._fetch_member_groups = member_groups
        cookie = None
        if getattr(auth, "enable_pkce", False):
            from oauthenticator.oauth2 import _serialize_state

            cookie = _serialize_state({"state_id": "preview", "code_verifier": "preview-" + "v" * 43})
        model = await auth.get_authenticated_user(_Handler(cookie), None)
        detail["memberships"] = provider.memberships
        return model, detail
    if "LDAPAuthenticator" in names:
        auth.get_connection = lambda userdn, password: _LDAPConnection(auth, identity)
        auth.get_user_attributes = lambda conn, userdn: {}
        if auth.lookup_dn:
            def resolve(login):
                return login, f"{auth.user_attribute}={login},{auth.user_search_base}"
            auth.resolve_username = resolve
        return await auth.get_authenticated_user(None, {"username": identity["name"], "password": "preview"}), detail
    password = "Preview-" + os.urandom(12).hex()
    if "NativeAuthenticator" in names:
        created = auth.create_user(identity["name"], password)
        detail["signed_up"] = created is not None
        detail["approved_at_sign_up"] = bool(created is not None and created.is_authorized)
        if created is not None and identity.get("approved") and not created.is_authorized:
            created.is_authorized = True  # an admin approved the sign-up (the /authorize page's toggle)
            db.commit()
            detail["approved_by_admin"] = True
    return await auth.get_authenticated_user(None, {"username": identity["name"], "password": password}), detail


def _decide(auth, identity, model, detail, error):
    """The rule that decided, in the order get_authenticated_user and the class's check_allowed apply them."""
    if error:
        return error
    if model is None:
        if detail.get("signed_up") is False:
            return "sign-up refused (name or password rules)"
        if "approved_at_sign_up" in detail and not (detail["approved_at_sign_up"] or detail.get("approved_by_admin")):
            return "signed up; waits for an admin's approval"
        blocked = set(getattr(auth, "blocked_users", ()) or ())
        if detail.get("hub_name") in blocked:
            return "blocked_users"
        hosted = list(getattr(auth, "hosted_domain", []) or [])
        if hosted and identity.get("domain") not in hosted:
            return f"hosted_domain: not an account of {', '.join(hosted)}"
        if detail.get("authenticate_refused"):
            return detail["authenticate_refused"]
        return "no rule allows it (not allow_all, not in allowed_users" + (
            ", not in an allowed organization" if getattr(auth, "allowed_organizations", None) else "") + (
            ", not in allowed_groups" if getattr(auth, "allowed_groups", None) else "") + ")"
    if auth.allow_all:
        return "allow_all" + (f" within hosted_domain {', '.join(auth.hosted_domain)}"
                              if getattr(auth, "hosted_domain", None) else "")
    hub_name = model["name"]
    if model.get("admin") and hub_name in auth.admin_users and hub_name not in auth.allowed_users:
        return "admin_users"
    if hub_name in auth.allowed_users:
        return "allowed_users" + (" (admin_users are added to it at hub start)" if hub_name in auth.admin_users
                                  else "")
    if detail.get("memberships"):
        return f"allowed_organizations ({', '.join(detail['memberships'])})"
    groups = set(model.get("groups") or []) | set((model.get("auth_state") or {}).get("ldap_groups") or [])
    matched = sorted(groups & set(getattr(auth, "allowed_groups", None) or []))
    if matched:
        return f"allowed_groups ({', '.join(matched)})"
    return "allowed by the authenticator's check_allowed"


async def run(payload):
    from traitlets import import_item

    result: dict[str, Any] = {"configurer": None, "constructed": False, "error": None, "verdicts": [],
                              "authenticator": None}
    try:
        c, result["configurer"] = load_config(payload["config"])
    except Exception as exc:  # TLJH's configurer refused the config: the hub would not start either
        result["error"] = f"tljh configurer: {type(exc).__name__}: {exc}"
        return result
    class_path = c.JupyterHub.authenticator_class
    result["authenticator"] = class_path if isinstance(class_path, str) else getattr(class_path, "__name__", "")
    from jupyterhub import orm

    db = orm.new_session_factory("sqlite://")()
    try:
        cls = import_item(class_path) if isinstance(class_path, str) else class_path
        auth = cls(config=c, _deprecated_db_session=db)
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
        return result
    result["constructed"] = True
    result["authenticator"] = type(auth).__name__
    result["allow_all"] = bool(auth.allow_all)
    # jupyterhub app.py init_users: normalise, admins join a non-empty allowed_users, add_user for each admin
    auth.admin_users = {auth.normalize_username(n) for n in auth.admin_users}
    auth.allowed_users = {auth.normalize_username(n) for n in auth.allowed_users}
    if auth.allowed_users and auth.admin_users:
        auth.allowed_users |= auth.admin_users
    from jupyterhub.auth import LocalAuthenticator

    # init_users puts admin and allowed users in the database, then calls add_user for every user there (a
    # LocalAuthenticator's add_user would create system users: not called for those)
    for name in sorted(auth.admin_users | auth.allowed_users):
        user = orm.User(name=name, admin=name in auth.admin_users)
        db.add(user)
        db.commit()
        if not isinstance(auth, LocalAuthenticator):
            maybe = auth.add_user(user)
            if asyncio.iscoroutine(maybe):
                await maybe
    for identity in payload["identities"]:
        model, error = None, None
        detail: dict[str, Any] = {}
        try:
            model, detail = await _login(auth, db, identity, payload.get("scratch"))
        except Exception as exc:
            code = getattr(exc, "status_code", None)
            message = getattr(exc, "log_message", None) or str(exc)
            error = f"refused with HTTP {code}: {message}" if code else f"{type(exc).__name__}: {message}"
            if not code:
                result.setdefault("identity_errors", []).append(
                    f"{identity['name']}: {error} ({traceback.format_exc(limit=2).splitlines()[-1]})")
        detail["hub_name"] = auth.normalize_username(identity["name"].split("@")[0]
                                                     if "Google" in type(auth).__name__ and
                                                     getattr(auth, "strip_domain", False) else identity["name"])
        rule = _decide(auth, identity, model, detail, error)
        if model and model.get("admin") and not rule.startswith("admin_users"):
            rule += "; admin by admin_users"
        result["verdicts"].append({
            "name": identity["name"], "label": identity.get("label", ""),
            "username": model["name"] if model else None,
            "allowed": model is not None, "admin": bool(model and model.get("admin")), "rule": rule})
    return result


def main(payload_json):
    # jsonschema's optional "iri" format checker builds a grammar at import (seconds); oauthenticator imports
    # jsonschema for CILogon's config schema only. No access decision uses it: skip it so the probe stays quick.
    # (None in sys.modules makes its import raise ImportError; typeshed allows only modules)
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    payload = json.loads(payload_json)
    scratch = tempfile.mkdtemp(prefix="tljh-wizard-access-")
    here = os.getcwd()
    try:
        os.chdir(scratch)  # anything an authenticator writes relative to the cwd (FirstUse's dbm) lands here
        payload["scratch"] = scratch
        import logging

        logging.disable(logging.CRITICAL)  # the authenticators log refusals as warnings: the verdicts say it all
        out = asyncio.run(run(payload))
    except ImportError as exc:
        out = {"unavailable": f"{exc.name or exc}: not importable by {sys.executable}"}
    except Exception as exc:
        out = {"error": f"{type(exc).__name__}: {exc}", "verdicts": []}
    finally:
        os.chdir(here)
        shutil.rmtree(scratch, ignore_errors=True)
    sys.stdout.write(MARK + json.dumps(out) + "\n")
    sys.stdout.flush()
