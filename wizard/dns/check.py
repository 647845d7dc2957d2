"""The DNS check: ask every authoritative nameserver directly and the public resolvers, all at once.

Let's Encrypt resolves the domain through its own recursive resolvers, which ask the zone's authoritative
nameservers — any of them. So the check finds the zone and its nameservers (through the configured resolvers,
never the system's ``/etc/resolv.conf``), then queries each nameserver with recursion off, and compares the public
resolvers' (possibly cached) answers with them. Every query has its own timeout inside one overall deadline and
runs concurrently with every other query that does not depend on its answer, so the whole check takes about as
long as its slowest dependent chain (resolver -> nameserver), and a dead server costs one timeout, not one per
query. Identical queries are sent once.

The result is a list of ``Diagnosis`` (ids ``dns.zone``, ``dns.nameservers``, ``dns.authoritative``,
``dns.cname``, ``dns.a``, ``dns.aaaa``, ``dns.caa``, ``dns.dnssec``, ``dns.resolvers``), each with a fix hint an
operator can act on. CAA is judged by ``wizard.dns.caa``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from wizard.diagnosis import Diagnosis, Status
from wizard.dns.caa import diagnose_caa

if TYPE_CHECKING:
    import dns.message
    import dns.name

    from wizard.dns.caa import Account

DEFAULT_RESOLVERS = ("1.1.1.1", "8.8.8.8", "9.9.9.9")
DEFAULT_TIMEOUT = 2.0
DEFAULT_DEADLINE = 10.0
MAX_CNAME_HOPS = 8

ANSWERED = ("NOERROR", "NXDOMAIN")


# ---------------------------------------------------------------------------------------------------------------
# servers and queries


@dataclass(frozen=True)
class Server:
    """Where a query goes. ``name`` is the nameserver's host name for authoritative servers, empty for resolvers."""

    host: str
    port: int = 53
    name: str = ""

    def __str__(self) -> str:
        where = self.host if self.port == 53 else (f"[{self.host}]:{self.port}" if ":" in self.host
                                                   else f"{self.host}:{self.port}")
        return f"{self.name} ({where})" if self.name else where


def parse_server(text: str, default_port: int = 53) -> Server:
    """``HOST[:PORT]`` (IPv6 as ``[::1]:53``) -> ``Server``. The host must be an IP address: resolving a resolver's
    name would need the system resolver, which the check never uses."""
    from wizard.fields import ValidationError, host_port

    normal = host_port(default_port)(text)
    host, _, port = normal.rpartition(":")
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValidationError(f"a resolver must be an IP address, not {host!r} (e.g. 1.1.1.1 or 9.9.9.9:53)") \
            from None
    return Server(host, int(port))


@dataclass
class Reply:
    """One query's outcome: the DNS reply, or why there is none."""

    server: Server
    qname: str
    rdtype: str
    recurse: bool
    rcode: str | None = None
    checking_disabled: bool = False  # asked with the CD flag: a validating resolver skips DNSSEC validation
    error: str = ""
    message: dns.message.Message | None = None
    seconds: float = 0.0

    @property
    def answered(self) -> bool:
        """The server gave an answer about the name (it exists, or it does not) — with authority, when it was asked
        as an authoritative nameserver."""
        return self.rcode in ANSWERED and (self.recurse or self.authoritative)

    @property
    def authenticated(self) -> bool:
        """A validating resolver vouches for the answer (the AD flag, RFC 4035 §3.2.3)."""
        import dns.flags

        return self.message is not None and bool(self.message.flags & dns.flags.AD)

    @property
    def authoritative(self) -> bool:
        import dns.flags

        return self.message is not None and bool(self.message.flags & dns.flags.AA)

    @property
    def outcome(self) -> str:
        """Why a reply does not count as an answer: the rcode, a referral, or the transport error."""
        if self.rcode in ANSWERED and not self.recurse and not self.authoritative:
            return "not authoritative (a referral: lame delegation)"
        return self.rcode or self.error

    def walk(self) -> "Walk":
        return walk_reply(self)


@dataclass
class Walk:
    """A reply's answer read along its CNAME chain: the hops, the last name, and that name's records."""

    hops: list[tuple[str, str]]
    final: str
    records: list[str]
    ttl: int | None
    loop: bool = False


def _text(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True).lower()


def walk_reply(reply: Reply) -> Walk:
    import dns.name
    import dns.rdataclass
    import dns.rdatatype

    message = reply.message
    name = dns.name.from_text(reply.qname)
    wanted = dns.rdatatype.from_text(reply.rdtype)
    hops: list[tuple[str, str]] = []
    seen = {name}
    for _ in range(MAX_CNAME_HOPS + 1):
        rrset = message.get_rrset(message.answer, name, dns.rdataclass.IN, wanted) if message else None
        if rrset is not None:
            return Walk(hops, _text(name), sorted(rdata.to_text() for rdata in rrset), rrset.ttl)
        cname = (message.get_rrset(message.answer, name, dns.rdataclass.IN, dns.rdatatype.CNAME)
                 if message and wanted != dns.rdatatype.CNAME else None)
        if cname is None:
            break
        target = cname[0].target
        hops.append((_text(name), _text(target)))
        if target in seen:
            return Walk(hops, _text(target), [], None, loop=True)
        seen.add(target)
        name = target
    return Walk(hops, _text(name), [], None)


def negative_ttl(reply: Reply) -> int | None:
    """How long a resolver may cache "no such name/record": min(SOA TTL, SOA minimum) from the authority section."""
    import dns.rdatatype

    for rrset in reply.message.authority if reply.message else []:
        if rrset.rdtype == dns.rdatatype.SOA:
            return min(int(rrset.ttl), int(rrset[0].minimum))
    return None


