"""The verification script's redirect rules against loopback servers: TLJH's proxy moving a page to another port
(as its http -> https redirect does) is followed; the OAuth login's redirect to the provider is read, never followed."""

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from wizard.hub import verify

CONFIG = """\
auth:
  type: oauthenticator.github.GitHubOAuthenticator
  GitHubOAuthenticator:
    client_id: the-client-id
    oauth_callback_url: https://hub.example.edu/hub/oauth_callback
services:
  cull:
    enabled: false
"""


def serve(routes):
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            seen.append(self.path)
            status, headers, body = routes(self.path)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


def test_moved_pages_are_followed_on_this_machine_and_the_provider_redirect_is_not(tmp_path):
    provider, provider_seen = serve(lambda path: (200, {}, b"the provider's page"))
    provider_url = f"http://127.0.0.1:{provider.server_address[1]}/login/oauth/authorize"

    def hub_routes(path):
        if path == "/hub/api":
            return 200, {"Content-Type": "application/json"}, b'{"version": "5.5.4"}'
        if path == "/hub/login":
            return 200, {}, b"<a href='/hub/oauth_login'>Sign in with GitHub</a>"
        if path.startswith("/hub/oauth_login"):
            query = "client_id=the-client-id&redirect_uri=https%3A%2F%2Fhub.example.edu%2Fhub%2Foauth_callback"
            return 302, {"Location": f"{provider_url}?{query}"}, b""
        return 404, {}, b""

    hub, _ = serve(hub_routes)
    # The "plain HTTP" port: every page moved to the hub's other port, same path (TLJH's http -> https redirect).
    front, front_seen = serve(lambda path: (301, {"location": f"http://127.0.0.1:{hub.server_address[1]}{path}"},
                                            b""))
    api_url = f"http://127.0.0.1:{front.server_address[1]}/hub/api"
    want = verify.expectations(CONFIG, api_url)
    done = subprocess.run([sys.executable, "-c", verify._SCRIPT, str(tmp_path), json.dumps(want), "5"],
                          capture_output=True, text=True, timeout=60)
    checks = {ident: (status, summary) for ident, status, summary, _ in json.loads(done.stdout)["checks"]}
    assert checks["verify.api"][0] == "ok" and "5.5.4" in checks["verify.api"][1]
    assert checks["verify.login"][0] == "ok"
    assert checks["verify.oauth"][0] == "ok" and "client_id the-client-id" in checks["verify.oauth"][1]
    assert checks["verify.culler"][0] == "ok"  # off, as configured, and none runs from this prefix
    assert front_seen == ["/hub/api", "/hub/login", "/hub/oauth_login"]
    assert provider_seen == []  # the provider's redirect is read, never followed
    for server in (provider, hub, front):
        server.shutdown()
