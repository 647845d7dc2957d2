"""TLS posture of the served site, from the operator's machine against the hub's real address: legacy protocol
versions accepted, HTTP -> HTTPS redirect, and the HSTS header. (The chain, the names, Traefik's default certificate
and a staging certificate are judged by ``wizard.https.verify``, in ``audit.certificate``.)

- Protocols: one handshake per legacy version with a client that allows only that version. OpenSSL 3 refuses TLS
  1.0/1.1 at its default security level (SHA-1 signatures), so the probe lowers it (``@SECLEVEL=0``) — for the
  probe alone. TLJH's Traefik sets ``minVersion = "VersionTLS12"`` (tljh/traefik-dynamic.toml.tpl); another server
  in front may not.
- Redirect: ``GET /`` over plain HTTP (Host: the domain) must answer 301/302/307/308 with an ``https://`` Location
  (TLJH's Traefik redirects the ``http`` entrypoint to ``https`` when HTTPS is on: tljh/traefik.toml.tpl).
- HSTS (RFC 6797 section 6.1): ``Strict-Transport-Security: max-age=N`` on an HTTPS response. TLJH sets none; the
  fix is a Traefik headers middleware on the ``https`` entrypoint (``hsts_snippet``).
"""

from __future__ import annotations

import http.client
import re
import socket
import ssl
import warnings

from wizard.diagnosis import Diagnosis, Status

PROTOCOLS, REDIRECT, HSTS = "audit.tls_protocols", "audit.http_redirect", "audit.hsts"
HSTS_MIN_AGE = 15552000  # 180 days: shorter lets a returning browser fall back to HTTP within the semester
_LEGACY = (("TLS 1.0", "TLSv1"), ("TLS 1.1", "TLSv1_1"))


def accepts(host: str, port: int, server_name: str, version: str, timeout: float = 5.0) -> bool | None:
    """Does ``host:port`` complete a handshake at exactly ``version`` ("TLSv1", "TLSv1_1")? None when this machine's
    OpenSSL cannot even offer it."""
    tls_version = getattr(ssl.TLSVersion, version)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with warnings.catch_warnings():  # the deprecation is the point: this probe asks for the old versions
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = context.maximum_version = tls_version
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        return None
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            with context.wrap_socket(raw, server_hostname=server_name):
                return True
    except ssl.SSLError as exc:
        if (exc.reason or "") == "NO_PROTOCOLS_AVAILABLE":  # raised before anything was sent
            return None
        return False
    except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError, socket.timeout):
        return False


def protocols_finding(host: str, port: int, server_name: str, timeout: float = 5.0) -> Diagnosis:
    from concurrent.futures import ThreadPoolExecutor

    address = f"{host}:{port}"
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        return Diagnosis(PROTOCOLS, Status.SKIPPED, f"protocols not checked: cannot connect to {address} "
                                                    f"({exc.strerror or exc})")
    with ThreadPoolExecutor(len(_LEGACY)) as pool:
        answers = dict(zip((name for name, _ in _LEGACY),
                           pool.map(lambda item: accepts(host, port, server_name, item[1], timeout), _LEGACY)))
    accepted = [name for name, ok in answers.items() if ok]
    untested = [name for name, ok in answers.items() if ok is None]
    data = {"address": address, "accepted": accepted, "untested": untested}
    if accepted:
        return Diagnosis(PROTOCOLS, Status.WARNING, f"{address} accepts {' and '.join(accepted)} (deprecated by "
                                                    "RFC 8996)", data=data,
                         fix="accept TLS 1.2 and later only: TLJH's Traefik does (minVersion VersionTLS12); a server "
                             "in front needs e.g. `ssl_protocols TLSv1.2 TLSv1.3;` (nginx) or `SSLProtocol "
                             "-all +TLSv1.2 +TLSv1.3` (apache)")
    if len(untested) == len(_LEGACY):
        return Diagnosis(PROTOCOLS, Status.SKIPPED, "this machine's OpenSSL cannot offer TLS 1.0/1.1: not checked",
                         data=data)
    return Diagnosis(PROTOCOLS, Status.OK, f"{address} refuses TLS 1.0 and 1.1", data=data)


def _request(host: str, port: int, domain: str, path: str, *, tls: bool, timeout: float) -> tuple[int, dict[str, str]]:
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # trust is judged in audit.certificate; here only the headers count
        connection: http.client.HTTPConnection = _SNIConnection(host, port, domain, context, timeout)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Host": domain, "User-Agent": "tljh-wizard-check"})
        response = connection.getresponse()
        response.read(65536)
        return response.status, {key.lower(): value for key, value in response.getheaders()}
    finally:
        connection.close()


