"""Stand-ins for TLJH's Traefik (which cannot run here), serving on 127.0.0.1 what Traefik would serve on 443.

Both read the hub's ``config.yaml`` and ``state/acme.json`` under the rig's prefix, as Traefik does with the settings
TLJH renders (TLJH ``tljh/traefik.py``, ``traefik.toml.tpl``): ``https.tls.cert/key`` files are served as they are;
with ``https.letsencrypt`` the certificate comes from the staging CA while ``staging`` is true, is remembered in
``acme.json``, and — the classic trap — stays served after the switch to production until acme.json is cleared.
Until a certificate is had, Traefik's built-in default certificate ("TRAEFIK DEFAULT CERT") is served.

``TraefikStandIn(prefix, tmp_path, wrong_names=False)``: the certificates come from test CAs at once ("(STAGING) Test"
and "Test Production"; ``cas[...]``).

``PebbleTraefik(prefix, tmp_path, bind, staging, production)``: like Traefik, it reads its settings and acme.json
when it starts — at each ``tljh-config reload proxy`` the rig's stand-in records — and keeps them in memory until the
next; the certificates are ordered from two Pebble servers (``tests/rig/pebble.py``; ``staging`` plays Let's
Encrypt's staging directory, ``production`` the production one) with HTTP-01, in a background thread: the names get ``A 127.0.0.1`` in the test BIND, and a small
HTTP server on each Pebble's ``http_port`` answers the challenges. ``orders`` counts the orders per stage;
``staging_marker`` is the staging Pebble's intermediate name (what tells a staging certificate apart);
``production_roots`` a file with the production Pebble's root. ``fail_production`` makes production orders fail
(the challenge answered wrongly), like a CA that cannot validate.
"""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

from tests.rig.pki import TestPKI, TLSServer
from wizard import yamlio


def _https(prefix: Path) -> dict:
    try:
        config = yamlio.loads((prefix / "config" / "config.yaml").read_text()) or {}
    except Exception:  # missing, half-written or invalid: Traefik keeps what it had
        return {}
    https = config.get("https") if isinstance(config, dict) else None
    return https if isinstance(https, dict) else {}


class TraefikStandIn:
    """Chooses the certificate to serve from config.yaml and acme.json, like Traefik with TLJH's settings."""

    def __init__(self, prefix, tmp_path, wrong_names=False):
        self.prefix, self.tmp_path, self.wrong_names = Path(prefix), Path(tmp_path), wrong_names
        self.cas = {"staging": TestPKI("(STAGING) Test"), "production": TestPKI("Test Production"),
                    "default": TestPKI("Traefik")}
        self.files = {}
        self.server = TLSServer(self.tmp_path, loader=self.choose)

    @property
    def port(self) -> int:
        return self.server.port

    def _files(self, stage, names):
        key = (stage, tuple(names))
        if key not in self.files:
            pki = self.cas[stage]
            leaf = pki.leaf(*names)
            chain = self.tmp_path / f"{stage}-{len(self.files)}.pem"
            private = self.tmp_path / f"k{len(self.files)}.pem"
            chain.write_bytes(pki.fullchain(leaf))
            private.write_bytes(leaf.key_pem)
            self.files[key] = (chain, private)
        return self.files[key]

    def choose(self):
        https = _https(self.prefix)
        letsencrypt = https.get("letsencrypt") or {}
        tls = https.get("tls") or {}
        acme = self.prefix / "state" / "acme.json"
        if https.get("enabled") and tls.get("cert") and tls.get("key"):
            return tls["cert"], tls["key"]
        if not https.get("enabled") or not isinstance(letsencrypt.get("domains"), list):
            return self._files("default", ["TRAEFIK DEFAULT CERT"])
        names = ["wrong.wizard.test"] if self.wrong_names else letsencrypt["domains"]
        stored = json.loads(acme.read_text() or "{}") if acme.exists() else {}
        if not stored:
            stage = "staging" if letsencrypt.get("staging") else "production"
            acme.write_text(json.dumps({"stage": stage}))
            acme.chmod(0o600)
            stored = {"stage": stage}
        return self._files(stored["stage"], names)

    def close(self) -> None:
        self.server.close()


class _Challenges(http.server.BaseHTTPRequestHandler):
    tokens: dict = {}

    def do_GET(self):  # noqa: N802 (http.server's name)
        body = self.tokens.get(self.path.rsplit("/", 1)[-1])
        self.send_response(200 if body else 404)
        self.end_headers()
        if body:
            self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