class Querier:
    """Sends queries with a per-query timeout inside one overall deadline; identical queries are sent once."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, deadline: float = DEFAULT_DEADLINE):
        self.timeout = timeout
        self.hedge = min(0.25, timeout / 4)
        self.ends_at = time.monotonic() + deadline
        self.replies: list[Reply] = []
        self._tasks: dict[tuple[Server, str, str, bool, bool], asyncio.Task[Reply]] = {}

    def ask(self, server: Server, qname: str, rdtype: str, recurse: bool,
            checking_disabled: bool = False) -> "asyncio.Task[Reply]":
        key = (server, qname.lower().rstrip("."), rdtype, recurse, checking_disabled)
        if key not in self._tasks:
            self._tasks[key] = asyncio.ensure_future(self._send(server, key[1], rdtype, recurse, checking_disabled))
        return self._tasks[key]

    async def _send(self, server: Server, qname: str, rdtype: str, recurse: bool,
                    checking_disabled: bool = False) -> Reply:
        import dns.asyncquery
        import dns.exception
        import dns.flags
        import dns.message
        import dns.rcode

        reply = Reply(server, qname, rdtype, recurse, checking_disabled=checking_disabled)
        query = dns.message.make_query(qname + ".", rdtype)
        if not recurse:
            query.flags &= ~dns.flags.RD
        else:
            query.flags |= dns.flags.AD  # ask a validating resolver to say whether it validated (RFC 6840 §5.7)
        if checking_disabled:
            query.flags |= dns.flags.CD
        timeout = min(self.timeout, self.ends_at - time.monotonic())
        started = time.monotonic()
        try:
            if timeout <= 0:
                raise dns.exception.Timeout
            message, _ = await dns.asyncquery.udp_with_fallback(query, server.host, port=server.port,
                                                                 timeout=timeout, ignore_unexpected=True)
            reply.message = message
            reply.rcode = dns.rcode.to_text(message.rcode())
        except dns.exception.Timeout:
            reply.error = f"no answer within {timeout:.1f} s" if timeout > 0 else "the check's deadline passed"
        except ConnectionRefusedError:
            reply.error = f"connection refused (nothing listens on port {server.port})"
        except OSError as exc:
            reply.error = exc.strerror or str(exc)
        except dns.exception.DNSException as exc:
            reply.error = f"malformed reply ({exc.__class__.__name__})"
        reply.seconds = time.monotonic() - started
        self.replies.append(reply)
        return reply

    async def first_answer(self, servers: Sequence[Server], qname: str, rdtype: str) -> Reply | list[Reply]:
        """The first reply (recursion on) that answers about the name, or every failure if none does.

        Hedged: the first server is asked at once, the next one when the previous fails or after ``hedge``
        seconds without an answer — so the resolvers are not all asked everything, and a dead one costs only the
        hedge delay here."""
        waiting = list(servers)
        pending: set[asyncio.Task[Reply]] = set()
        failures: list[Reply] = []
        while waiting or pending:
            if waiting:
                pending.add(self.ask(waiting.pop(0), qname, rdtype, True))
            done, pending = await asyncio.wait(pending, timeout=self.hedge if waiting else None,
                                               return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                reply = task.result()
                if reply.answered:
                    return reply
                failures.append(reply)
        return failures

    def cancel_pending(self) -> None:
        for task in self._tasks.values():
            task.cancel()


def describe_failures(failures: Iterable[Reply]) -> str:
    return "; ".join(f"{reply.server}: {reply.outcome}" for reply in failures)


# ---------------------------------------------------------------------------------------------------------------
# zones and authoritative answers


@dataclass
class Zone:
    """A zone and its nameservers. ``lame`` ({server text: what it answered}) is set when the resolvers fail for the
    zone and none of the nameservers its parent (``parent``) delegates it to answers for it with authority."""

    name: str
    servers: list[Server]
    problems: list[str] = field(default_factory=list)
    lame: dict[str, str] = field(default_factory=dict)
    parent: str = ""


@dataclass
class ZoneNotFound:
    name: str
    reason: str


def ancestors(name: str) -> list[str]:
    """``a.b.c`` -> ``[a.b.c, b.c, c]`` (the root is not asked)."""
    labels = name.split(".")
    return [".".join(labels[index:]) for index in range(len(labels))]


@dataclass
class Step:
    """The authoritative answers for one name of a CNAME chain, from every nameserver of that name's zone."""

    name: str
    zone: Zone | ZoneNotFound
    replies: list[Reply]


