"""OAuth logins end to end on the rig's real JupyterHub: identities log in through the real OAuthenticator classes
against loopback stand-ins of the providers (tests/rig/oauth.py); the test plays the browser.

For each policy — GitHub organisation, Google Workspace domain, generic groups — an allowed identity gets a running
server, an outsider gets 403 at the callback, and an admin reaches the admin page (a plain allowed user does not).
The config.yaml of each is what TLJH applies through its configurer (the rig's ``tljh`` stand-in), plus the
provider URLs of the stand-ins and a loopback callback URL. The wizard's "who can log in" preview (``wizard.access``)
must say the same of the same identities.
"""

import http.cookiejar
import json
import secrets
import time
import urllib.error
import urllib.request
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.rig.oauth import Identity, OAuthProvider
from wizard.hub import services

ADMIN_SERVICE = """\
# Test rig only: an admin service whose token the login tests use to look at servers.
c.JupyterHub.services.append({"name": "rig-test-admin", "api_token": %r})
c.JupyterHub.load_roles.append({"name": "rig-test-admin", "scopes": ["admin:users", "admin:servers"],
                                "services": ["rig-test-admin"]})
"""


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """Cookies kept, redirects returned rather than followed (the provider's pages are never visited)."""

    def __init__(self):
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect)

    def get(self, url):
        try:
            with self.opener.open(url, timeout=60) as response:
                return response.status, response.headers, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, exc.read().decode("utf-8", "replace")


@pytest.fixture(scope="module")
def provider():
    server = OAuthProvider()
    yield server
    server.close()


def hub_with(rig, auth_yaml: str, admin_token: str):
    """The rig's real hub restarted with this authenticator (one hub start)."""
    from tests.rig.sshd import make_real

    prefix = rig.prefix
    if not (services.real_mode(prefix) and services.state(prefix, "traefik") == "active"):
        rig = make_real(rig)
    (prefix / "config" / "jupyterhub_config.d" / "rig-test-admin.py").write_text(ADMIN_SERVICE % admin_token)
    (prefix / "config" / "config.yaml").write_text(auth_yaml)
    services.restart(prefix, "jupyterhub")
    services.wait_for_hub(prefix, timeout=180)
    base = services.hub_api_url(prefix)[: -len("/hub/api")]
    return base