class PebbleTraefik:
    """Traefik with Let's Encrypt played by two Pebble servers (see the module docstring)."""

    def __init__(self, prefix, tmp_path, bind, staging, production, *, fail_production: bool = False):
        self.prefix, self.tmp_path, self.bind = Path(prefix), Path(tmp_path), bind
        self.pebbles = {"staging": staging, "production": production}
        self.fail_production = fail_production
        self.default = TestPKI("Traefik")
        leaf = self.default.leaf("TRAEFIK DEFAULT CERT")
        self.default_files = (self.tmp_path / "traefik-default.pem", self.tmp_path / "traefik-default.key")
        self.default_files[0].write_bytes(self.default.fullchain(leaf))
        self.default_files[1].write_bytes(leaf.key_pem)
        self.orders = {"staging": 0, "production": 0}
        self.errors: list[str] = []
        self.tokens: dict[str, str] = {}
        handler = type("Handler", (_Challenges,), {"tokens": self.tokens})
        self.http = [http.server.ThreadingHTTPServer(("127.0.0.1", pebble.http_port), handler)
                     for pebble in self.pebbles.values()]
        for server in self.http:
            threading.Thread(target=server.serve_forever, daemon=True).start()
        self.staging_marker = self._intermediate_name(staging)
        self.production_roots = self.tmp_path / "production-roots.pem"
        self.production_roots.write_text(production.root_pem())
        self._names: set[str] = set()
        self._serving = None
        _https(self.prefix)  # the YAML library is imported here, not first in the watcher thread
        self._proxy_reloads()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        self.server = TLSServer(self.tmp_path, loader=self.choose)

    @property
    def port(self) -> int:
        return self.server.port

    @staticmethod
    def _intermediate_name(pebble) -> str:
        from cryptography import x509

        cert = x509.load_pem_x509_certificate(pebble.intermediate_pem().encode())
        return cert.subject.rfc4514_string()

    # what is served: Traefik's state in memory, (re)read at each start ("tljh-config reload proxy")

    def _stored(self) -> dict:
        acme = self.prefix / "state" / "acme.json"
        try:
            text = acme.read_text()
        except OSError:
            return {}
        try:
            return json.loads(text) if text.strip() else {}
        except ValueError:
            return {}

    def choose(self):
        with self._lock:
            serving = self._serving
        return serving or self.default_files

    def _proxy_reloads(self) -> int:
        from wizard.hub import sandbox

        try:
            return sum(1 for entry in sandbox.reloads(self.prefix) if entry.get("component") == "proxy")
        except (OSError, ValueError):
            return 0

    def _start(self) -> None:
        """What Traefik does when it starts: read its settings and acme.json; serve the stored certificate, or
        order one (staging or production, as configured) and store it in acme.json."""
        https = _https(self.prefix)
        tls = https.get("tls") or {}
        letsencrypt = https.get("letsencrypt") or {}
        serving = None
        if https.get("enabled") and tls.get("cert") and tls.get("key"):
            serving = (tls["cert"], tls["key"])
        elif https.get("enabled") and isinstance(letsencrypt.get("domains"), list):
            stored = self._stored()
            if not stored.get("cert"):
                stage = "staging" if letsencrypt.get("staging") else "production"
                with self._lock:
                    self._serving = None
                try:
                    cert, key = self._order(stage, [str(name) for name in letsencrypt["domains"]])
                except Exception as exc:  # Traefik logs it and serves its default certificate
                    self.errors.append(f"{stage}: {type(exc).__name__}: {exc}")
                    return
                stored = {"stage": stage, "cert": cert, "key": key}
                acme = self.prefix / "state" / "acme.json"
                acme.write_text(json.dumps(stored))
                acme.chmod(0o600)
            index = len(self.errors) + sum(self.orders.values())
            chain = self.tmp_path / f"served-{stored['stage']}-{index}.pem"
            key = self.tmp_path / f"served-{stored['stage']}-{index}.key"
            chain.write_text(stored["cert"])
            key.write_text(stored["key"])
            serving = (chain, key)
        with self._lock:
            self._serving = serving

    def _watch(self) -> None:
        seen = self._proxy_reloads()
        self._start()
        while not self._stop.wait(0.1):
            count = self._proxy_reloads()
            if count != seen:
                seen = count
                self._start()

    def _order(self, stage: str, names: list[str]) -> tuple[str, str]:
        import josepy as jose
        from acme import challenges, client, crypto_util, messages
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        pebble = self.pebbles[stage]
        self.orders[stage] += 1
        for name in names:
            if name not in self._names:
                self.bind.add(name + ".", "A", "127.0.0.1")
                self._names.add(name)
        account = jose.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
        net = client.ClientNetwork(account, alg=jose.ES256, verify_ssl=str(pebble.ca_cert_path),
                                   user_agent="traefik-stand-in")
        acme = client.ClientV2(client.ClientV2.get_directory(pebble.directory_url, net), net)
        net.account = acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
        cert_key = ec.generate_private_key(ec.SECP256R1())
        key_pem = cert_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption())
        order = acme.new_order(crypto_util.make_csr(key_pem, names))
        for authz in order.authorizations:
            challb = next(c for c in authz.body.challenges if isinstance(c.chall, challenges.HTTP01))
            response, validation = challb.response_and_validation(account)
            token = challb.chall.encode("token")
            self.tokens[token] = "wrong" if stage == "production" and self.fail_production else validation
            acme.answer_challenge(challb, response)
        finished = acme.poll_and_finalize(order)
        return finished.fullchain_pem, key_pem.decode()

    def close(self) -> None:
        self._stop.set()
        self.server.close()
        for server in self.http:
            server.shutdown()
            server.server_close()
        for name in self._names:
            try:
                self.bind.delete(name + ".", "A")
            except Exception:
                pass
