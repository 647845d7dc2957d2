"""Reachability from the operator's machine: can the world reach the hub at the domain's address?

TCP to ports 80 and 443 tells a closed port (connection refused: nothing listens) from a firewall (no answer at
all); the TLS handshake on 443 shows which certificate is served, by whom, for which names, until when; and a GET
of ``/hub/api`` (HTTP, following TLJH's redirect to HTTPS) compared with the hub's own answer (fetched over SSH by
the caller) tells "this hub" from "a different server" and from "the proxy is up but the hub is not".

The connections go to the address the domain must point at (the DNS check proves the domain resolves there), with
the domain as TLS server name and HTTP Host, so the system resolver is never involved.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wizard.diagnosis import Diagnosis, Status

if TYPE_CHECKING:
    from cryptography import x509

    from wizard.hub.target import HubTarget

DEFAULT_TIMEOUT = 5.0
MAX_RESPONSE = 256 * 1024
FIREWALL_FIX = ("Allow inbound TCP {port} from anywhere in the cloud firewall (GCP firewall rule, AWS security group, "
                "Azure network security group, DigitalOcean/Hetzner cloud firewall) and in the VM's own firewall "
                "(ufw allow {port}/tcp).")


@dataclass
class PortProbe:
    port: int
    open: bool = False
    error: str = ""
    kind: str = ""  # "refused", "timeout" or "unreachable" when not open


@dataclass
class Certificate:
    subject: str
    issuer: str
    names: list[str]
    not_after: datetime.datetime
    trusted: bool
    trust_error: str = ""


@dataclass
class HttpAnswer:
    url: str
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str = ""


async def probe_port(address: str, port: int, timeout: float) -> PortProbe:
    probe = PortProbe(port)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(address, port), timeout)
        writer.close()
        probe.open = True
    except asyncio.TimeoutError:
        probe.kind, probe.error = "timeout", f"no answer within {timeout:g} s"
    except ConnectionRefusedError:
        probe.kind, probe.error = "refused", "connection refused"
    except OSError as exc:
        probe.kind, probe.error = "unreachable", exc.strerror or str(exc)
    return probe


def _names(cert: x509.Certificate) -> list[str]:
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        return san.get_values_for_type(x509.DNSName) + [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        return []


def _readable(name: x509.Name) -> str:
    from cryptography.x509.oid import NameOID

    for oid in (NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME):
        values = name.get_attributes_for_oid(oid)
        if values:
            return str(values[0].value)
    return name.rfc4514_string() or "(empty)"


def covers(names: list[str], domain: str) -> bool:
    """RFC 6125 matching: exact, or a wildcard standing for exactly one left-most label."""
    domain = domain.lower().rstrip(".")
    for name in (n.lower().rstrip(".") for n in names):
        if name == domain:
            return True
        if name.startswith("*.") and "." in domain and domain.split(".", 1)[1] == name[2:]:
            return True
    return False


async def fetch_certificate(address: str, port: int, domain: str, timeout: float,
                            ca_file: str | None) -> Certificate | str:
    """The certificate served for ``domain`` (SNI), and whether it chains to a trusted root; or why the handshake
    failed."""
    from cryptography import x509

    unverified = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(address, port, ssl=unverified, server_hostname=domain), timeout)
    except (OSError, asyncio.TimeoutError, ssl.SSLError) as exc:
        return f"TLS handshake failed: {exc.__class__.__name__}: {exc}" if str(exc) else \
            f"TLS handshake failed: {exc.__class__.__name__}"
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    cert = x509.load_der_x509_certificate(der)
    trusting = ssl.create_default_context(cafile=ca_file)
    trusting.check_hostname = False  # names are judged separately, so the report can say which names it holds
    trusted, trust_error = True, ""
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(address, port, ssl=trusting, server_hostname=domain), timeout)
        writer.close()
    except ssl.SSLCertVerificationError as exc:
        trusted, trust_error = False, exc.verify_message or str(exc)
    except (OSError, asyncio.TimeoutError, ssl.SSLError) as exc:
        trusted, trust_error = False, str(exc) or exc.__class__.__name__
    return Certificate(_readable(cert.subject), _readable(cert.issuer), _names(cert), cert.not_valid_after_utc,
                       trusted, trust_error)


async def http_get(address: str, port: int, domain: str, path: str, timeout: float, tls: bool) -> HttpAnswer:
    """One HTTP/1.0 GET (the body ends when the server closes), to ``address`` with ``domain`` as Host/SNI.
    Certificates are not verified here: ``fetch_certificate`` reports on them."""
    answer = HttpAnswer(f"{'https' if tls else 'http'}://{domain}{'' if port in (80, 443) else f':{port}'}{path}")
    context = None
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        async def exchange() -> bytes:
            reader, writer = await asyncio.open_connection(address, port, ssl=context,
                                                           server_hostname=domain if tls else None)
            writer.write(f"GET {path} HTTP/1.0\r\nHost: {domain}\r\nAccept: application/json\r\n"
                         "User-Agent: tljh-wizard\r\n\r\n".encode())
            await writer.drain()
            data = await reader.read(MAX_RESPONSE)
            while data and len(data) < MAX_RESPONSE:
                more = await reader.read(MAX_RESPONSE - len(data))
                if not more:
                    break
                data += more
            writer.close()
            return data

        raw = await asyncio.wait_for(exchange(), timeout)
    except asyncio.TimeoutError:
        answer.error = f"no complete answer within {timeout:g} s"
        return answer
    except (OSError, ssl.SSLError) as exc:
        answer.error = str(exc) or exc.__class__.__name__
        return answer
    head, _, answer.body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    try:
        answer.status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        answer.error = f"not an HTTP answer: {lines[0][:80]!r}"
        return answer
    for line in lines[1:]:
        key, _, value = line.partition(":")
        answer.headers[key.strip().lower()] = value.strip()
    return answer


def diagnose_port(probe: PortProbe, address: str, role: str, may_be_closed: bool = False) -> Diagnosis:
    """``role``: "http" or "https". ``may_be_closed``: nothing listening is expected for now (443 before the HTTPS
    step), so a refusal is only a warning."""
    key = f"reach.{role}"
    what = f"port {probe.port} ({role.upper()})"
    data = {"address": address, "port": probe.port, "open": probe.open, "failure": probe.kind}
    if probe.open:
        return Diagnosis(key, Status.OK, f"{what} is open on {address}", data=data)
    if probe.kind == "timeout":
        return Diagnosis(key, Status.ERROR, f"{what} on {address}: {probe.error}, so a firewall drops the traffic",
                         "A closed port answers at once with a refusal; silence means packets are dropped on the "
                         "way.", FIREWALL_FIX.format(port=probe.port), data)
    if probe.kind == "refused" and may_be_closed:
        return Diagnosis(key, Status.WARNING, f"nothing listens on {what} of {address} yet",
                         "TLJH's proxy listens on 443 once HTTPS is turned on, and Let's Encrypt's TLS-ALPN-01 "
                         "challenge needs it reachable.",
                         f"Nothing to do before the HTTPS step, but make sure the firewall allows TCP {probe.port}.",
                         data)
    if probe.kind == "refused":
        return Diagnosis(key, Status.ERROR, f"nothing listens on {what} of {address}: the hub's proxy is not "
                         "running", "The connection was refused: the machine is reachable, but no program accepts "
                         f"connections on port {probe.port}.",
                         "On the hub: sudo systemctl status traefik jupyterhub; then sudo tljh-config reload proxy.",
                         data)
    return Diagnosis(key, Status.ERROR, f"{what} on {address}: {probe.error}", "",
                     f"Check that {address} is this hub's public address and reachable from here.", data)


def diagnose_tls(domain: str, probe: PortProbe, cert: Certificate | str | None,
                 now: datetime.datetime | None = None) -> Diagnosis:
    if not probe.open or cert is None:
        return Diagnosis("reach.tls", Status.SKIPPED, f"port {probe.port} is not open: no certificate to look at")
    if isinstance(cert, str):
        return Diagnosis("reach.tls", Status.ERROR, f"port {probe.port} answers but not with TLS for {domain}", cert,
                         f"Another program holds port {probe.port} on this address; TLJH's proxy must own it.")
    now = now or datetime.datetime.now(datetime.timezone.utc)
    until = cert.not_after.strftime("%Y-%m-%d %H:%M UTC")
    details = (f"subject: {cert.subject}\nissuer: {cert.issuer}\nnames: {', '.join(cert.names) or '(none)'}\n"
               f"valid until: {until}\ntrusted: {'yes' if cert.trusted else 'no (' + cert.trust_error + ')'}")
    data = {"subject": cert.subject, "issuer": cert.issuer, "names": cert.names, "not_after": cert.not_after.isoformat(),
            "trusted": cert.trusted}
    if cert.subject.upper() == "TRAEFIK DEFAULT CERT":
        return Diagnosis("reach.tls", Status.WARNING, "the proxy serves its default self-signed certificate: none "
                         f"has been issued for {domain} yet", details, "Run the HTTPS step.", data)
    if not covers(cert.names, domain):
        return Diagnosis("reach.tls", Status.ERROR, f"port {probe.port} serves a certificate for "
                         f"{', '.join(cert.names) or cert.subject}, not {domain}", details,
                         f"Either {domain} reaches another server (check the A record: dns.a) or the hub's "
                         "certificate was issued for other names (redo the HTTPS step).", data)
    if cert.not_after <= now:
        return Diagnosis("reach.tls", Status.ERROR, f"the certificate for {domain} expired on {until}", details,
                         "Renew it: tljh-wizard renew (or check why Let's Encrypt renewal fails).", data)
    if not cert.trusted:
        staging = "STAGING" in cert.issuer.upper() or "FAKE" in cert.issuer.upper()
        return Diagnosis("reach.tls", Status.WARNING, f"the certificate for {domain} is not trusted (issued by "
                         f"{cert.issuer})", details,
                         "Switch from Let's Encrypt staging to production (the HTTPS step does it)." if staging else
                         "Browsers will refuse it: use a certificate from a public CA (the HTTPS step).", data)
    return Diagnosis("reach.tls", Status.OK, f"certificate for {', '.join(cert.names)} by {cert.issuer}, valid "
                     f"until {until}", details, data=data)


def diagnose_hub(domain: str, answer: HttpAnswer | None, hub_api: dict[str, Any] | None) -> Diagnosis:
    if answer is None:
        return Diagnosis("reach.hub", Status.SKIPPED, "neither HTTP nor HTTPS is open: the hub cannot be asked")
    data = {"url": answer.url, "status": answer.status, "hub_api": hub_api}
    if answer.status in (301, 302, 307, 308) and answer.headers.get("location", "").startswith("https://"):
        return Diagnosis("reach.hub", Status.ERROR, "HTTP redirects to HTTPS, but HTTPS is not reachable",
                         f"{answer.url} -> {answer.headers['location']}",
                         "Open TCP 443 in the firewalls (see reach.https).", data)
    if answer.error:
        return Diagnosis("reach.hub", Status.ERROR, f"GET {answer.url} failed: {answer.error}", "",
                         "Check the hub's proxy: sudo systemctl status traefik.", data)
    server = answer.headers.get("server", "")
    if answer.status in (502, 503, 504):
        return Diagnosis("reach.hub", Status.ERROR, f"the proxy answers but the hub behind it does not (HTTP "
                         f"{answer.status}): JupyterHub is not running", f"{answer.url} -> {answer.status}",
                         "On the hub: sudo systemctl status jupyterhub; sudo journalctl -u jupyterhub -n 50; then "
                         "sudo tljh-config reload hub.", data)
    try:
        body = json.loads(answer.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        body = None
    data["answer"] = body
    if answer.status != 200 or not isinstance(body, dict) or "version" not in body:
        return Diagnosis("reach.hub", Status.ERROR, f"{domain} reaches a server that is not JupyterHub (HTTP "
                         f"{answer.status}{', ' + server if server else ''})",
                         f"{answer.url} answered {answer.status}: {answer.body[:200]!r}",
                         f"Check that {domain}'s A record is this hub's address (dns.a) and that no other web "
                         "server holds ports 80/443 on the hub.", data)
    if hub_api is None:
        return Diagnosis("reach.hub", Status.WARNING, f"{domain} reaches a JupyterHub {body['version']}, but the "
                         "hub's own answer was not available to compare", f"{answer.url}: {body}",
                         "Connect to the hub so its own /hub/api answer can be compared.", data)
    if body != hub_api:
        return Diagnosis("reach.hub", Status.ERROR, f"{domain} reaches a different JupyterHub (it says "
                         f"{body.get('version')}, this hub says {hub_api.get('version')})",
                         f"through {domain}: {body}\non the hub: {hub_api}",
                         f"Point {domain} at this hub's address (dns.a): it now reaches another server.", data)
    return Diagnosis("reach.hub", Status.OK, f"{domain} reaches this hub (JupyterHub {body['version']})",
                     f"{answer.url}: {body}", data=data)


_HUB_API_SCRIPT = """
import json, sys, urllib.request

with urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2])) as reply:
    print(json.dumps(json.load(reply)))
"""


def hub_own_answer(target: HubTarget, url: str, timeout: float = 10.0) -> dict[str, Any] | None:
    """The hub's ``/hub/api`` answer as seen on the hub itself (one command over the hub target; ``url`` from
    ``wizard.hub.apply.hub_api_url``). None when the hub does not answer there: then nothing can be compared."""
    result = target.run(["python3", "-c", _HUB_API_SCRIPT, url, f"{timeout:g}"], timeout=timeout + 10)
    if not result.ok:
        return None
    try:
        answer = json.loads(result.text.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None
    return answer if isinstance(answer, dict) else None


async def check_reachability(domain: str, address: str, hub_api: dict[str, Any] | None = None, http_port: int = 80,
                             https_port: int = 443, timeout: float = DEFAULT_TIMEOUT, ca_file: str | None = None,
                             before_https: bool = True) -> list[Diagnosis]:
    """``address``: where the domain must point (the reserved IP). ``hub_api``: the hub's own ``/hub/api`` JSON.
    ``before_https``: port 443 not listening yet is expected (a warning, not an error)."""
    http, https = await asyncio.gather(probe_port(address, http_port, timeout),
                                       probe_port(address, https_port, timeout))
    cert_task = (asyncio.ensure_future(fetch_certificate(address, https_port, domain, timeout, ca_file))
                 if https.open else None)
    answer = None
    if http.open:
        answer = await http_get(address, http_port, domain, "/hub/api", timeout, tls=False)
        location = answer.headers.get("location", "")
        if answer.status in (301, 302, 307, 308) and location.startswith("https://") and https.open:
            answer = await http_get(address, https_port, domain, "/hub/api", timeout, tls=True)
    elif https.open:
        answer = await http_get(address, https_port, domain, "/hub/api", timeout, tls=True)
    cert = await cert_task if cert_task else None
    return [
        diagnose_port(http, address, "http"),
        diagnose_port(https, address, "https", may_be_closed=before_https),
        diagnose_tls(domain, https, cert),
        diagnose_hub(domain, answer, hub_api),
    ]
