"""Benchmark of `tljh-wizard check`: the whole audit vs its slowest probe run alone, with modelled network latency.

The audit runs against the test rig's real servers: BIND 9 (the domain's authoritative nameservers and two
resolvers, as in bench/dns.py), the rig's sshd (the hub, one SSH connection), and a TLS/HTTP front serving the test
PKI's certificate with HSTS and a redirect (tests/rig/web.py). Loopback answers in microseconds, so relays add a
fixed delay modelling typical distances: the hub 40 ms away each way (an 80 ms round trip, a VM in another region;
tests/rig/latency.py for TCP — TCP's own handshake is not delayed), public resolvers 15 ms, the authoritative
nameservers 60 ms and 90 ms. The hub-side sources that depend on this machine's state rather than on the hub's
(pending apt updates: ``apt-get -s`` costs seconds of CPU here; the kernel and auth logs; whether unattended-upgrades
is installed) are files, as in the rig tests; ports (``ss``), disks, ``sshd -T`` and config.yaml are read for real.

- check_seconds (C): the whole audit (median of RUNS), every probe of ``wizard.audit.checks.PROBES``;
- slowest_probe_seconds (W): each probe run alone with what it needs (the hub probes include connecting), the
  median of RUNS each; the slowest of them;
- hub_fact_round_trips: SSH round trips of the hub-facts probe (target: 1), and round_trips of the whole audit.

Target: C <= 1.5 x W (the probes overlap: the audit costs about its slowest probe, not the sum). The last line of
output is one JSON object.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)

from tests.answers_samples import documents  # noqa: E402
from tests.rig.bind import DnsWorld, ZoneSpec  # noqa: E402
from tests.rig.latency import TcpDelayRelay  # noqa: E402
from tests.rig.pki import TestPKI  # noqa: E402
from tests.rig.sshd import running_sshd  # noqa: E402
from tests.rig.web import WebFront  # noqa: E402
from wizard.answers import Answers  # noqa: E402
from wizard.audit import checks, hubfacts  # noqa: E402
from wizard.hub.ssh import SSHTarget  # noqa: E402

DOMAIN = "hub.bench.test"
HUB_V4 = "203.0.113.10"
HUB_DELAY = 0.040  # one way
RESOLVER_DELAY = 0.015
NAMESERVER_DELAYS = (0.060, 0.090)
RUNS = 5
ZONES = {"bench.test": ZoneSpec(f'@ IN CAA 0 issue "letsencrypt.org"\nhub IN A {HUB_V4}\n')}


def sources(folder: Path, sshd_config: Path) -> hubfacts.Sources:
    folder.mkdir(mode=0o755)
    (folder / "empty").write_text("")
    (folder / "apt-config").write_text('APT::Periodic::Unattended-Upgrade "1";\n')
    (folder / "unattended-upgrade").write_text("#!/bin/sh\n")
    return hubfacts.Sources(files={"apt_simulation": str(folder / "empty"), "kernel_log": str(folder / "empty"),
                                   "auth_log": str(folder / "empty"), "apt_config": str(folder / "apt-config")},
                            sshd_config=str(sshd_config), unattended_binary=str(folder / "unattended-upgrade"))


def median_seconds(action, runs: int = RUNS) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.monotonic()
        result = action()
        times.append(time.monotonic() - started)
    return statistics.median(times), result


def main() -> int:
    with tempfile.TemporaryDirectory() as workdir:
        work = Path(workdir)
        work.chmod(0o755)
        pki = TestPKI("Bench")
        leaf = pki.leaf(DOMAIN)
        (work / "roots.pem").write_bytes(pki.root_pem)
        (work / "sshd").mkdir(mode=0o700)
        with DnsWorld(work / "dns", ZONES, nameserver_delays=NAMESERVER_DELAYS,
                      resolver_delay=RESOLVER_DELAY) as world, \
                running_sshd(work / "sshd", work / "tljh") as hub, \
                WebFront(work / "tls", chain_pem=pki.fullchain(leaf), key_pem=leaf.key_pem,
                         hsts="max-age=31536000") as secure, \
                WebFront(work / "http", redirect_to=f"https://{DOMAIN}") as plain, \
                TcpDelayRelay((hub.host, hub.port), HUB_DELAY) as ssh_relay, \
                TcpDelayRelay(("127.0.0.1", secure.port), HUB_DELAY) as tls_relay, \
                TcpDelayRelay(("127.0.0.1", plain.port), HUB_DELAY) as http_relay:
            known = work / "known_hosts"
            known.write_text(f"[127.0.0.1]:{ssh_relay.port} {hub.host_public_key}\n")
            public, secret = documents("github", "existing")
            public["domain"] = {"name": DOMAIN, "reserved_ipv4": HUB_V4, "ip_reserved_confirmed": True,
                                "resolvers": world.resolvers}
            subject = checks.AuditSubject("bench", Answers.from_documents(public, secret), {}, work / "session")
            options = checks.AuditOptions(tls_address=f"127.0.0.1:{tls_relay.port}",
                                          http_address=f"127.0.0.1:{http_relay.port}", ca_file=str(work / "roots.pem"),
                                          sources=sources(work / "host", hub.log.parent / "sshd_config"))
            targets: list[SSHTarget] = []

            def factory() -> SSHTarget:
                target = SSHTarget("127.0.0.1", port=ssh_relay.port, user=hub.admin.name,
                                   key_file=str(hub.client_key), allow_agent=False, look_for_keys=False,
                                   known_hosts_files=[known], prefix=str(hub.prefix))
                targets.append(target)
                return target

            def run(only=None):
                options.probes = only
                return checks.audit(subject, options, factory)

            findings = run()  # warm the resolvers' caches, as public resolvers are for popular zones
            problems = {f.id: f.summary for f in findings if f.status.value in ("warning", "error")}
            check_seconds, findings = median_seconds(run)
            round_trips = targets[-1].round_trips
            per_probe = {}
            for probe in checks.PROBES:
                if probe.findings:
                    per_probe[probe.name] = round(median_seconds(lambda name=probe.name: run((name,)))[0], 4)
            run(("hub.facts",))
            fact_trips = targets[-1].round_trips
    slowest = max(per_probe, key=per_probe.get)
    print(f"modelled latency: hub {HUB_DELAY * 2000:g} ms round trip, resolvers {RESOLVER_DELAY * 1000:g} ms, "
          f"nameservers {', '.join(f'{d * 1000:g}' for d in NAMESERVER_DELAYS)} ms")
    print(f"findings: {len(findings)}; not ok: {json.dumps(problems)}")
    print("each probe alone: " + ", ".join(f"{name} {seconds:.3f} s" for name, seconds in per_probe.items()))
    ratio = check_seconds / per_probe[slowest]
    print(f"C = {check_seconds:.3f} s, W = {per_probe[slowest]:.3f} s ({slowest}); C/W = {ratio:.2f} (target <= 1.5); "
          f"hub-fact round trips = {fact_trips} (target 1); sum of probes alone = {sum(per_probe.values()):.3f} s")
    print(json.dumps({"bench": "check", "check_seconds": round(check_seconds, 4),
                      "slowest_probe_seconds": per_probe[slowest], "slowest_probe": slowest, "ratio": round(ratio, 3),
                      "hub_fact_round_trips": fact_trips, "audit_round_trips": round_trips,
                      "probe_seconds": per_probe, "findings": len(findings)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
