"""BIND 9 on loopback: a real authoritative DNS server with RFC 2136 updates signed by a TSIG key.

Use it from any test (the plugin is listed in ``tests/conftest.py``):

``bind_server`` (session-scoped fixture) -> ``BindFixture``
    One ``named`` serving the zone ``wizard.test.`` on 127.0.0.1 and ::1, on a free port (the same port on both).
    The zone holds its SOA, ``NS ns.wizard.test.`` and ``ns.wizard.test. A 127.0.0.1`` — nothing else: add what a
    test needs and remove it afterwards (the server is shared by the whole session). It also serves the parent
    ``test.`` (empty but for the delegation), so climbing checks such as CAA get real answers. Attributes and
    helpers:

    - ``host`` ("127.0.0.1"), ``port``, ``address`` ("127.0.0.1:PORT", the form ``pebble -dnsserver`` takes),
      ``zone`` ("wizard.test."), ``key_name``, ``key_secret`` (base64), ``algorithm`` ("hmac-sha256"),
      ``keyring`` (a dnspython keyring for ``dns.update.UpdateMessage``);
    - ``add(name, rdtype, *values, ttl=60)``, ``delete(name, rdtype=None, *values)`` — TSIG-signed updates; relative
      names are taken relative to the zone; raise ``UpdateRefused`` unless the server says NOERROR;
    - ``query(name, rdtype) -> list[str]`` — the record texts the server answers (empty for NXDOMAIN/NODATA);
    - ``records(name, rdtype, *values)`` — a context manager: add on entry, delete on exit.

    The DNS check runs against it with ``DnsCheck(..., resolvers=[bind_server.address],
    nameserver_port=bind_server.port)`` (its NS record points at 127.0.0.1; the port says where to ask).

``BindServer(workdir, zones, addresses=("127.0.0.1",), port=None, keys=None, ipv6=False, root_hints=None, bogus=())``
    The process itself, for tests that need servers of their own (several servers, other zones, port 53):
    ``zones`` maps zone names to zone-file text (see ``zone_text``); every zone accepts updates signed by any of
    ``keys`` ({name: base64 secret}). ``root_hints`` ({ns host: address}) makes it a recursive resolver starting at
    those root servers; it never asks the ``bogus`` addresses. ``start()`` waits until the server answers (an SOA
    query per zone) and raises ``BindStartError`` with named's stderr if it does not (so the test fails, never
    skips); ``stop()`` ends it by PID. It is also a context manager.

``zone_text(origin, nameservers, records="", ttl=300, serial=1)``
    Zone-file text: SOA, one NS per entry of ``nameservers`` ({"ns1.zone.": ["127.0.0.53", "::1"]}) plus glue for
    the in-zone ones, then ``records`` verbatim (with ``$ORIGIN`` set, so relative owner names work).

``DnsWorld(workdir, zones)`` — a small DNS "internet" for checks that find a zone's nameservers and ask them:
    two authoritative BINDs on port 53 of spare loopback addresses (``ns1.nameservers.test``,
    ``ns2.nameservers.test``) serving the root zone, ``test.``, ``nameservers.test.`` and every zone given; a dead
    one (``ns3``: a socket that never answers); two real recursive resolvers (BINDs on 127.0.0.1 free ports whose
    root hints point at ns1/ns2 — they follow CNAMEs, cache with counting-down TTLs, and never ask ns3) and a dead
    resolver. ``zones`` maps zone names under ``test.`` to ``ZoneSpec`` (records; optionally list the dead ``ns3``
    among the zone's NS, have ``ns2`` serve other records with an older serial or not serve the zone at all, or
    leave the delegated zone unserved: a lame delegation; sign it with current or expired RRSIGs (``dnssec``), or
    delegate it only to ``ns4``, a BIND that answers REFUSED for it (``refusing``)). The second resolver validates
    DNSSEC, trusting each signed zone's own key (``trust_anchors``); the first does not. ``replace(name, rdtype,
    *values)`` changes a record on both live nameservers (TSIG updates; signed zones take none) — query a resolver
    before it to leave a cached, now stale answer there. Attributes: ``nameservers``, ``resolvers`` (HOST:PORT),
    ``plain_resolver``, ``validating_resolver``, ``dead_nameserver``, ``refusing_nameserver``, ``dead_resolver``.
    For benchmarks, ``nameserver_delays`` / ``resolver_delay`` (seconds) put a ``DelayRelay`` (UDP only) in front of
    the servers to model network distance.

``free_port()`` — a port free for both UDP and TCP on 127.0.0.1 and ::1.
``spare_loopback_addresses(count)`` — addresses from 127.0.0.53-127.0.0.99 whose port 53 is free (root only), so a
zone's NS records can point at servers that answer on the standard DNS port. Pick and bind them while holding
``PORT53_LOCK`` (``DnsWorld`` does), or a concurrent run may pick the same ones. named listens only on addresses an
interface holds, so ``BindServer`` adds such an address to ``lo`` (``ip addr add``, needs iproute2 and root) for
as long as it runs, and removes it after.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import os
import re
import secrets
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import pytest

from tests.rig.process import die_with_parent, read_log, start_logged, stop_process, wait_until_ready

NAMED = shutil.which("named", path=os.environ.get("PATH", "") + ":/usr/sbin") or "/usr/sbin/named"
DNSSEC_KEYGEN = shutil.which("dnssec-keygen") or "/usr/bin/dnssec-keygen"
DNSSEC_SIGNZONE = shutil.which("dnssec-signzone") or "/usr/bin/dnssec-signzone"
START_DEADLINE = 15.0
PORT53_LOCK = Path("/run/tljh-wizard-rig-port53.lock")  # taken before NAMED_LOCK, never after
NAMED_LOCK = Path("/run/tljh-wizard-rig-named.lock")


class BindStartError(RuntimeError):
    """named did not come up; the message carries its stderr."""


class UpdateRefused(RuntimeError):
    """The server answered a dynamic update with something other than NOERROR."""


def new_tsig_secret() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def _port_is_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(family, kind) as sock:
            if kind == socket.SOCK_STREAM:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError:
                return False
    return True


def free_port() -> int:
    """A port that is free for UDP and TCP on 127.0.0.1 and ::1 right now."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if _port_is_free("127.0.0.1", port) and _port_is_free("::1", port):
            return port
    raise RuntimeError("no free port on loopback")


