"""Benchmark of the DNS check: concurrent vs. the same queries one after another, and the cost of a dead resolver.

Runs against the test rig's real BIND 9 servers (as root: authoritative nameservers on port 53 of loopback
aliases, recursive resolvers on 127.0.0.1). Loopback answers in microseconds, which would measure Python rather
than the network, so UDP relays add a fixed delay modelling typical distances: public resolvers 15 ms away
(anycast, near), the two authoritative nameservers 60 ms and 90 ms away. The relays' delays are documented on the
line before the result.

- seconds (S): one full check of one domain (median of several runs, resolver caches warm);
- sequential_seconds (Q): the very queries of that check, sent one after another;
- slowest_query_seconds (W): the slowest of those queries, each timed alone;
- dead_resolver_seconds (D): a full check with one more resolver that never answers; timeout (T): per query.

Targets: S <= 1.5 x W (concurrency: the check costs about its slowest query, not the sum; a check must first ask
a resolver for the zone's nameservers, then ask them, so S >= resolver + nameserver latency) and D <= T + 0.5.

The last line of output is one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, this file's directory comes first on sys.path, where "dns" would mean this very file rather than
# dnspython: put the project root there instead.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from tests.rig.bind import DnsWorld, ZoneSpec  # noqa: E402
from wizard.dns.check import DEFAULT_TIMEOUT, DnsCheck, Querier  # noqa: E402

DOMAIN = "hub.bench.test"
HUB_V4 = "203.0.113.10"
RESOLVER_DELAY = 0.015
NAMESERVER_DELAYS = (0.060, 0.090)
RUNS = 7
ZONES = {"bench.test": ZoneSpec(f'@ IN CAA 0 issue "letsencrypt.org"\nhub IN A {HUB_V4}\n'
                                f"hub IN AAAA 2001:db8::10")}


async def full_check(resolvers, timeout=DEFAULT_TIMEOUT) -> DnsCheck:
    check = DnsCheck(DOMAIN, HUB_V4, "2001:db8::10", resolvers, timeout=timeout)
    await check.run()
    return check


async def one_after_another(replies) -> tuple[float, float]:
    """The same queries, each sent only after the previous one's answer: (total, slowest)."""
    querier = Querier(DEFAULT_TIMEOUT, deadline=600)
    started = time.monotonic()
    slowest = 0.0
    for reply in replies:
        single = time.monotonic()
        await querier.ask(reply.server, reply.qname, reply.rdtype, reply.recurse)
        slowest = max(slowest, time.monotonic() - single)
    return time.monotonic() - started, slowest


async def measure(world: DnsWorld) -> dict:
    await full_check(world.resolvers)  # warm the resolvers' caches, as public resolvers are for popular zones
    runs = []
    for _ in range(RUNS):
        started = time.monotonic()
        check = await full_check(world.resolvers)
        runs.append(time.monotonic() - started)
        assert {d.status.value for d in check.diagnoses} == {"ok"}, [d.summary for d in check.diagnoses]
    sequential, slowest = await one_after_another(check.replies)
    started = time.monotonic()
    dead = await full_check([*world.resolvers, world.dead_resolver])
    dead_seconds = time.monotonic() - started
    dead_named = next(d for d in dead.diagnoses if d.id == "dns.resolvers")
    assert world.dead_resolver in dead_named.summary, dead_named.summary
    return {"queries": len(check.replies), "seconds": round(statistics.median(runs), 4),
            "sequential_seconds": round(sequential, 4), "slowest_query_seconds": round(slowest, 4),
            "dead_resolver_seconds": round(dead_seconds, 4), "timeout": DEFAULT_TIMEOUT}


def main() -> int:
    with tempfile.TemporaryDirectory() as workdir:
        with DnsWorld(Path(workdir) / "plain", ZONES) as world:
            plain = asyncio.run(measure(world))
        print(f"bare loopback (no modelled latency): {json.dumps(plain)}")
        with DnsWorld(Path(workdir) / "modelled", ZONES, nameserver_delays=NAMESERVER_DELAYS,
                      resolver_delay=RESOLVER_DELAY) as world:
            result = asyncio.run(measure(world))
    print(f"modelled latency: resolvers {RESOLVER_DELAY * 1000:g} ms, nameservers "
          f"{', '.join(f'{d * 1000:g}' for d in NAMESERVER_DELAYS)} ms")
    ratio = result["seconds"] / result["slowest_query_seconds"]
    print(f"S/W = {ratio:.2f} (target <= 1.5); D - T = {result['dead_resolver_seconds'] - result['timeout']:.3f} s "
          "(target <= 0.5); Q/S = {:.1f}".format(result["sequential_seconds"] / result["seconds"]))
    print(json.dumps({"bench": "dns", **result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