def api(base, token, method, path):
    request = urllib.request.Request(f"{base}/hub/api{path}", method=method,
                                     headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            body = response.read()
            return response.status, json.loads(body) if body else None
    except urllib.error.HTTPError as exc:
        return exc.code, None


def login(base, code, client_id, callback, provider):
    """The browser's part of the authorization-code flow; returns (browser, status of the callback)."""
    browser = Browser()
    status, headers, _ = browser.get(f"{base}/hub/oauth_login?next=")
    assert status == 302
    query = parse_qs(urlsplit(headers["Location"]).query)
    assert query["client_id"] == [client_id] and query["redirect_uri"] == [callback]
    provider.consent(code, (query.get("scope") or [""])[0].split())
    status, _, body = browser.get(f"{callback}?{urlencode({'code': code, 'state': query['state'][0]})}")
    return browser, status, body


def gets_a_server(base, browser, token, name):
    status, _, _ = browser.get(f"{base}/hub/spawn")
    assert status in (200, 302), status
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline:
            _, model = api(base, token, "GET", f"/users/{name}")
            server = ((model or {}).get("servers") or {}).get("")
            if server and server.get("ready"):
                return True
            time.sleep(0.25)
        return False
    finally:
        api(base, token, "DELETE", f"/users/{name}/server")


def preview_agrees(config_text, identities, expected):
    """The wizard's "who can log in" preview (wizard.access, the authenticator's own code) says the same of these
    identities as the real hub's logins did."""
    from wizard import access, yamlio

    result = access.preview(yamlio.loads(config_text), [dict(identity, label="login test") for identity in identities])
    assert not result.error and not result.skipped, result.table()
    assert {verdict.name: verdict.outcome for verdict in result.verdicts} == expected, result.table()


def check_policy(base, token, client_id, callback, allowed, outsider, admin, provider):
    browser, status, _ = login(base, allowed[1], client_id, callback, provider)
    assert status == 302, f"{allowed[0]} was not let in (HTTP {status})"
    assert browser.get(f"{base}/hub/admin")[0] == 403  # allowed, but no admin
    assert gets_a_server(base, browser, token, allowed[0])

    _, status, body = login(base, outsider[1], client_id, callback, provider)
    assert status == 403, f"{outsider[0]} got HTTP {status}"
    _, model = api(base, token, "GET", f"/users/{outsider[0]}")
    assert model is None  # refused at the door: no user was created

    browser, status, _ = login(base, admin[1], client_id, callback, provider)
    assert status == 302
    status, _, page = browser.get(f"{base}/hub/admin")
    assert status == 200 and "admin" in page.lower()
    _, model = api(base, token, "GET", f"/users/{admin[0]}")
    assert model["admin"] is True


def callback_url(rig):
    return f"http://{rig.services['ip']}:{rig.services['http_port']}/hub/oauth_callback"


@pytest.mark.slow
def test_github_organisation_policy(sshd_rig, provider):
    """As the wizard renders an organisation policy: read:org requested, so private members count."""
    token = secrets.token_hex(16)
    callback = callback_url(sshd_rig)
    config = f"""\
auth:
  type: oauthenticator.github.GitHubOAuthenticator
  GitHubOAuthenticator:
    client_id: gh-client-id
    client_secret: gh-client-secret
    oauth_callback_url: {callback}
    github_url: {provider.url}/github
    allowed_organizations: [example-org]
    scope: [read:org]
users:
  admin: [alice]
"""
    base = hub_with(sshd_rig, config, token)
    allowed = ("bob", provider.add(Identity("bob", orgs=["example-org"])))
    outsider = ("mallory", provider.add(Identity("mallory", orgs=["other-org"])))
    admin = ("alice", provider.add(Identity("alice", orgs=["example-org"])))
    check_policy(base, token, "gh-client-id", callback, allowed, outsider, admin, provider)
    assert ("GET", "/github/api/v3/orgs/example-org/members/mallory") in provider.requests
    preview_agrees(config, [{"name": "bob", "orgs": ["example-org"]}, {"name": "mallory", "orgs": ["other-org"]},
                            {"name": "alice", "orgs": ["example-org"]}],
                   {"bob": "allowed", "mallory": "refused", "alice": "admin"})


@pytest.mark.slow
def test_google_domain_policy(sshd_rig, provider):
    """hosted_domain restricts; allow_all grants every account that passes it (oauthenticator 17's
    GoogleOAuthenticator.check_blocked_users / check_allowed)."""
    token = secrets.token_hex(16)
    callback = callback_url(sshd_rig)
    config = f"""\
auth:
  type: oauthenticator.google.GoogleOAuthenticator
  GoogleOAuthenticator:
    client_id: google-client-id
    client_secret: google-client-secret
    oauth_callback_url: {callback}
    google_api_url: {provider.url}/google
    authorize_url: {provider.url}/google/auth
    hosted_domain: [example.edu]
    allow_all: true
users:
  admin: [carol]
"""
    base = hub_with(sshd_rig, config, token)
    allowed = ("dave", provider.add(Identity("dave", email="dave@example.edu", domain="example.edu")))
    outsider = ("eve", provider.add(Identity("eve", email="eve@gmail.com", domain="")))
    admin = ("carol", provider.add(Identity("carol", email="carol@example.edu", domain="example.edu")))
    check_policy(base, token, "google-client-id", callback, allowed, outsider, admin, provider)
    preview_agrees(config, [{"name": "dave@example.edu", "domain": "example.edu"},
                            {"name": "eve@gmail.com", "domain": None},
                            {"name": "carol@example.edu", "domain": "example.edu"}],
                   {"dave@example.edu": "allowed", "eve@gmail.com": "refused", "carol@example.edu": "admin"})


@pytest.mark.slow
def test_generic_groups_policy(sshd_rig, provider):
    token = secrets.token_hex(16)
    callback = callback_url(sshd_rig)
    config = f"""\
auth:
  type: oauthenticator.generic.GenericOAuthenticator
  GenericOAuthenticator:
    client_id: generic-client-id
    client_secret: generic-client-secret
    oauth_callback_url: {callback}
    authorize_url: {provider.url}/generic/authorize
    token_url: {provider.url}/generic/token
    userdata_url: {provider.url}/generic/userinfo
    username_claim: preferred_username
    manage_groups: true
    auth_state_groups_key: oauth_user.groups
    allowed_groups: [students]
    admin_groups: [staff]
"""
    base = hub_with(sshd_rig, config, token)
    allowed = ("frank", provider.add(Identity("frank", groups=["students"])))
    outsider = ("grace", provider.add(Identity("grace", groups=["alumni"])))
    admin = ("heidi", provider.add(Identity("heidi", groups=["staff"])))
    check_policy(base, token, "generic-client-id", callback, allowed, outsider, admin, provider)
    preview_agrees(config, [{"name": "frank", "groups": ["students"]}, {"name": "grace", "groups": ["alumni"]},
                            {"name": "heidi", "groups": ["staff"]}],
                   {"frank": "allowed", "grace": "refused", "heidi": "admin"})