def spare_loopback_addresses(count: int) -> list[str]:
    """``count`` loopback addresses in 127.0.0.53-127.0.0.99 whose port 53 is free (needs root)."""
    found = [f"127.0.0.{last}" for last in range(53, 100) if _port_is_free(f"127.0.0.{last}", 53)]
    if len(found) < count:
        raise BindStartError(f"need {count} loopback addresses with port 53 free, found {found}")
    return found[:count]


def _loopback_addresses() -> set[str]:
    try:
        out = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", "lo"], capture_output=True, text=True,
                             check=True)
    except FileNotFoundError:
        raise BindStartError("the ip command (Debian package iproute2) is needed to give lo more addresses") from None
    return {line.split()[3].split("/")[0] for line in out.stdout.splitlines()}


def add_loopback_alias(address: str) -> bool:
    """named listens only on addresses an interface holds: give ``lo`` this one (root). True if it was added."""
    if ":" in address or address in _loopback_addresses():
        return False
    done = subprocess.run(["ip", "addr", "add", f"{address}/32", "dev", "lo"], capture_output=True, text=True)
    if done.returncode != 0:
        raise BindStartError(f"cannot add {address} to the loopback interface (root needed): {done.stderr}")
    return True


def remove_loopback_alias(address: str) -> None:
    subprocess.run(["ip", "addr", "del", f"{address}/32", "dev", "lo"], capture_output=True)


def zone_text(origin: str, nameservers: Mapping[str, Sequence[str]], records: str = "", ttl: int = 300,
              serial: int = 1) -> str:
    origin = origin if origin.endswith(".") else origin + "."
    first_ns = next(iter(nameservers))
    lines = [
        f"$ORIGIN {origin}",
        f"$TTL {ttl}",
        f"@ IN SOA {first_ns} hostmaster.{origin} {serial} 3600 600 86400 {ttl}",
    ]
    for host in nameservers:
        lines.append(f"@ IN NS {host}")
    for host, addresses in nameservers.items():
        if host == origin or host.endswith("." + origin):
            for address in addresses:
                lines.append(f"{host} IN {'AAAA' if ':' in address else 'A'} {address}")
    lines.append(records)
    return "\n".join(lines) + "\n"


