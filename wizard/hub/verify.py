"""Verify a hub after an apply, for real: each check a :class:`~wizard.diagnosis.Diagnosis`, all in one round trip.

What is checked (on the hub, against the hub's own web server, through TLJH's proxy on ``http.port``):

- ``verify.api``: ``/hub/api`` answers 200 (polled until ``timeout``), as TLJH's ``check_hub_ready`` waits
  (the-littlest-jupyterhub 2.0.0, ``tljh/config.py``); its JupyterHub version is reported.
- ``verify.login``: ``/hub/login`` shows the chosen authenticator. OAuthenticator classes render JupyterHub's
  ``login.html`` with a "Sign in with {login_service}" button (``oauthenticator/oauth2.py``: ``login_service``;
  GitHub's default is "GitHub", Google's "Google", the generic one's "OAuth 2.0"); password authenticators (LDAP,
  Native, FirstUse, Dummy, PAM) render the ``username_input``/``password_input`` form, and Native's page links to
  ``signup`` while its ``enable_signup`` is on (``nativeauthenticator/templates/native-login.html``).
- ``verify.oauth``: for OAuth, ``/hub/oauth_login`` redirects (read, never followed) to the provider with the
  configured ``client_id`` and, as ``redirect_uri``, the configured ``oauth_callback_url``
  (``OAuthLoginHandler.get`` / ``OAuthenticator.get_callback_url``).
- ``verify.culler``: the idle culler runs from the hub environment with the configured ``--timeout``,
  ``--cull-every``, ``--concurrency`` and ``--max-age`` (TLJH's ``configurer.set_cull_idle_service``), or does not
  run when ``services.cull.enabled`` is false.

On the demo sandbox's light stand-in (a tree with ``hub/standin/hub-status`` and no real hub) only the API exists:
the other checks are SKIPPED, saying so.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from wizard.diagnosis import Diagnosis, Status
from wizard.mappings import section as mapping_section

if TYPE_CHECKING:
    from wizard.hub.target import HubTarget


OAUTH_SERVICES = {"GitHubOAuthenticator": "GitHub", "GoogleOAuthenticator": "Google",
                  "GenericOAuthenticator": "OAuth 2.0"}
PASSWORD_CLASSES = {"LDAPAuthenticator", "NativeAuthenticator", "FirstUseAuthenticator", "DummyAuthenticator",
                    "PAMAuthenticator", "SharedPasswordAuthenticator"}
ENTRY_POINTS = {"github": "GitHubOAuthenticator", "google": "GoogleOAuthenticator",
                "generic-oauth": "GenericOAuthenticator", "generic": "GenericOAuthenticator",
                "ldapauthenticator": "LDAPAuthenticator", "ldap": "LDAPAuthenticator",
                "native": "NativeAuthenticator", "nativeauthenticator": "NativeAuthenticator",
                "firstuse": "FirstUseAuthenticator", "firstuseauthenticator": "FirstUseAuthenticator",
                "dummy": "DummyAuthenticator", "pam": "PAMAuthenticator", "default": "PAMAuthenticator",
                "shared-password": "SharedPasswordAuthenticator"}


def merged_config(config_text: str) -> dict[str, Any]:
    """config.yaml merged over TLJH 2.0.0's defaults, as TLJH's configurer merges them."""
    from wizard import yamlio

    defaults = json.loads((files("wizard") / "data" / "tljh" / "config-defaults.json").read_text())
    data = yamlio.loads(config_text) if config_text.strip() else {}

    def merge(base: dict[str, Any], over: Any) -> dict[str, Any]:
        for key, value in (over or {}).items() if isinstance(over, dict) else ():
            if isinstance(base.get(key), dict) and isinstance(value, dict):
                merge(base[key], value)
            else:
                base[key] = value
        return base

    return merge(defaults, data)


def expectations(config_text: str, api_url: str) -> dict[str, Any]:
    """What the checks expect of the hub running ``config_text`` whose API is at ``api_url``."""
    config = merged_config(config_text)
    auth = config.get("auth") or {}
    kind = str(auth.get("type") or "")
    class_name = ENTRY_POINTS.get(kind, kind.rsplit(".", 1)[-1].rsplit(":", 1)[-1])
    section = mapping_section(auth, class_name)
    base = api_url[: -len("/hub/api")] if api_url.endswith("/hub/api") else api_url.rsplit("/hub/", 1)[0]
    expected: dict[str, Any] = {"api_url": api_url, "base": base, "class": class_name}
    if class_name in OAUTH_SERVICES or "client_id" in section:
        expected["login"] = {"kind": "oauth",
                             "service": section.get("login_service") or OAUTH_SERVICES.get(class_name, "")}
        expected["oauth"] = {"client_id": section.get("client_id"), "callback": section.get("oauth_callback_url")}
    elif class_name in PASSWORD_CLASSES:
        expected["login"] = {"kind": "password",
                             "signup": class_name == "NativeAuthenticator" and section.get("enable_signup", True)}
    else:
        expected["login"] = {"kind": "unknown"}
    cull = (config.get("services") or {}).get("cull") or {}
    expected["cull"] = {"enabled": bool(cull.get("enabled", True)),
                        "args": {"--timeout": str(cull.get("timeout")), "--cull-every": str(cull.get("every")),
                                 "--concurrency": str(cull.get("concurrency")), "--max-age": str(cull.get("max_age"))}}
    return expected


# Runs on the hub as root with any Python 3: argv[1] the prefix, argv[2] the expectations (JSON), argv[3] seconds.
# Prints one JSON object: {"light": bool, "checks": [[id, status, summary, details], ...]}.
_SCRIPT = r'''
import html, json, os, re, ssl, sys, time, urllib.error, urllib.parse, urllib.request

prefix, want, seconds = sys.argv[1], json.loads(sys.argv[2]), float(sys.argv[3])
checks = []
def add(ident, status, summary, details=""):
    checks.append([ident, status, summary, details[-2000:]])
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
# The hub is asked on this machine: with HTTPS on, TLJH's proxy redirects http://127.0.0.1 to https://127.0.0.1,
# whose certificate names the domain, not 127.0.0.1 (the served certificate is checked elsewhere). Only such a
# redirect (same page, this machine) is followed; any other (the OAuth provider's) is returned, never followed.
loopback_tls = ssl.create_default_context()
loopback_tls.check_hostname, loopback_tls.verify_mode = False, ssl.CERT_NONE
opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPSHandler(context=loopback_tls))
LOCAL = ("127.0.0.1", "localhost", "::1")
def fetch(url):
    for _ in range(5):
        try:
            with opener.open(url, timeout=10) as response:
                return response.status, response.headers, response.read(200000).decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            status, headers, body = exc.code, exc.headers, exc.read(200000).decode("utf-8", "replace")
        location = headers.get("Location", "") if status in (301, 302, 303, 307, 308) else ""
        target = urllib.parse.urljoin(url, location) if location else ""
        moved = urllib.parse.urlsplit(target) if target else None
        if not moved or moved.hostname not in LOCAL or moved.path != urllib.parse.urlsplit(url).path:
            return status, headers, body  # not the same page moved to https on this machine
        url = target
    return status, headers, body
standin = os.path.join(prefix, "hub", "standin")
light = os.path.exists(os.path.join(standin, "hub-status")) and not os.path.exists(os.path.join(standin, "real-hub"))
deadline, last, ok, body = time.monotonic() + seconds, "no answer", False, ""
while True:
    try:
        status, _, body = fetch(want["api_url"])
        if status == 200:
            ok = True
            break
        last = "HTTP %d" % status
    except Exception as exc:
        last = str(exc)
    if time.monotonic() > deadline:
        break
    time.sleep(0.25)
if not ok:
    add("verify.api", "error", "the hub does not answer %s: %s" % (want["api_url"], last))
    print(json.dumps({"light": light, "checks": checks}))
    sys.exit(0)
try:
    version = json.loads(body).get("version", "?")
except ValueError:
    version = "?"
add("verify.api", "ok", "the hub answers %s (JupyterHub %s)" % (want["api_url"], version))
if light:
    for ident in ("verify.login", "verify.oauth", "verify.culler"):
        add(ident, "skipped", "the sandbox's light hub stand-in has no login page, OAuth or culler to check")
    print(json.dumps({"light": True, "checks": checks}))
    sys.exit(0)
login = want["login"]
status, headers, page = fetch(want["base"] + "/hub/login")
text = html.unescape(page)
if status != 200:
    add("verify.login", "error", "/hub/login answered HTTP %d" % status, headers.get("Location", ""))
elif login["kind"] == "oauth":
    button = "Sign in with " + login["service"]
    if button in text:
        add("verify.login", "ok", "/hub/login shows \u201c%s\u201d (%s)" % (button, want["class"]))
    else:
        found = re.findall(r"Sign in with [^<]{1,60}", text)
        add("verify.login", "error", "/hub/login does not show \u201c%s\u201d: it shows %s" % (
            button, found[0] if found else "no sign-in button"), page[-1500:])
elif login["kind"] == "password":
    form = 'id="username_input"' in page and 'id="password_input"' in page
    signup = "signup" in page
    if not form:
        found = re.findall(r"Sign in with [^<]{1,60}", text)
        add("verify.login", "error", "/hub/login shows no username/password form%s" % (
            " (it shows \u201c%s\u201d)" % found[0] if found else ""), page[-1500:])
    elif login.get("signup") and not signup:
        add("verify.login", "error", "/hub/login has the password form but no sign-up link (%s)" % want["class"])
    else:
        add("verify.login", "ok", "/hub/login shows the username/password form%s (%s)" % (
            " and the sign-up link" if login.get("signup") else "", want["class"]))
else:
    add("verify.login", "warning", "/hub/login answers, but %s is not an authenticator the wizard knows how to "
        "recognise on the page" % want["class"])
oauth = want.get("oauth")
if not oauth:
    add("verify.oauth", "skipped", "not an OAuth authenticator")
else:
    status, headers, _ = fetch(want["base"] + "/hub/oauth_login")
    location = headers.get("Location", "")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
    got_id, got_cb = (query.get("client_id") or [None])[0], (query.get("redirect_uri") or [None])[0]
    provider = urllib.parse.urlunsplit(urllib.parse.urlsplit(location)[:3] + ("", ""))
    if status not in (301, 302, 303, 307) or not location:
        add("verify.oauth", "error", "/hub/oauth_login did not redirect to the provider (HTTP %d)" % status)
    elif oauth.get("client_id") and got_id != oauth["client_id"]:
        add("verify.oauth", "error", "the login redirect carries client_id %r, not the configured %r" % (
            (got_id or "")[:80], oauth["client_id"][:80]), provider)
    elif oauth.get("callback") and got_cb != oauth["callback"]:
        add("verify.oauth", "error", "the login redirect's callback is %r, not the configured %r" % (
            (got_cb or "")[:200], oauth["callback"]), provider)
    else:
        add("verify.oauth", "ok", "the login redirect goes to %s with client_id %s and callback %s" % (
            provider, got_id, got_cb))
cull = want["cull"]
hub_env = os.path.join(prefix, "hub") + os.sep
cullers = []
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as handle:
                argv = handle.read().rstrip(b"\0").decode("utf-8", "replace").split("\0")
        except OSError:
            continue
        if "jupyterhub_idle_culler" in argv and argv[0].startswith(hub_env):
            cullers.append(argv)
if not cull["enabled"]:
    add("verify.culler", "ok" if not cullers else "error",
        "the idle culler is off, as configured" if not cullers else "the idle culler runs, but is configured off")
elif not cullers:
    add("verify.culler", "error", "the idle culler is not running (services.cull.enabled is true)")
else:
    argv = cullers[0]
    seen = dict(arg.split("=", 1) for arg in argv if arg.startswith("--") and "=" in arg)
    wrong = ["%s=%s (configured %s)" % (key, seen.get(key, "unset"), value)
             for key, value in cull["args"].items() if seen.get(key) != value]
    if wrong:
        add("verify.culler", "error", "the idle culler runs with " + ", ".join(wrong))
    else:
        add("verify.culler", "ok", "the idle culler runs with " + " ".join("%s=%s" % kv for kv in cull["args"].items()))
print(json.dumps({"light": light, "checks": checks}))
'''

FIXES = {
    "verify.api": "look at the hub's log (journalctl -u jupyterhub) for the error that stopped it",
    "verify.login": "the hub runs another authenticator than the one configured: check auth.type in config.yaml",
    "verify.oauth": "check the OAuth client id and the callback URL registered with the provider",
    "verify.culler": "check services.cull in config.yaml and the hub's log",
}


def run(target: HubTarget, config_text: str, timeout: float = 60.0) -> list[Diagnosis]:
    """The checks above, in one remote command (``python3`` on the hub, as root), for the hub now running
    ``config_text``. Raises ``HubError`` only when the command itself cannot run."""
    from wizard.hub.apply import hub_api_url
    from wizard.hub.target import HubError

    want = expectations(config_text, hub_api_url(target, config_text))
    result = target.run(["python3", "-c", _SCRIPT, str(target.prefix), json.dumps(want), f"{timeout:g}"],
                        sudo=True, timeout=timeout + 60)
    try:
        report = json.loads(result.text.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise HubError("the verification could not run on the hub: "
                       + result.stderr.decode("utf-8", "replace").strip()[-300:]) from None
    return [Diagnosis(ident, Status(status), summary, details, FIXES.get(ident, "") if status == "error" else "")
            for ident, status, summary, details in report["checks"]]


def failures(diagnoses: list[Diagnosis]) -> list[Diagnosis]:
    return [d for d in diagnoses if d.status is Status.ERROR]