@dataclass
class Lookup:
    """An authoritative lookup of one record type, following CNAMEs across zones."""

    name: str
    rdtype: str
    steps: list[Step]
    error: str = ""

    @property
    def hops(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for step in self.steps:
            for reply in step.replies:
                if reply.answered:
                    for hop in reply.walk().hops:
                        if hop not in out:
                            out.append(hop)
                    break
        return out

    @property
    def final_name(self) -> str:
        hops = self.hops
        return hops[-1][1] if hops else self.name

    def by_server(self) -> list[tuple[Server, list[str]]]:
        """Each answering nameserver with the records it leads to (after any in-zone CNAMEs)."""
        out = []
        for step in self.steps:
            for reply in step.replies:
                if reply.answered:
                    walk = reply.walk()
                    if walk.records or not walk.hops:  # a CNAME out of the zone defers to the next step
                        out.append((reply.server, walk.records))
        return out

    @property
    def records(self) -> list[str]:
        return sorted({record for _, records in self.by_server() for record in records})

    @property
    def answered_any(self) -> bool:
        return any(reply.answered for step in self.steps for reply in step.replies)

    @property
    def nxdomain(self) -> bool:
        last = [reply for reply in self.steps[-1].replies if reply.answered] if self.steps else []
        return bool(last) and all(reply.rcode == "NXDOMAIN" for reply in last) and not self.records


class DnsCheck:
    """One run of the check. Build it, ``await run()``, read ``diagnoses`` and ``replies``."""

    def __init__(self, domain: str, expect_ipv4: str, expect_ipv6: str | None = None,
                 resolvers: Sequence[str | Server] | None = None, timeout: float = DEFAULT_TIMEOUT,
                 deadline: float = DEFAULT_DEADLINE, nameserver_port: int = 53,
                 accounts: "Mapping[str, Account] | None" = None, https_mode: str | None = None,
                 probe_port: int | None = None):
        """``resolvers``: HOST[:PORT] strings or ``Server``s; None or empty means ``DEFAULT_RESOLVERS``.
        ``nameserver_port``: where the authoritative nameservers listen (53; tests may use another).
        ``accounts`` ({https mode: ``wizard.dns.caa.Account``}) and ``https_mode`` (the chosen ``https.mode``) let
        the CAA verdict name the ACME account and challenge that will really order (see ``wizard.dns.caa``).
        ``probe_port`` (e.g. 443, None: no connection): connect to an AAAA address that is not the hub's, to say
        whether Let's Encrypt would validate there (something answers) or fall back to IPv4 (nothing does)."""
        from wizard.fields import fqdn, ipv4, ipv6

        self.domain = fqdn(domain)
        self.expect_ipv4 = ipv4(expect_ipv4)
        self.expect_ipv6 = ipv6(expect_ipv6) if expect_ipv6 else None
        self.resolvers = [r if isinstance(r, Server) else parse_server(r) for r in resolvers or DEFAULT_RESOLVERS]
        self.timeout = timeout
        self.deadline = deadline
        self.nameserver_port = nameserver_port
        self.accounts = dict(accounts or {})
        self.https_mode = https_mode
        self.probe_port = probe_port
        self.querier = Querier(timeout, deadline)  # run() starts a fresh one, its deadline counted from then
        self._zones: dict[str, asyncio.Task[Zone | ZoneNotFound]] = {}
        self.diagnoses: list[Diagnosis] = []
        self.seconds = 0.0

    @property
    def replies(self) -> list[Reply]:
        return self.querier.replies

    # -- discovery ------------------------------------------------------------------------------------------

    def zone_of(self, name: str) -> "asyncio.Task[Zone | ZoneNotFound]":
        if name not in self._zones:
            self._zones[name] = asyncio.ensure_future(self._find_zone(name))
        return self._zones[name]

    async def _find_zone(self, name: str) -> Zone | ZoneNotFound:
        """The deepest ancestor with an NS set is the zone; all ancestors are asked at once."""
        candidates = ancestors(name)
        replies = await asyncio.gather(*(self.querier.first_answer(self.resolvers, candidate, "NS")
                                         for candidate in candidates))
        for index, (candidate, reply) in enumerate(zip(candidates, replies)):
            if isinstance(reply, list):
                # A parent that fails breaks everything below it; the name itself may fail for its own reasons
                # (a CNAME loop), which asking its zone's nameservers will tell.
                servfail = bool(reply) and all(failure.rcode == "SERVFAIL" for failure in reply)
                if servfail:
                    delegated = await self._delegation(candidate, candidates[index + 1:], replies[index + 1:])
                    if delegated is not None:
                        return delegated
                if candidate != name and servfail:
                    return ZoneNotFound(name, f"the resolvers answer SERVFAIL for {candidate}: its nameservers do "
                                              "not serve it (lame delegation) or its DNSSEC is broken")
                continue
            walk = reply.walk()
            if walk.records and not walk.hops:
                return await self._zone_servers(candidate, reply, walk.records)
        failed = [reply for reply in replies if isinstance(reply, list)]
        if failed and len(failed) == len(replies):
            return ZoneNotFound(name, "no resolver answered: " + describe_failures(failed[-1]))
        return ZoneNotFound(name, f"no parent of {name} is a delegated zone: "
                                  + "; ".join(f"{candidate}: {r.rcode if not isinstance(r, list) else 'no answer'}"
                                              for candidate, r in zip(candidates, replies)))

    async def _delegation(self, child: str, parents: list[str], replies: list[Reply | list[Reply]]) -> Zone | None:
        """When the resolvers fail (SERVFAIL) for ``child``: ask the nearest parent zone's nameservers how they
        delegate it (no recursion), then ask those delegated servers for the child's SOA. Returns the child's
        ``Zone`` (``lame`` filled when none of them answers with authority), or None when the parent does not
        delegate ``child`` (it is an ordinary name in the parent's zone)."""
        import dns.name
        import dns.rdatatype

        parent_zone = None
        for parent, reply in zip(parents, replies):
            if not isinstance(reply, list):
                walk = reply.walk()
                if walk.records and not walk.hops:
                    parent_zone = await self._zone_servers(parent, reply, walk.records)
                    break
        if parent_zone is None or not parent_zone.servers:
            return None
        owner = dns.name.from_text(child)
        referrals = await asyncio.gather(*(self.querier.ask(server, child, "NS", False)
                                           for server in parent_zone.servers))
        for referral in referrals:
            message = referral.message
            if message is None:
                continue
            for rrset in [*message.authority, *message.answer]:
                if rrset.rdtype == dns.rdatatype.NS and rrset.name == owner:
                    zone = await self._zone_servers(child, referral, [rdata.target.to_text() for rdata in rrset])
                    zone.parent = parent_zone.name
                    probes = await asyncio.gather(*(self.querier.ask(server, child, "SOA", False)
                                                    for server in zone.servers))
                    if zone.servers and not any(probe.answered for probe in probes):
                        zone.lame = {str(probe.server): probe.outcome for probe in probes}
                    return zone
        return None

    async def _zone_servers(self, zone: str, reply: Reply, ns_hosts: list[str]) -> Zone:
        """Nameserver addresses: from the reply's additional section, else asked of the resolvers."""
        import dns.rdatatype

        hosts = [host.rstrip(".").lower() for host in ns_hosts]
        known: dict[str, list[str]] = {host: [] for host in hosts}
        for rrset in reply.message.additional if reply.message else []:
            owner = _text(rrset.name)
            if owner in known and rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                known[owner].extend(rdata.address for rdata in rrset)
        missing = [host for host, addresses in known.items() if not addresses]
        lookups = await asyncio.gather(*(self.querier.first_answer(self.resolvers, host, rdtype)
                                         for host in missing for rdtype in ("A", "AAAA")))
        for index, host in enumerate(missing):
            for lookup in lookups[2 * index: 2 * index + 2]:
                if not isinstance(lookup, list):
                    known[host].extend(lookup.walk().records)
        servers, problems = [], []
        for host in hosts:
            addresses = known[host]
            ipv4s = [a for a in addresses if ":" not in a]
            # IPv6 nameserver addresses only when a server has no IPv4: the operator's network may lack IPv6.
            for address in sorted(set(ipv4s or addresses)):
                servers.append(Server(address, self.nameserver_port, host))
            if not addresses:
                problems.append(f"nameserver {host} has no address")
        return Zone(zone, servers, problems)

    async def lookup(self, name: str, rdtype: str) -> Lookup:
        """Ask every nameserver of ``name``'s zone; follow a CNAME that leaves the zone into the target's zone."""
        result = Lookup(name, rdtype, [])
        seen = {name}
        current = name
        for _ in range(MAX_CNAME_HOPS):
            zone = await self.zone_of(current)
            if isinstance(zone, ZoneNotFound):
                result.steps.append(Step(current, zone, []))
                if current != name:
                    result.error = f"the CNAME target {current} has no zone: {zone.reason}"
                return result
            for server in zone.servers:  # serials explain a disagreement; asked alongside, read by _serials
                self.querier.ask(server, zone.name, "SOA", False)
            replies = list(await asyncio.gather(*(self.querier.ask(server, current, rdtype, False)
                                                   for server in zone.servers)))
            result.steps.append(Step(current, zone, replies))
            looping = [walk for walk in (reply.walk() for reply in replies if reply.message) if walk.loop]
            if looping:  # nameservers answer SERVFAIL with the looping chain
                result.error = "the CNAME chain loops: " + " -> ".join([current] + [t for _, t in looping[0].hops])
                return result
            answered = [reply for reply in replies if reply.answered]
            if not answered:
                return result
            walks = [reply.walk() for reply in answered]
            if any(walk.records for walk in walks) or not any(walk.hops for walk in walks):
                return result
            target = next(walk.final for walk in walks if walk.hops)
            if target in seen:
                result.error = f"the CNAME chain loops back to {target}"
                return result
            seen.add(target)
            current = target
        result.error = f"the CNAME chain is longer than {MAX_CNAME_HOPS} hops"
        return result

    async def caa(self) -> list[Reply | list[Reply]]:
        """RFC 8659: CAA of the name and each parent (the resolver follows CNAMEs), asked all at once."""
        return list(await asyncio.gather(*(self.querier.first_answer(self.resolvers, name, "CAA")
                                           for name in ancestors(self.domain))))

    async def public_view(self, rdtype: str) -> list[Reply]:
        return list(await asyncio.gather(*(self.querier.ask(server, self.domain, rdtype, True)
                                           for server in self.resolvers)))

    # -- the run --------------------------------------------------------------------------------------------

    async def run(self) -> list[Diagnosis]:
        started = time.monotonic()
        self.querier = Querier(self.timeout, self.deadline)
        self._zones.clear()
        try:
            lookup_a, lookup_aaaa, caa, public_a, public_aaaa = await asyncio.gather(
                self.lookup(self.domain, "A"), self.lookup(self.domain, "AAAA"), self.caa(),
                self.public_view("A"), self.public_view("AAAA"))
            serials = await self._serials(lookup_a, lookup_aaaa)
            # A resolver that fails (SERVFAIL) but answers when told not to validate (CD) is failing DNSSEC.
            unvalidated = list(await asyncio.gather(*(
                self.querier.ask(reply.server, reply.qname, reply.rdtype, True, checking_disabled=True)
                for reply in public_a + public_aaaa if reply.rcode == "SERVFAIL")))
        finally:
            self.querier.cancel_pending()
        zone = await self.zone_of(self.domain)
        probes = await self._probe_foreign_aaaa(lookup_aaaa)
        dnssec = diagnose_dnssec(self.domain, zone, public_a + public_aaaa, unvalidated)
        self.diagnoses = [
            diagnose_zone(self.domain, zone, lookup_a),
            diagnose_nameservers(lookup_a, lookup_aaaa),
            diagnose_agreement(lookup_a, lookup_aaaa, serials),
            diagnose_cname(lookup_a),
            diagnose_a(lookup_a, self.expect_ipv4, public_a),
            diagnose_aaaa(lookup_aaaa, self.expect_ipv6, public_aaaa, probes, self.https_mode),
            diagnose_caa(self.domain, caa, self.accounts, self.https_mode),
            dnssec,
            diagnose_resolvers(self.resolvers, (lookup_a, public_a), (lookup_aaaa, public_aaaa),
                               dnssec_failing=set(dnssec.data.get("failing", {}))),
        ]
        self.seconds = time.monotonic() - started
        return self.diagnoses

    async def _probe_foreign_aaaa(self, lookup: Lookup) -> dict[str, str]:
        """{address: "answers" | why nothing answered} for AAAA records that are not the hub's (at most 3), by a
        TCP connection to ``probe_port``; empty when probing is off."""
        if not self.probe_port:
            return {}
        foreign = [record for record in lookup.records if record != self.expect_ipv6][:3]

        async def probe(address: str) -> str:
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(address, self.probe_port),
                                                   timeout=min(self.timeout, 3.0))
            except asyncio.TimeoutError:
                return f"no answer within {min(self.timeout, 3.0):g} s"
            except ConnectionRefusedError:
                return "connection refused"
            except OSError as exc:
                return exc.strerror or str(exc)
            writer.close()
            return "answers"

        return dict(zip(foreign, await asyncio.gather(*(probe(address) for address in foreign))))

    async def _serials(self, *lookups: Lookup) -> dict[Server, int]:
        """SOA serials of the nameservers (asked alongside the lookups), to explain a disagreement."""
        out: dict[Server, int] = {}
        for lookup in lookups:
            for step in lookup.steps:
                if isinstance(step.zone, Zone):
                    for server in step.zone.servers:
                        reply = await self.querier.ask(server, step.zone.name, "SOA", False)
                        if reply.rcode == "NOERROR":
                            walk = reply.walk()
                            if walk.records:
                                out[server] = int(walk.records[0].split()[2])
        return out


