"""``tljh-wizard dns-check DOMAIN --expect-ip IP``: does the domain point at the hub, as Let's Encrypt will see it?

Exit codes (for cron and monitoring): 0 every check ok, 1 warnings, 2 errors or refused input.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from wizard.dns.check import DEFAULT_RESOLVERS, DEFAULT_TIMEOUT

    parser.add_argument("domain", help="the hub's domain, e.g. hub.example.edu")
    parser.add_argument("--expect-ip", required=True, metavar="IP", help="the hub's reserved IPv4 address")
    parser.add_argument("--expect-ipv6", metavar="IP", help="the hub's IPv6 address, if the domain has AAAA records")
    parser.add_argument("--resolver", action="append", metavar="HOST[:PORT]",
                        help=f"a public resolver to compare with (repeatable; default {', '.join(DEFAULT_RESOLVERS)})")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"per-query timeout (default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--reach", action="store_true",
                        help="also connect to the IP: TCP 80/443, the TLS certificate, and GET /hub/api")
    parser.add_argument("--json", action="store_true", help="print the diagnoses as JSON")
    parser.epilog = ("examples:\n  tljh-wizard dns-check hub.example.edu --expect-ip 203.0.113.10\n"
                     "  tljh-wizard dns-check hub.example.edu --expect-ip 203.0.113.10 --resolver 9.9.9.9 --json\n"
                     "exit codes: 0 all ok, 1 warnings, 2 errors")


def run(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from wizard.diagnosis import exit_code, render_line, worst
    from wizard.dns.check import DEFAULT_RESOLVERS, DnsCheck, parse_server
    from wizard.fields import ValidationError, fqdn, ipv4, ipv6

    def valid(validator, value, key):
        try:
            return validator(value)
        except ValidationError as exc:
            raise exc.at(key) from None

    if not args.timeout > 0:
        raise ValidationError("expected a positive number of seconds", "--timeout")
    check = DnsCheck(valid(fqdn, args.domain, "DOMAIN"), valid(ipv4, args.expect_ip, "--expect-ip"),
                     valid(ipv6, args.expect_ipv6, "--expect-ipv6") if args.expect_ipv6 else None,
                     [valid(parse_server, r, "--resolver") for r in args.resolver or DEFAULT_RESOLVERS],
                     timeout=args.timeout, deadline=max(10.0, 4 * args.timeout))

    async def everything():
        diagnoses = await check.run()
        if args.reach:
            from wizard.dns.reachability import check_reachability

            diagnoses = diagnoses + await check_reachability(check.domain, check.expect_ipv4,
                                                             timeout=max(args.timeout, 3.0))
        return diagnoses

    diagnoses = asyncio.run(everything())
    if args.json:
        print(json.dumps({"domain": check.domain, "expect_ip": check.expect_ipv4, "expect_ipv6": check.expect_ipv6,
                          "resolvers": [str(server) for server in check.resolvers], "status": worst(diagnoses).value,
                          "diagnoses": [diagnosis.to_json() for diagnosis in diagnoses]}, indent=1))
    else:
        print(f"{check.domain} should point at {check.expect_ipv4}"
              + (f" and {check.expect_ipv6}" if check.expect_ipv6 else "")
              + f" (resolvers: {', '.join(str(server) for server in check.resolvers)})")
        for diagnosis in diagnoses:
            print(render_line(diagnosis))
        counts = {status: sum(d.status.value == status for d in diagnoses) for status in ("ok", "warning", "error")}
        print(f"{counts['ok']} ok, {counts['warning']} warning(s), {counts['error']} error(s)")
    return exit_code(diagnoses)
