"""Waiting until every authoritative nameserver of a zone serves the challenge records.

A CA may ask any of the zone's nameservers; answering the challenge while one of them still lacks the TXT record
fails the validation (and, against production, counts toward the rate limit). So the wizard finds the zone's NS
set, resolves each server's addresses, and asks every address directly (no recursion, no cache) until all agree.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from wizard.https.progress import Backoff, CancelToken, Deadline, Progress, no_progress

if TYPE_CHECKING:
    import dns.message



class PropagationTimeout(Exception):
    """Some nameserver still did not serve the records when the wait gave up."""


@dataclass(frozen=True)
class Nameserver:
    name: str
    address: str
    port: int = 53

    def __str__(self) -> str:
        return f"{self.name.rstrip('.')} ({self.address})"


def _query(qname: str, rdtype: str, address: str, port: int, timeout: float) -> dns.message.Message:
    import dns.flags
    import dns.message
    import dns.query

    query = dns.message.make_query(qname, rdtype)
    query.flags &= ~dns.flags.RD
    reply = dns.query.udp(query, address, port=port, timeout=timeout)
    if reply.flags & dns.flags.TC:
        reply = dns.query.tcp(query, address, port=port, timeout=timeout)
    return reply


def _answers(reply: dns.message.Message, rdtype: str) -> list[Any]:  # the rdtype's own Rdata class
    import dns.rdatatype

    wanted = dns.rdatatype.from_text(rdtype)
    return [rdata for rrset in reply.answer if rrset.rdtype == wanted for rdata in rrset]


def authoritative_nameservers(zone: str, server: str, port: int, *, nameserver_port: int = 53,
                              timeout: float = 3.0) -> list[Nameserver]:
    """The zone's NS set as ``server`` (its primary) publishes it, with every address of every nameserver.

    Addresses come from ``server`` when it has them (in-zone glue), otherwise from this machine's resolver.
    """
    import dns.exception
    import dns.resolver

    zone = zone.rstrip(".") + "."
    names = sorted(rdata.target.to_text() for rdata in _answers(_query(zone, "NS", server, port, timeout), "NS"))
    if not names:
        raise PropagationTimeout(f"{server}:{port} lists no NS records for {zone}")
    found = []
    for name in names:
        addresses = [rdata.address for rdtype in ("A", "AAAA")
                     for rdata in _answers(_query(name, rdtype, server, port, timeout), rdtype)]
        if not addresses:
            for rdtype in ("A", "AAAA"):
                try:
                    addresses += [rdata.address for rdata in dns.resolver.resolve(name, rdtype, lifetime=timeout)]
                except dns.exception.DNSException:
                    pass
        found += [Nameserver(name, address, nameserver_port) for address in addresses]
        if not addresses:
            raise PropagationTimeout(f"cannot find an address for the nameserver {name}")
    return found


def _missing_at(nameserver: Nameserver, records: Mapping[str, Sequence[str]], timeout: float) -> list[str]:
    """The names whose TXT values this nameserver does not (yet) serve in full."""
    import dns.exception

    missing = []
    for name, values in records.items():
        try:
            served = {b"".join(rdata.strings).decode("ascii", "replace")
                      for rdata in _answers(_query(name, "TXT", nameserver.address, nameserver.port, timeout), "TXT")}
        except (dns.exception.DNSException, OSError):
            served = set()
        if not set(values) <= served:
            missing.append(name)
    return missing


def wait_until_served(records: Mapping[str, Sequence[str]], nameservers: Sequence[Nameserver], *,
                      timeout: float = 120.0, progress: Progress = no_progress, cancel: CancelToken | None = None,
                      backoff: Backoff | None = None, query_timeout: float = 2.0) -> None:
    """Return once every nameserver serves every TXT value; raise ``PropagationTimeout`` after ``timeout``."""
    cancel = cancel or CancelToken()
    backoff = backoff or Backoff(first=0.02, maximum=2.0)
    deadline = Deadline(timeout)
    with ThreadPoolExecutor(max_workers=min(8, max(1, len(nameservers)))) as pool:
        while True:
            cancel.check()
            results = list(pool.map(lambda ns: (ns, _missing_at(ns, records, query_timeout)), nameservers))
            lagging = [f"{ns} lacks {', '.join(missing)}" for ns, missing in results if missing]
            if not lagging:
                progress("propagate", f"all {len(nameservers)} authoritative nameservers serve the records")
                return
            if deadline.passed:
                raise PropagationTimeout(f"after {timeout:g} s, not every authoritative nameserver serves the "
                                         f"challenge records: {'; '.join(lagging)}")
            progress("propagate", f"waiting for {len(lagging)} of {len(nameservers)} nameservers: {lagging[0]}")
            cancel.wait(min(backoff.interval(), deadline.remaining))