def check_domain(domain: str, expect_ipv4: str, expect_ipv6: str | None = None,
                 resolvers: Sequence[str | Server] | None = None, timeout: float = DEFAULT_TIMEOUT,
                 deadline: float = DEFAULT_DEADLINE, nameserver_port: int = 53,
                 accounts: "Mapping[str, Account] | None" = None, https_mode: str | None = None,
                 probe_port: int | None = None) -> list[Diagnosis]:
    """The whole check, blocking (for the CLI and for front-end workers that run threads)."""
    check = DnsCheck(domain, expect_ipv4, expect_ipv6, resolvers, timeout, deadline, nameserver_port, accounts,
                     https_mode, probe_port)
    return asyncio.run(check.run())


# ---------------------------------------------------------------------------------------------------------------
# diagnoses


def _servers_text(servers: Iterable[Server]) -> str:
    return ", ".join(str(server) for server in servers)


def diagnose_zone(domain: str, zone: Zone | ZoneNotFound, lookup: Lookup) -> Diagnosis:
    if isinstance(zone, ZoneNotFound):
        return Diagnosis("dns.zone", Status.ERROR, f"could not find the zone of {domain}", zone.reason,
                         f"Check that {domain}'s parent domain is registered and delegated to nameservers, and "
                         "that the resolvers are reachable from this machine (or choose other public resolvers).")
    zones = [step.zone for step in lookup.steps if isinstance(step.zone, Zone)]
    details = "\n".join(f"{z.name}: {_servers_text(z.servers) or 'no nameserver address'}" for z in zones)
    if zone.lame:
        answers = "; ".join(f"{server}: {why}" for server, why in sorted(zone.lame.items()))
        hosts = ", ".join(sorted({server.name or server.host for server in zone.servers}))
        return Diagnosis("dns.zone", Status.ERROR, f"the delegation of {zone.name} is lame: {answers}", details,
                         f"The parent's NS records point at a server that does not serve the zone: make {hosts} "
                         f"serve {zone.name}, or change the NS records of {zone.name} at the registrar (in "
                         f"{zone.parent or 'the parent zone'}) to nameservers that do.",
                         {"zone": zone.name, "lame": zone.lame, "parent": zone.parent})
    if not zone.servers:
        return Diagnosis("dns.zone", Status.ERROR, f"zone {zone.name} has no nameserver with an address", details,
                         f"Give the nameservers of {zone.name} A records (glue at the registrar for in-zone names).",
                         {"zone": zone.name})
    return Diagnosis("dns.zone", Status.OK, f"{domain} is in zone {zone.name}, served by "
                     f"{len({s.name for s in zone.servers})} nameserver(s)", details,
                     data={"zone": zone.name, "nameservers": [str(s) for s in zone.servers]})


