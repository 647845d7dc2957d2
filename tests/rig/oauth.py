"""STAND-INS of the OAuth providers' token and user endpoints on a loopback port (GitHub, Google, a generic OIDC
provider), so the rig's real JupyterHub logs identities in through the real OAuthenticator classes.

The authenticators let every provider URL be configured (oauthenticator 17: ``GitHubOAuthenticator.github_url`` ->
``/login/oauth/access_token`` and, for a non-github.com URL, ``github_api = github_url + "/api/v3"`` with ``/user``
and ``/orgs/ORG/members/USER`` (204 = member); ``GoogleOAuthenticator.google_api_url`` -> ``/oauth2/v4/token`` and
``/oauth2/v1/userinfo`` (``email``, ``verified_email``, ``hd``); ``GenericOAuthenticator.token_url`` /
``userdata_url``). This server answers those paths under ``/github``, ``/google`` and ``/generic``.

There is no consent screen: the test plays the browser, grants the scopes the hub's authorize redirect asked for
(:meth:`OAuthProvider.consent`) and brings the provider's ``code`` to the hub's callback itself. As on GitHub, an
organisation membership that is not public is visible only to a token granted ``read:org``. A code is the key of an identity registered with :meth:`OAuthProvider.add`; the token endpoint turns it
into an access token that the user endpoints resolve back to that identity. Only loopback is ever contacted.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Identity:
    login: str  # GitHub login / generic preferred_username
    email: str = ""
    domain: str = ""  # Google's hd claim
    orgs: list[str] = field(default_factory=list)  # GitHub organisations it is a member of
    public: bool = False  # GitHub: its memberships are public (else only a read:org token sees them)
    groups: list[str] = field(default_factory=list)  # the generic provider's groups claim


class OAuthProvider:
    """The three providers' endpoints; ``url`` is the server's base (``http://127.0.0.1:PORT``)."""

    def __init__(self, host: str = "127.0.0.1"):
        self.identities: dict[str, Identity] = {}
        self.scopes: dict[str, list[str]] = {}  # code -> the scopes the person consented to
        self.tokens: dict[str, tuple[Identity, list[str]]] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) in arrival order
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, body=None):
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _grant(self) -> tuple[Identity, list[str]] | tuple[None, list]:
                header = self.headers.get("Authorization", "")
                return provider.tokens.get(header.split(" ", 1)[1].strip() if " " in header else "", (None, []))

            def do_POST(self):  # noqa: N802
                provider.requests.append(("POST", self.path))
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                form.update(parse_qs(urlsplit(self.path).query))
                path = urlsplit(self.path).path
                if path in ("/github/login/oauth/access_token", "/google/oauth2/v4/token", "/generic/token"):
                    code = (form.get("code") or [""])[0]
                    identity = provider.identities.get(code)
                    if identity is None:
                        return self._send(400, {"error": "bad_verification_code"})
                    token, scopes = secrets.token_hex(16), provider.scopes.get(code, [])
                    provider.tokens[token] = (identity, scopes)
                    return self._send(200, {"access_token": token, "token_type": "Bearer", "scope": ",".join(scopes)})
                self._send(404, {"message": "Not Found"})

            def do_GET(self):  # noqa: N802
                provider.requests.append(("GET", self.path))
                path = urlsplit(self.path).path
                identity, scopes = self._grant()
                if identity is None:
                    return self._send(401, {"message": "Bad credentials"})
                if path == "/github/api/v3/user":
                    return self._send(200, {"login": identity.login, "id": abs(hash(identity.login)) % 10**8,
                                            "name": identity.login, "email": identity.email or None})
                if path.startswith("/github/api/v3/orgs/"):
                    parts = path.split("/")  # /github/api/v3/orgs/ORG/members/USER
                    # GitHub shows a private membership only to a token granted read:org.
                    member = len(parts) == 8 and parts[6] == "members" and parts[5] in identity.orgs \
                        and parts[7] == identity.login and (identity.public or "read:org" in scopes)
                    return self._send(204) if member else self._send(404, {"message": "Not Found"})
                if path == "/google/oauth2/v1/userinfo":
                    return self._send(200, {"email": identity.email, "verified_email": True, "hd": identity.domain,
                                            "name": identity.login})
                if path == "/generic/userinfo":
                    return self._send(200, {"preferred_username": identity.login, "email": identity.email,
                                            "groups": identity.groups})
                self._send(404, {"message": "Not Found"})

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="oauth-provider", daemon=True)
        self._thread.start()

    def add(self, identity: Identity) -> str:
        """Register ``identity``; returns the authorization code that stands for it."""
        code = secrets.token_hex(8)
        self.identities[code] = identity
        return code

    def consent(self, code: str, scopes: list[str]) -> None:
        """The person grants the scopes the hub's authorize redirect asked for (the consent screen's part)."""
        self.scopes[code] = list(scopes)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
