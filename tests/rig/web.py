"""A hub's web front on loopback for the TLS posture probes: an HTTPS server (the test PKI's chain, a chosen lowest
TLS version, with or without an HSTS header) and a plain HTTP server (redirecting to HTTPS or not). Both answer
every GET with a tiny page; each runs in a thread of the test process and is closed by the test.

OpenSSL 3 refuses TLS 1.0/1.1 below security level 0, on the server as on the client: a server meant to accept them
sets ``@SECLEVEL=0`` in its cipher string (``legacy=True``).
"""

from __future__ import annotations

import http.server
import ssl
import threading
import warnings
from pathlib import Path


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "rig"

    def do_GET(self):  # noqa: N802 (http.server's name)
        front = self.server.front
        front.requests.append((self.command, self.path, self.headers.get("Host")))
        if front.redirect_to:
            self.send_response(301)
            self.send_header("Location", front.redirect_to + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b"<html>hub</html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        if front.hsts:
            self.send_header("Strict-Transport-Security", front.hsts)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class WebFront:
    """``WebFront(tmp, chain_pem=..., key_pem=...)`` serves HTTPS; without a chain, plain HTTP. ``port`` is where.
    ``legacy``: accept TLS 1.0 and 1.1 too. ``hsts``: the Strict-Transport-Security value to send (None: none).
    ``redirect_to``: answer every request with a 301 to this base URL."""

    def __init__(self, tmp: Path, *, chain_pem: bytes | None = None, key_pem: bytes | None = None,
                 legacy: bool = False, hsts: str | None = None, redirect_to: str | None = None,
                 address: str = "127.0.0.1", port: int = 0):
        self.hsts, self.redirect_to, self.requests = hsts, redirect_to, []
        self.server = http.server.ThreadingHTTPServer((address, port), _Handler)
        self.server.daemon_threads = True
        self.server.front = self
        if chain_pem is not None:
            tmp.mkdir(parents=True, exist_ok=True)
            (tmp / "front-chain.pem").write_bytes(chain_pem)
            (tmp / "front-key.pem").write_bytes(key_pem)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tmp / "front-chain.pem", tmp / "front-key.pem")
            if legacy:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    context.minimum_version = ssl.TLSVersion.TLSv1
                context.set_ciphers("DEFAULT:@SECLEVEL=0")
            else:
                context.minimum_version = ssl.TLSVersion.TLSv1_2
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="rig-web")
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