def diagnose_nameservers(*lookups: Lookup) -> Diagnosis:
    broken: dict[Server, str] = {}
    per_zone: dict[str, tuple[Zone, list[bool]]] = {}
    problems: list[str] = []
    for lookup in lookups:
        for step in lookup.steps:
            if not isinstance(step.zone, Zone):
                continue
            problems.extend(p for p in step.zone.problems if p not in problems)
            entry = per_zone.setdefault(step.zone.name, (step.zone, []))
            for reply in step.replies:
                entry[1].append(reply.answered)
                if reply.rcode == "REFUSED":
                    broken[reply.server] = f"refuses queries for {step.zone.name} (lame delegation)"
                elif not reply.answered and not (lookup.error and reply.message):
                    broken[reply.server] = reply.outcome
    if not per_zone:
        return Diagnosis("dns.nameservers", Status.SKIPPED, "no zone found, so no nameserver was asked")
    details = "\n".join([f"{server}: {why}" for server, why in broken.items()] + problems)
    dead_zones = [zone.name for zone, answered in per_zone.values() if not any(answered)]
    data = {"failed": {str(server): why for server, why in broken.items()}}
    if dead_zones:
        named = "; ".join(f"{server}: {why}" for server, why in broken.items())
        lame = any("lame delegation" in why or why == "REFUSED" for why in broken.values())
        fix = (f"The parent's NS records point at a server that does not serve the zone: make it serve "
               f"{', '.join(dead_zones)}, or correct the zone's NS records at the registrar. Nobody, Let's Encrypt "
               "included, can resolve the domain now." if lame else
               f"Repair the nameservers of {', '.join(dead_zones)} (or the delegation at the registrar): nobody, "
               "Let's Encrypt included, can resolve the domain now.")
        return Diagnosis("dns.nameservers", Status.ERROR,
                         f"no nameserver of {', '.join(dead_zones)} answered" + (f" ({named})" if named else ""),
                         details, fix, data)
    if broken or problems:
        names = ", ".join(str(server) for server in broken) or "; ".join(problems)
        zone_names = ", ".join(per_zone)
        return Diagnosis("dns.nameservers", Status.WARNING, f"nameserver not answering: {names}", details,
                         f"Repair {names}, or remove its NS record from zone {zone_names} and from the delegation "
                         "at the registrar: resolvers that pick it wait and may fail.", data)
    count = sum(len(zone.servers) for zone, _ in per_zone.values())
    return Diagnosis("dns.nameservers", Status.OK, f"all {count} authoritative nameserver address(es) answered",
                     _servers_text(s for zone, _ in per_zone.values() for s in zone.servers), data=data)


def _signature(reply: Reply) -> str:
    if not reply.answered:
        return ""
    walk = reply.walk()
    if walk.hops:
        return "CNAME " + " -> ".join(target for _, target in walk.hops) + (
            f" {' '.join(walk.records)}" if walk.records else "")
    if walk.records:
        return " ".join(walk.records)
    return "NXDOMAIN" if reply.rcode == "NXDOMAIN" else "no record (NODATA)"