class BindServer:
    """One ``named -g`` child process serving ``zones`` from its own directory."""

    def __init__(self, workdir: Path, zones: Mapping[str, str], addresses: Sequence[str] = ("127.0.0.1",),
                 port: int | None = None, keys: Mapping[str, str] | None = None, ipv6: bool = False,
                 root_hints: Mapping[str, str] | None = None, bogus: Sequence[str] = (),
                 static_zones: Sequence[str] = (), trust_anchors: Mapping[str, str] | None = None):
        self.workdir = Path(workdir)
        self.zones = {name if name.endswith(".") else name + ".": text for name, text in zones.items()}
        self.addresses = list(addresses)
        self.port = port  # None: a free one, picked by start()
        self.keys = dict(keys or {})
        self.ipv6 = ipv6
        self.root_hints = dict(root_hints or {})
        self.bogus = list(bogus)
        self.static_zones = {name if name.endswith(".") else name + "." for name in static_zones}
        self.trust_anchors = dict(trust_anchors or {})
        self.process: subprocess.Popen | None = None
        self.stderr_path = self.workdir / "named.stderr"
        self.aliases: list[str] = []

    def _config(self) -> str:
        v4 = "; ".join(self.addresses)
        v6 = f"listen-on-v6 port {self.port} {{ ::1; }};" if self.ipv6 else "listen-on-v6 { none; };"
        out = [
            "options {",
            f'  directory "{self.workdir}";',
            f'  pid-file "{self.workdir}/named.pid";',
            f'  session-keyfile "{self.workdir}/session.key";',
            f'  managed-keys-directory "{self.workdir}";',
            f"  listen-on port {self.port} {{ {v4}; }};",
            f"  {v6}",
            "  recursion yes; allow-recursion { 127.0.0.0/8; };" if self.root_hints else "  recursion no;",
            "  dnssec-validation yes;" if self.trust_anchors else "  dnssec-validation no;",
            "  notify no;",
            "  minimal-responses no;",
            "};",
            "controls { };",
        ]
        for name, secret in self.keys.items():
            out.append(f'key "{name}" {{ algorithm hmac-sha256; secret "{secret}"; }};')
        allow = " ".join(f'key "{name}";' for name in self.keys) or "none;"
        if self.trust_anchors:
            out.append("trust-anchors {")
            out.extend(f'  "{zone}" static-key {key};' for zone, key in self.trust_anchors.items())
            out.append("};")
        if self.root_hints:
            out.append('zone "." { type hint; file "root.hint"; };')
        out.extend(f"server {address} {{ bogus yes; }};" for address in self.bogus)
        for index, zone in enumerate(self.zones):
            updates = "" if zone in self.static_zones else f" allow-update {{ {allow} }};"
            out.append(f'zone "{zone}" {{ type primary; file "zone{index}.db";{updates} }};')
        return "\n".join(out) + "\n"

    def start(self) -> "BindServer":
        # named binds its UDP listeners with SO_REUSEPORT: a second named given the same port starts "fine" and
        # shares the queries. So the pick of a free port and the start of the named that takes it happen under one
        # machine-wide lock (a port named holds is no longer free to the next pick).
        with open(NAMED_LOCK, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.port is None:
                self.port = free_port()
            return self._start()

    def _start(self) -> "BindServer":
        self.workdir.mkdir(parents=True, exist_ok=True)
        for index, text in enumerate(self.zones.values()):
            (self.workdir / f"zone{index}.db").write_text(text)
        if self.root_hints:
            (self.workdir / "root.hint").write_text("".join(
                f". 3600000 NS {host}\n{host} 3600000 A {address}\n" for host, address in self.root_hints.items()))
        config = self.workdir / "named.conf"
        config.write_text(self._config())
        self.aliases = [address for address in self.addresses if add_loopback_alias(address)]
        self.process = start_logged([NAMED, "-g", "-c", str(config)], self.stderr_path, cwd=self.workdir)
        try:
            # Each probe is bounded by its own 0.2 s timeout; a refused probe returns at once, so pause briefly.
            wait_until_ready(self.process, self._answers_every_zone(), name="named", seconds=START_DEADLINE,
                             pause=0.02, log_path=self.stderr_path, error=BindStartError)
        except BaseException:
            self.stop()
            raise
        return self

    def _answers_every_zone(self) -> Callable[[], bool]:
        """A readiness probe: True once an SOA query for every zone (NS for the root, if none) has an answer."""
        import dns.exception
        import dns.message
        import dns.query

        waiting = [(zone, "SOA") for zone in self.zones] or [(".", "NS")]

        def ready() -> bool:
            try:
                while waiting:
                    # named's "all loaded, serving" line, read BEFORE the query: an empty reply to a query sent
                    # earlier (the zone still loading; slow on a loaded machine) is only "not yet".
                    running = re.search(r" running$", self.stderr(), re.MULTILINE) is not None
                    reply = dns.query.udp(dns.message.make_query(*waiting[0]), self.addresses[0],
                                          port=self.port, timeout=0.2)
                    if not reply.answer:
                        if running:
                            raise BindStartError(
                                f"named is running but does not answer {waiting[0]}:\n{self.stderr()}")
                        return False
                    waiting.pop(0)
            except (dns.exception.Timeout, OSError):
                return False
            return True

        return ready

    def stderr(self) -> str:
        return read_log(self.stderr_path)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
        self.process = None
        for address in self.aliases:
            remove_loopback_alias(address)
        self.aliases = []

    def __enter__(self) -> "BindServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass
class BindFixture:
    """The session's shared BIND: one zone, one TSIG key, helpers to change and read its records."""

    server: BindServer
    zone: str
    key_name: str
    key_secret: str
    host: str = "127.0.0.1"
    algorithm: str = "hmac-sha256"
    keyring: dict = field(init=False)

    def __post_init__(self) -> None:
        import dns.tsigkeyring

        self.keyring = dns.tsigkeyring.from_text({self.key_name: (self.algorithm, self.key_secret)})

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def _absolute(self, name: str) -> str:
        if name.endswith("."):
            return name
        return self.zone if name in ("", "@") else f"{name}.{self.zone}"

    def _send(self, update) -> None:
        import dns.query
        import dns.rcode

        reply = dns.query.tcp(update, self.host, port=self.port, timeout=5)
        if reply.rcode() != dns.rcode.NOERROR:
            raise UpdateRefused(dns.rcode.to_text(reply.rcode()))

    def _update(self):
        import dns.tsig
        import dns.update

        return dns.update.UpdateMessage(self.zone, keyring=self.keyring, keyname=self.key_name,
                                        keyalgorithm=dns.tsig.HMAC_SHA256)

    def add(self, name: str, rdtype: str, *values: str, ttl: int = 60) -> None:
        update = self._update()
        for value in values:
            update.add(self._absolute(name), ttl, rdtype, value)
        self._send(update)

    def delete(self, name: str, rdtype: str | None = None, *values: str) -> None:
        update = self._update()
        if rdtype is None:
            update.delete(self._absolute(name))
        elif not values:
            update.delete(self._absolute(name), rdtype)
        else:
            for value in values:
                update.delete(self._absolute(name), rdtype, value)
        self._send(update)

    def query(self, name: str, rdtype: str) -> list[str]:
        import dns.message
        import dns.query
        import dns.rdatatype

        reply = dns.query.udp(dns.message.make_query(self._absolute(name), rdtype), self.host, port=self.port,
                              timeout=5)
        wanted = dns.rdatatype.from_text(rdtype)
        return sorted(rdata.to_text() for rrset in reply.answer if rrset.rdtype == wanted for rdata in rrset)

    @contextlib.contextmanager
    def records(self, name: str, rdtype: str, *values: str, ttl: int = 60) -> Iterator[None]:
        self.add(name, rdtype, *values, ttl=ttl)
        try:
            yield
        finally:
            self.delete(name, rdtype, *values)


@pytest.fixture(scope="session")
def bind_server(tmp_path_factory) -> Iterator[BindFixture]:
    zone = "wizard.test."
    key_name = "wizard-key."
    key_secret = new_tsig_secret()
    zones = {zone: zone_text(zone, {"ns.wizard.test.": ["127.0.0.1"]}),
             "test.": zone_text("test.", {"ns.test.": ["127.0.0.1"]}, "wizard IN NS ns.wizard.test.")}
    server = BindServer(tmp_path_factory.mktemp("bind"), zones, keys={key_name: key_secret}, ipv6=True)
    with server:
        yield BindFixture(server=server, zone=zone, key_name=key_name, key_secret=key_secret)


@dataclass
class ZoneSpec:
    """One zone of a ``DnsWorld``: its records, and how its nameservers may differ."""

    records: str = ""
    ttl: int = 300
    with_dead_nameserver: bool = False
    ns2_records: str | None = None  # ns2 serves these instead, with an older serial (a change in flight)
    served: bool = True  # False: delegated from test. but served by no nameserver (a lame delegation)
    ns2_lame: bool = False  # ns2 is listed as a nameserver but does not serve the zone
    dnssec: str | None = None  # "valid" or "expired": signed (dnssec-signzone), RRSIGs current or long expired
    refusing: bool = False  # delegated only to ns4, a nameserver that answers REFUSED for it


class BlackHole:
    """A UDP and TCP port that accepts queries and never answers: a dead server costs a full timeout."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((host, port))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((host, port))
        self.tcp.listen(16)

    def close(self) -> None:
        self.udp.close()
        self.tcp.close()


class NxdomainResolver:
    """A recursive resolver that says every name does not exist (NXDOMAIN, recursion available), over UDP in a
    thread: what a filtering or captive network's resolver answers when it intercepts queries to the public resolvers
    (no BIND setting makes a server deny the root zone itself)."""

    def __init__(self, host: str = "127.0.0.1"):
        import threading

        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((host, 0))
        self.address = f"{host}:{self.udp.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        import dns.flags
        import dns.message
        import dns.rcode

        while True:
            try:
                data, peer = self.udp.recvfrom(4096)
            except OSError:  # closed
                return
            try:
                query = dns.message.from_wire(data)
            except Exception:  # noqa: BLE001 - not a DNS query: no answer
                continue
            reply = dns.message.make_response(query)
            reply.flags |= dns.flags.RA
            reply.set_rcode(dns.rcode.NXDOMAIN)
            self.udp.sendto(reply.to_wire(), peer)

    def __enter__(self) -> "NxdomainResolver":
        return self

    def __exit__(self, *exc: object) -> None:
        self.udp.close()


class DelayRelay:
    """Forwards DNS over UDP from ``listen`` to ``target``, answering ``delay`` seconds later: a model of network
    distance for benchmarks (loopback answers in microseconds). A child process, so its work does not compete
    with the measured code for the interpreter."""

    def __init__(self, listen: tuple[str, int], target: tuple[str, int], delay: float):
        import sys

        self.listen, self.target, self.delay = listen, target, delay
        self.process = subprocess.Popen(
            [sys.executable, "-c", "import sys; from tests.rig.bind import relay_main; relay_main(sys.argv[1:])",
             listen[0], str(listen[1]), target[0], str(target[1]), str(delay)],
            cwd=Path(__file__).resolve().parent.parent.parent, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            preexec_fn=die_with_parent)
        if self.process.stdout.readline().strip() != b"ready":
            self.stop()
            raise BindStartError(f"the relay on {listen} did not start")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process.stdout.close()


def relay_main(argv: list[str]) -> None:
    """The relay process: ``LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT DELAY``; says "ready" when bound."""
    import asyncio

    listen, target, delay = (argv[0], int(argv[1])), (argv[2], int(argv[3])), float(argv[4])

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        pending: dict[bytes, tuple] = {}  # query id + source port -> client

        class Outbound(asyncio.DatagramProtocol):
            def datagram_received(self, reply, _):
                client = pending.pop(reply[:2], None)
                if client:
                    loop.call_later(delay / 2, inbound.sendto, reply, client)

        class Inbound(asyncio.DatagramProtocol):
            def datagram_received(self, query, client):
                pending[query[:2]] = client
                loop.call_later(delay / 2, outbound.sendto, query)

        outbound, _ = await loop.create_datagram_endpoint(Outbound, remote_addr=target)
        inbound, _ = await loop.create_datagram_endpoint(Inbound, local_addr=listen)
        print("ready", flush=True)
        await loop.create_future()

    asyncio.run(serve())


class DnsWorld:
    NS_ZONE = "nameservers.test."

    def __init__(self, workdir: Path, zones: Mapping[str, ZoneSpec], nameserver_delays: Sequence[float] = (),
                 resolver_delay: float = 0.0):
        self.workdir = Path(workdir)
        self.nameserver_delays = list(nameserver_delays)
        self.resolver_delay = resolver_delay
        self.relays: list[DelayRelay] = []
        self.specs = {name if name.endswith(".") else name + ".": spec for name, spec in zones.items()}
        self.key_name = "world-key."
        self.key_secret = new_tsig_secret()
        self.servers: list[BindServer] = []
        self.holes: list[BlackHole] = []
        self.nameservers: list[str] = []
        self.resolvers: list[str] = []
        self.dead_nameserver = ""
        self.dead_resolver = ""
        self.refusing_nameserver = ""
        self.validating_resolver = ""
        self.plain_resolver = ""
        self.trust_anchors: dict[str, str] = {}  # signed zone -> its DNSKEY (flags protocol algorithm key)
        self._signed: dict[str, str] = {}

    def _sign(self, name: str, text: str, spec: ZoneSpec) -> str:
        """The zone text signed by dnssec-signzone with a key of its own (made once per zone), its RRSIGs valid
        from an hour ago for 30 days, or (``expired``) from 60 to 30 days ago."""
        import datetime

        if name in self._signed:
            return self._signed[name]
        keys = self.workdir / "keys" / name.rstrip(".")
        keys.mkdir(parents=True, exist_ok=True)
        made = subprocess.run([DNSSEC_KEYGEN, "-q", "-a", "ECDSAP256SHA256", "-f", "KSK", "-K", str(keys), name],
                              capture_output=True, text=True, check=True)
        key_line = next(line for line in (keys / f"{made.stdout.strip()}.key").read_text().splitlines()
                        if " DNSKEY " in line)
        flags, protocol, algorithm, *key = key_line.split(" DNSKEY ", 1)[1].split()
        self.trust_anchors[name] = f'{flags} {protocol} {algorithm} "{"".join(key)}"'
        now = datetime.datetime.now(datetime.timezone.utc)
        days = datetime.timedelta(days=1)
        start, end = (now - 60 * days, now - 30 * days) if spec.dnssec == "expired" else \
            (now - days / 24, now + 30 * days)
        unsigned, signed = keys / "zone.db", keys / "zone.signed"
        unsigned.write_text(text)
        subprocess.run([DNSSEC_SIGNZONE, "-S", "-z", "-P", "-q", "-K", str(keys), "-o", name,
                        "-s", start.strftime("%Y%m%d%H%M%S"), "-e", end.strftime("%Y%m%d%H%M%S"),
                        "-d", str(keys), "-f", str(signed), str(unsigned)], capture_output=True, text=True,
                       check=True, cwd=keys)
        self._signed[name] = signed.read_text()
        return self._signed[name]

    def _zone_texts(self, addresses: list[str], variant: str) -> dict[str, str]:
        hosts = {f"ns{index + 1}.{self.NS_ZONE}": [address] for index, address in enumerate(addresses)}
        live = dict(list(hosts.items())[:2])
        refuser = f"ns4.{self.NS_ZONE}"
        delegations = "".join(f"{zone} IN NS {host}\n" for zone in [self.NS_ZONE, *self.specs] for host in live
                              if not (zone in self.specs and self.specs[zone].refusing))
        delegations += "".join(f"{zone} IN NS {refuser}\n" for zone, spec in self.specs.items() if spec.refusing)
        root = "".join([
            "$TTL 86400\n",
            f". IN SOA ns1.{self.NS_ZONE} hostmaster.test. 1 3600 600 86400 300\n",
            *(f". IN NS {host}\n" for host in live),
            *(f"test. IN NS {host}\n" for host in live),
            *(f"{host} IN A {address[0]}\n" for host, address in hosts.items()),
        ])
        texts = {
            ".": root,
            "test.": zone_text("test.", live, delegations),
            self.NS_ZONE: zone_text(self.NS_ZONE, live, f"ns3 IN A {addresses[2]}"
                                    + (f"\nns4 IN A {addresses[3]}" if len(addresses) > 3 else "")),
        }
        for name, spec in self.specs.items():
            if not spec.served or spec.refusing or (variant == "ns2" and spec.ns2_lame):
                continue
            if spec.dnssec:
                texts[name] = self._sign(name, zone_text(name, live, spec.records, ttl=spec.ttl, serial=2), spec)
                continue
            servers = dict(list(hosts.items())[:3 if spec.with_dead_nameserver else 2])
            records, serial = spec.records, 2
            if variant == "ns2" and spec.ns2_records is not None:
                records, serial = spec.ns2_records, 1
            texts[name] = zone_text(name, servers, records, ttl=spec.ttl, serial=serial)
        return texts

    def start(self) -> "DnsWorld":
        # Concurrent test runs (pytest-xdist workers, other checkouts) pick spare addresses too: the pick and the
        # binds on port 53 happen under one machine-wide lock, so two worlds never pick the same address.
        with open(PORT53_LOCK, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return self._start()

    def _start(self) -> "DnsWorld":
        refusing = any(spec.refusing for spec in self.specs.values())
        addresses = spare_loopback_addresses(4 if refusing else 3)
        self.nameservers = addresses[:2]
        self.dead_nameserver = addresses[2]
        static = [name for name, spec in self.specs.items() if spec.dnssec]
        keys = {self.key_name: self.key_secret}
        hints = {f"ns{index + 1}.{self.NS_ZONE}": address for index, address in enumerate(self.nameservers)}
        try:
            self.holes.append(BlackHole(self.dead_nameserver, 53))
            self.holes.append(BlackHole("127.0.0.1", free_port()))
            self.dead_resolver = f"127.0.0.1:{self.holes[-1].port}"
            for index, variant in enumerate(("ns1", "ns2")):
                delay = self.nameserver_delays[index] if self.nameserver_delays else 0.0
                server = BindServer(self.workdir / variant, self._zone_texts(addresses, variant),
                                    addresses=[addresses[index]], port=None if delay else 53, keys=keys,
                                    static_zones=static)
                self.servers.append(server.start())
                if delay:
                    self.relays.append(DelayRelay((addresses[index], 53), (addresses[index], server.port), delay))
            if refusing:  # serves a zone of its own only: REFUSED for the zones delegated to it
                self.refusing_nameserver = addresses[3]
                refuser = "refuser.test."
                self.servers.append(BindServer(self.workdir / "ns4", {refuser: zone_text(refuser, {
                    f"ns4.{self.NS_ZONE}": []})}, addresses=[addresses[3]], port=53).start())
            for index in range(2):
                # The second resolver validates DNSSEC, trusting the signed zones' keys (there is no signed root).
                anchors = self.trust_anchors if index == 1 else {}
                resolver = BindServer(self.workdir / f"resolver{index + 1}", {}, root_hints=hints,
                                      bogus=[self.dead_nameserver], trust_anchors=anchors).start()
                self.servers.append(resolver)
                if self.resolver_delay:
                    relay = DelayRelay(("127.0.0.1", free_port()), ("127.0.0.1", resolver.port), self.resolver_delay)
                    self.relays.append(relay)
                    self.resolvers.append(f"127.0.0.1:{relay.listen[1]}")
                else:
                    self.resolvers.append(f"127.0.0.1:{resolver.port}")
            self.plain_resolver, self.validating_resolver = self.resolvers[:2]
        except BaseException:
            self.stop()
            raise
        return self

    def replace(self, name: str, rdtype: str, *values: str, ttl: int = 300) -> None:
        """Replace ``name``'s ``rdtype`` records on both live nameservers (TSIG-signed dynamic updates)."""
        import dns.name
        import dns.query
        import dns.rcode
        import dns.tsig
        import dns.tsigkeyring
        import dns.update

        absolute = dns.name.from_text(name)
        zone = max((z for z in [*self.specs, self.NS_ZONE] if absolute.is_subdomain(dns.name.from_text(z))),
                   key=len)
        keyring = dns.tsigkeyring.from_text({self.key_name: ("hmac-sha256", self.key_secret)})
        for address, server in zip(self.nameservers, self.servers):
            update = dns.update.UpdateMessage(zone, keyring=keyring, keyname=self.key_name,
                                              keyalgorithm=dns.tsig.HMAC_SHA256)
            update.replace(absolute, ttl, rdtype, *values)
            reply = dns.query.tcp(update, address, port=server.port, timeout=5)
            if reply.rcode() != dns.rcode.NOERROR:
                raise UpdateRefused(f"{address}: {dns.rcode.to_text(reply.rcode())}")

    def stop(self) -> None:
        for relay in self.relays:
            relay.stop()
        for server in self.servers:
            server.stop()
        for hole in self.holes:
            hole.close()

    def __enter__(self) -> "DnsWorld":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