class _SNIConnection(http.client.HTTPSConnection):
    """HTTPS to an address (the reserved IP) with the domain as SNI and Host."""

    def __init__(self, host: str, port: int, server_name: str, context: ssl.SSLContext, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._server_name, self._tls_context = server_name, context

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._tls_context.wrap_socket(self.sock, server_hostname=self._server_name)


def redirect_finding(host: str, port: int, domain: str, *, letsencrypt: bool, timeout: float = 5.0) -> Diagnosis:
    """Plain HTTP must send the browser to HTTPS. Nothing answering on port 80 is an error when Let's Encrypt's
    HTTP-01 challenge needs it (``letsencrypt``), else a warning (a typed ``http://`` address fails)."""
    address = f"{host}:{port}"
    try:
        status, headers = _request(host, port, domain, "/", tls=False, timeout=timeout)
    except (OSError, http.client.HTTPException) as exc:
        detail = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return Diagnosis(REDIRECT, Status.ERROR if letsencrypt else Status.WARNING,
                         f"nothing answers HTTP on {address} ({detail})",
                         fix="open port 80 in the firewall: Let's Encrypt checks the domain over it and renews "
                             "through it" if letsencrypt else "open port 80, so typed http:// addresses reach HTTPS",
                         data={"address": address})
    location = headers.get("location", "")
    data = {"address": address, "status": status, "location": location}
    if status in (301, 302, 303, 307, 308) and location.lower().startswith("https://"):
        return Diagnosis(REDIRECT, Status.OK, f"http://{domain}/ redirects to {location[:80]} ({status})", data=data)
    return Diagnosis(REDIRECT, Status.WARNING, f"http://{domain}/ answers {status} without a redirect to HTTPS"
                     + (f" (Location: {location[:80]})" if location else "") + ": logins can travel in plain text",
                     fix="turn HTTPS on in TLJH (its proxy then redirects port 80), or make the server in front "
                         "redirect (`return 301 https://$host$request_uri;` in nginx)", data=data)


def hsts_max_age(header: str) -> int | None:
    """``max-age`` of a Strict-Transport-Security value (RFC 6797 section 6.1.1), None when absent or malformed."""
    match = re.search(r"(?:^|;)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:;|$)", header, re.I)
    return int(match.group(1)) if match else None


def hsts_finding(host: str, port: int, domain: str, timeout: float = 5.0, prefix: str = "/opt/tljh") -> Diagnosis:
    address = f"{host}:{port}"
    try:
        status, headers = _request(host, port, domain, "/hub/login", tls=True, timeout=timeout)
    except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
        return Diagnosis(HSTS, Status.SKIPPED, f"HSTS not checked: no HTTPS answer from {address} "
                                               f"({getattr(exc, 'strerror', None) or exc})")
    value = headers.get("strict-transport-security")
    data = {"address": address, "status": status, "header": value}
    age = hsts_max_age(value) if value else None
    if age is None:
        return Diagnosis(HSTS, Status.WARNING, f"https://{domain}/ sends no Strict-Transport-Security header: a "
                                               "first visit over http:// can be intercepted",
                         details=hsts_snippet(prefix), fix="add an HSTS middleware to TLJH's proxy (see --details: "
                         "two small files, then `sudo tljh-config reload proxy`)", data=data)
    if age < HSTS_MIN_AGE:
        return Diagnosis(HSTS, Status.WARNING, f"HSTS max-age is {age} s, under 180 days", details=hsts_snippet(prefix),
                         fix="raise max-age to a year (31536000)", data=data)
    return Diagnosis(HSTS, Status.OK, f"HSTS on (max-age {age} s)", data=data)


def hsts_snippet(prefix: str = "/opt/tljh", max_age: int = 31536000) -> str:
    """Traefik v2/v3 configuration adding HSTS to every response of TLJH's ``https`` entrypoint. TLJH merges
    ``config/traefik_config.d/*.toml`` into the static configuration and reads dynamic configuration from every file
    in ``state/rules/`` (tljh/traefik.py ``ensure_traefik_config``: it rewrites only ``dynamic.toml`` and
    ``rules.toml`` there)."""
    return (f"# {prefix}/config/traefik_config.d/hsts.toml  (static: the https entrypoint uses the middleware)\n"
            "[entryPoints.https.http]\n"
            "middlewares = [\"hsts@file\"]\n\n"
            f"# {prefix}/state/rules/hsts.toml  (dynamic: the middleware itself)\n"
            "[http.middlewares.hsts.headers]\n"
            f"stsSeconds = {max_age}\n\n"
            "# then: sudo tljh-config reload proxy\n")