def diagnose_agreement(lookup_a: Lookup, lookup_aaaa: Lookup, serials: dict[Server, int]) -> Diagnosis:
    differing: list[str] = []
    compared = 0
    for lookup in (lookup_a, lookup_aaaa):
        for step in lookup.steps:
            answered = [reply for reply in step.replies if reply.answered]
            compared = max(compared, len(answered))
            signatures = {_signature(reply) for reply in answered}
            if len(signatures) > 1:
                for reply in answered:
                    serial = serials.get(reply.server)
                    differing.append(f"{reply.server}{f' serial {serial}' if serial is not None else ''}: "
                                     f"{step.name} {lookup.rdtype} -> {_signature(reply)}")
    if compared < 2:
        return Diagnosis("dns.authoritative", Status.SKIPPED, "fewer than two nameservers answered: nothing to "
                         "compare")
    if differing:
        newest = max(serials.values()) if serials else None
        wait = f"serves serial {newest}" if newest is not None and len(set(serials.values())) > 1 else \
            "serves the same records"
        return Diagnosis("dns.authoritative", Status.WARNING,
                         "the authoritative nameservers disagree: a change is in flight", "\n".join(differing),
                         f"Wait until every nameserver of the zone {wait}; if this persists, the secondaries are "
                         "not getting zone transfers (check NOTIFY/AXFR from the primary). Let's Encrypt may ask any "
                         "of them.", {"servers": differing, "serials": {str(s): n for s, n in serials.items()}})
    return Diagnosis("dns.authoritative", Status.OK, "the authoritative nameservers agree")


def diagnose_cname(lookup: Lookup) -> Diagnosis:
    hops = lookup.hops
    chain = " -> ".join([lookup.name] + [target for _, target in hops])
    if lookup.error:
        return Diagnosis("dns.cname", Status.ERROR, lookup.error, chain,
                         f"Replace the CNAME of {lookup.name} by an A record, or point it at a name that has "
                         "address records.", {"chain": [lookup.name] + [t for _, t in hops]})
    if not hops:
        if not lookup.answered_any:
            return Diagnosis("dns.cname", Status.SKIPPED, "no nameserver answered")
        return Diagnosis("dns.cname", Status.OK, f"no CNAME: {lookup.name} has its own records")
    if lookup.nxdomain:
        return Diagnosis("dns.cname", Status.ERROR, f"the CNAME target {lookup.final_name} does not exist", chain,
                         f"Point the CNAME at an existing name, or replace it by A records for {lookup.name}.",
                         {"chain": [lookup.name] + [t for _, t in hops]})
    zones = [step.zone.name for step in lookup.steps if isinstance(step.zone, Zone)]
    return Diagnosis("dns.cname", Status.OK, f"{lookup.name} is an alias: {chain}",
                     f"zones followed: {', '.join(zones)}; the final name's addresses are checked by dns.a/dns.aaaa",
                     data={"chain": [lookup.name] + [t for _, t in hops], "zones": zones})


def _owner_hint(lookup: Lookup) -> str:
    """Where the address records to change live: the name itself, or the end of its CNAME chain."""
    if lookup.hops:
        return f"{lookup.final_name} (the CNAME target of {lookup.name})"
    return lookup.name


def _public_fallback(lookup: Lookup, public: list[Reply]) -> tuple[list[str], str, bool] | None:
    """When no nameserver answered, judge by the resolvers' answers (saying so): their records, the note, and
    whether every one that answered said the name does not exist (NXDOMAIN)."""
    answered = [reply for reply in public if reply.answered]
    if lookup.answered_any or not answered:
        return None
    records = sorted({record for reply in answered for record in reply.walk().records})
    nxdomain = not records and all(reply.rcode == "NXDOMAIN" for reply in answered)
    return records, " (no nameserver answered: judged from the public resolvers' answers)", nxdomain


def _server_lines(lookup: Lookup) -> str:
    return "\n".join(f"{server}: {' '.join(records) or 'none'}" for server, records in lookup.by_server())


def _split_answers(key: str, lookup: Lookup, expected: str, details: str, data: dict[str, Any]) -> Diagnosis | None:
    """Some nameservers answer exactly the hub's address and others do not: Let's Encrypt may ask either."""
    per_server = lookup.by_server()
    wrong = [(server, records) for server, records in per_server if records != [expected]]
    if not wrong or len(wrong) == len(per_server):
        return None
    rdtype = "AAAA" if key == "dns.aaaa" else "A"
    names = ", ".join(str(server) for server, _ in wrong)
    answers = "; ".join(f"{server} answers {' '.join(records) or f'no {rdtype} record'}" for server, records in wrong)
    return Diagnosis(key, Status.ERROR, f"not every nameserver answers {expected}: {answers}", details,
                     f"Let's Encrypt may ask {names}: wait until it serves {expected} (see dns.authoritative), or "
                     f"correct the {rdtype} record for {_owner_hint(lookup)} there.", data)


def _judged_records(lookup: Lookup, fallback: tuple[list[str], str, bool] | None,
                    expected: str | None) -> tuple[list[str], str, str, dict[str, Any]]:
    """What dns.a and dns.aaaa judge: the records (the public resolvers' when they stand in, see _public_fallback),
    the note saying so, the per-server details and the diagnosis data (``nxdomain``: whoever was judged says the
    name does not exist)."""
    records = fallback[0] if fallback else lookup.records
    note = fallback[1] if fallback else ""
    nxdomain = fallback[2] if fallback else lookup.nxdomain
    data = {"name": lookup.name, "records": records, "expected": expected, "final_name": lookup.final_name,
            "nxdomain": nxdomain}
    return records, note, _server_lines(lookup) + note, data


def _address_records(check: str, lookup: Lookup, public: list[Reply], expected: str | None,
                     unusable: str) -> Diagnosis | tuple[list[str], str, str, dict[str, Any]]:
    """Where ``dns.a`` and ``dns.aaaa`` start: their finding already (a broken CNAME chain, saying ``unusable``;
    nobody answered), else the records judged (``_judged_records``)."""
    fallback = _public_fallback(lookup, public)
    if lookup.error:
        return Diagnosis(check, Status.ERROR, f"{unusable}: {lookup.error}", _server_lines(lookup),
                         f"Fix the CNAME chain of {lookup.name} (see dns.cname).")
    if not lookup.answered_any and fallback is None:
        return Diagnosis(check, Status.SKIPPED, f"no nameserver or resolver answered for {lookup.name}")
    return _judged_records(lookup, fallback, expected)


def diagnose_a(lookup: Lookup, expected: str, public: list[Reply]) -> Diagnosis:
    name, owner = lookup.name, _owner_hint(lookup)
    judged = _address_records("dns.a", lookup, public, expected, f"{name} has no usable address")
    if isinstance(judged, Diagnosis):
        return judged
    records, note, details, data = judged
    if not records:
        if data["nxdomain"]:
            return Diagnosis("dns.a", Status.ERROR, f"{lookup.final_name} does not exist (NXDOMAIN){note}", details,
                             f"Create an A record {lookup.final_name} -> {expected} at your DNS provider.", data)
        return Diagnosis("dns.a", Status.ERROR, f"{lookup.final_name} exists but has no A record (NODATA){note}",
                         details, f"Add an A record {lookup.final_name} -> {expected}.", data)
    split = _split_answers("dns.a", lookup, expected, details, data)
    if split:
        return split
    foreign = [record for record in records if record != expected]
    if not foreign:
        return Diagnosis("dns.a", Status.OK, f"{name} -> {expected}{note}", details, data=data)
    serving = [str(server) for server, recs in lookup.by_server() if set(recs) & set(foreign)]
    where = f" (served by {', '.join(serving)})" if serving else ""
    if expected in records:
        return Diagnosis("dns.a", Status.ERROR, f"{name} also points at {', '.join(foreign)}, which is not this "
                         f"hub{note}", details + where,
                         f"Delete the A record {', '.join(foreign)} for {owner}; keep only {expected}. Visitors and "
                         "Let's Encrypt pick one address at random.", data)
    return Diagnosis("dns.a", Status.ERROR, f"{name} points at {', '.join(foreign)}, not at this hub's "
                     f"{expected}{note}", details + where,
                     f"Change the A record for {owner} from {', '.join(foreign)} to {expected}"
                     + (f", or replace the CNAME {name} by an A record {expected}" if lookup.hops else "") + ".",
                     data)


def diagnose_aaaa(lookup: Lookup, expected: str | None, public: list[Reply], probes: dict[str, str] | None = None,
                  https_mode: str | None = None) -> Diagnosis:
    """``dns.aaaa``. Let's Encrypt prefers IPv6 and retries over IPv4 only when the IPv6 connection fails at the
    network level (its "IPv6 Support" documentation; Boulder's ``tryGetTLSCerts``): an AAAA record that is not the
    hub's breaks validation when something answers there, and is survivable (for the CA, not for IPv6 visitors)
    when nothing does. ``probes`` ({address: "answers" | why not}) says which was observed; without it, both
    are named. DNS-01 (``https_mode`` "acme-dns") never connects to the hub, so only visitors are concerned."""
    name, owner = lookup.name, _owner_hint(lookup)
    judged = _address_records("dns.aaaa", lookup, public, expected, name)
    if isinstance(judged, Diagnosis):
        return judged
    records, note, details, data = judged
    if data["nxdomain"] and not records:
        return Diagnosis("dns.aaaa", Status.SKIPPED, f"{lookup.final_name} does not exist (see dns.a)", details,
                         data=data)
    split = _split_answers("dns.aaaa", lookup, expected, details, data) if expected and records else None
    if split:
        return split
    foreign = [record for record in records if record != expected]
    if foreign:
        probes = probes or {}
        answering = [address for address in foreign if probes.get(address) == "answers"]
        silent = {address: why for address, why in probes.items() if why != "answers"}
        fix_target = f"change it to this VM's IPv6 {expected}" if expected else \
            "point it at this VM's IPv6 (and give it as the reserved IPv6)"
        fix = f"Delete the AAAA record {', '.join(foreign)} for {owner}, or {fix_target}."
        data = {**data, "probes": probes}
        summary = f"{name} has AAAA {', '.join(foreign)}, which is not this hub{note}"
        if https_mode == "acme-dns":
            return Diagnosis("dns.aaaa", Status.WARNING, summary, "DNS-01 validation does not connect to the hub, "
                             f"so Let's Encrypt is not affected; IPv6 visitors reach another machine.\n{details}",
                             fix, data)
        if answering:
            reason = (f"something answers at {', '.join(answering)}: Let's Encrypt validates there first and does "
                      "not fall back to IPv4 when the connection succeeds, so validation fails; IPv6 visitors "
                      "reach another machine")
            return Diagnosis("dns.aaaa", Status.ERROR, f"{summary}, and it answers", f"{reason}.\n{details}", fix,
                             data)
        if silent and len(silent) == len(foreign):
            observed = "; ".join(f"{address}: {why}" for address, why in silent.items())
            reason = (f"nothing answers there ({observed}): Let's Encrypt tries IPv6 first and falls back to IPv4 "
                      "when that connection fails, so validation can succeed, but IPv6 visitors cannot reach the "
                      "hub")
            return Diagnosis("dns.aaaa", Status.WARNING, f"{summary}; nothing answers there", f"{reason}.\n{details}",
                             fix, data)
        reason = ("Let's Encrypt tries IPv6 first: if something answers there, validation fails (no fallback); "
                  "only if the connection fails does it retry over IPv4 (not probed: the reachability check, "
                  "dns-check --reach, shows which); IPv6 visitors reach another machine")
        return Diagnosis("dns.aaaa", Status.ERROR, summary, f"{reason}.\n{details}", fix, data)
    if not records:
        if expected:
            return Diagnosis("dns.aaaa", Status.WARNING, f"{name} has no AAAA record for this hub's IPv6 {expected}"
                             f"{note}", details, f"Add an AAAA record {lookup.final_name} -> {expected} so IPv6 "
                             "visitors reach the hub (or leave IPv6 out of the answers).", data)
        return Diagnosis("dns.aaaa", Status.OK, f"{name} has no AAAA record: Let's Encrypt and visitors use IPv4"
                         f"{note}", details, data=data)
    return Diagnosis("dns.aaaa", Status.OK, f"{name} -> {expected}{note}", details, data=data)


def diagnose_dnssec(domain: str, zone: "Zone | ZoneNotFound", public: list[Reply],
                    unvalidated: list[Reply]) -> Diagnosis:
    """``dns.dnssec``: Let's Encrypt's resolvers validate DNSSEC, so a resolver that answers SERVFAIL, yet answers
    when asked with the CD flag (checking disabled), shows the zone's signatures failing validation (expired or
    missing RRSIGs, a DS at the parent matching no DNSKEY): issuance fails. ``data["failing"]``: {resolver: what it
    answered without validation}."""
    failing = {str(reply.server): f"SERVFAIL for {reply.qname} {reply.rdtype}; with checking disabled: "
               + (" ".join(reply.walk().records) or str(reply.rcode)) for reply in unvalidated if reply.answered}
    zone_name = zone.name if isinstance(zone, Zone) else domain
    if failing:
        answering = sorted({str(reply.server) for reply in public if reply.answered})
        details = "\n".join([f"{server}: {why}" for server, why in failing.items()]
                            + ([f"answering (without validating): {', '.join(answering)}"] if answering else []))
        return Diagnosis("dns.dnssec", Status.ERROR, f"broken DNSSEC: validating resolvers fail "
                         f"({', '.join(failing)}) while the zone answers without validation", details,
                         f"Let's Encrypt validates DNSSEC and will fail too: re-sign the zone {zone_name} (its "
                         "signatures may have expired) or, if it should not be signed, remove its DS record at the "
                         "registrar.", {"failing": failing, "zone": zone_name})
    if not any(reply.answered for reply in public):
        return Diagnosis("dns.dnssec", Status.SKIPPED, "no resolver answered: DNSSEC not judged")
    validated = sorted({str(reply.server) for reply in public if reply.answered and reply.authenticated})
    if validated:
        return Diagnosis("dns.dnssec", Status.OK, f"{domain} is signed and validates ({', '.join(validated)})",
                         data={"validated_by": validated})
    return Diagnosis("dns.dnssec", Status.OK, "no resolver reports a DNSSEC failure", data={"validated_by": []})


def diagnose_resolvers(resolvers: list[Server], *views: tuple[Lookup, list[Reply]],
                       dnssec_failing: AbstractSet[str] = frozenset()) -> Diagnosis:
    """``dnssec_failing``: resolvers (as text) whose failure ``dns.dnssec`` explains; not counted again here."""
    dead: dict[Server, str] = {}
    failing: dict[Server, str] = {}
    stale: list[str] = []
    waits: list[int] = []
    compared = False
    for lookup, public in views:
        truths = {tuple(records) for _, records in lookup.by_server()}
        for reply in public:
            if reply.rcode is None:
                dead[reply.server] = reply.error
                continue
            if not reply.answered:
                if str(reply.server) not in dnssec_failing:
                    failing[reply.server] = f"{reply.rcode} for {lookup.name} {lookup.rdtype}"
                continue
            if not truths:
                continue
            compared = True
            walk = reply.walk()
            if tuple(walk.records) in truths:
                continue
            if walk.records:
                ttl = walk.ttl or 0
                stale.append(f"{reply.server} still answers {lookup.name} {lookup.rdtype} {' '.join(walk.records)} "
                             f"(cached for up to {ttl} s more)")
            else:
                ttl = negative_ttl(reply) or 0
                what = "does not exist" if reply.rcode == "NXDOMAIN" else f"has no {lookup.rdtype} record"
                stale.append(f"{reply.server} still says {lookup.name} {what} (cached for up to {ttl} s more)")
            waits.append(ttl)
    details = "\n".join(stale + [f"{server}: {why}" for server, why in {**failing, **dead}.items()])
    data = {"stale": stale, "dead": {str(s): why for s, why in dead.items()},
            "failing": {str(s): why for s, why in failing.items()}, "wait_seconds": max(waits, default=0)}
    if len(dead) == len(resolvers):
        return Diagnosis("dns.resolvers", Status.ERROR, "no public resolver answered", details,
                         "Check this machine's network (outgoing DNS may be blocked) or choose public "
                         "resolvers it can reach.", data)
    if failing and len(set(failing) | set(dead)) == len(resolvers):
        return Diagnosis("dns.resolvers", Status.ERROR, "the public resolvers cannot resolve the domain ("
                         + ", ".join(sorted({why.split()[0] for why in failing.values()})) + ")", details,
                         "The zone's delegation or DNSSEC is broken as the world sees it: check the NS records "
                         "and DS records at the registrar (see dns.zone).", data)
    if stale:
        wait = max(waits)
        also = f" ({', '.join(str(s) for s in dead)} not answering)" if dead else ""
        return Diagnosis("dns.resolvers", Status.WARNING,
                         f"public resolvers still have the old answer cached: wait up to {wait} seconds{also}",
                         details, f"Wait up to {wait} seconds (the cached record's TTL) and check again; lower the "
                         "TTL before future changes.", data)
    if failing:
        names = ", ".join(str(server) for server in failing)
        return Diagnosis("dns.resolvers", Status.WARNING, f"resolver failing: {names}", details,
                         "Some resolvers fail where others answer: often a DNSSEC problem they validate and others "
                         "do not. Check the zone's DS/DNSKEY records.", data)
    if dead:
        names = ", ".join(str(server) for server in dead)
        return Diagnosis("dns.resolvers", Status.WARNING, f"resolver not answering: {names}", details,
                         f"Check that this machine can reach {names} (outgoing DNS may be filtered), or pass "
                         "other public resolvers.", data)
    if not compared:
        return Diagnosis("dns.resolvers", Status.SKIPPED, "no authoritative answer to compare the resolvers with")
    return Diagnosis("dns.resolvers", Status.OK, f"all {len(resolvers)} resolvers agree with the authoritative "
                     "nameservers", _servers_text(resolvers), data=data)
