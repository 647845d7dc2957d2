"""``tljh-wizard dns-check DOMAIN --expect-ip IP``: does the domain point at the hub, as Let's Encrypt will see it?

DOMAIN may be pasted as a URL (``https://hub.example.edu/hub/``: its host name is checked) or in Unicode (checked
in its IDNA form, ``xn--...``); each such reading is shown as a note. With ``--json`` the output is always one JSON
object — refused input included: ``{"error": MESSAGE, "field": NAME}`` — so monitoring can parse it.

Exit codes (for cron and monitoring): 0 every check ok, 1 warnings, 2 errors or refused input.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, Callable, NoReturn, Sequence, TypeVar

if TYPE_CHECKING:
    from wizard.diagnosis import Diagnosis
    from wizard.dns.check import DnsCheck

T = TypeVar("T")

HTTPS_MODES = ("letsencrypt", "acme-dns")


def _shown(text: str) -> str:
    from wizard.fields import _cut  # the Domain field's quoting: one form for a refused value here and there

    return _cut(text)


def domain_from_input(text: str) -> tuple[str, list[str]]:
    """What an operator typed or pasted -> (the host name to check, notes saying how it was read):
    :func:`wizard.fields.domain_input`, the Domain field's own reading. Raises ``ValidationError``."""
    from wizard.fields import domain_input

    return domain_input(str(text or ""), verb="checking")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from wizard.dns.check import DEFAULT_RESOLVERS, DEFAULT_TIMEOUT

    parser.add_argument("domain", nargs="?", default="",
                        help="the hub's domain, e.g. hub.example.edu (a pasted URL or a Unicode name is read as its "
                             "host name / IDNA form, with a note)")
    parser.add_argument("--expect-ip", metavar="IP", help="the hub's reserved IPv4 address (required)")
    parser.add_argument("--expect-ipv6", metavar="IP", help="the hub's IPv6 address, if the domain has AAAA records")
    parser.add_argument("--resolver", action="append", metavar="HOST[:PORT]",
                        help=f"a public resolver to compare with (repeatable; default {', '.join(DEFAULT_RESOLVERS)})")
    parser.add_argument("--https-mode", metavar="MODE",
                        help="the HTTPS mode that will order the certificate (letsencrypt: TLJH's Traefik, "
                             "TLS-ALPN-01; acme-dns: the wizard's DNS-01 client); CAA is judged for it, else for "
                             "both")
    parser.add_argument("--account-uri", metavar="URI",
                        help="the ACME account URI that mode orders with, compared with a CAA accounturi "
                             "(needs --https-mode)")
    parser.add_argument("--timeout", default=str(DEFAULT_TIMEOUT), metavar="SECONDS",
                        help=f"per-query timeout (default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--reach", action="store_true",
                        help="also connect to the IP: TCP 80/443, the TLS certificate, and GET /hub/api (and to "
                             "an AAAA address that is not the hub's, to tell whether Let's Encrypt would use it)")
    parser.add_argument("--json", action="store_true", help="print the diagnoses as JSON")
    _json_usage_errors(parser)
    parser.epilog = ("examples:\n  tljh-wizard dns-check hub.example.edu --expect-ip 203.0.113.10\n"
                     "  tljh-wizard dns-check hub.example.edu --expect-ip 203.0.113.10 --resolver 9.9.9.9 --json\n"
                     "exit codes: 0 all ok, 1 warnings, 2 errors")


def _json_usage_errors(parser: argparse.ArgumentParser) -> None:
    """With ``--json`` among the arguments, argparse's own refusals (an unknown option, an option without its
    value) are printed as a JSON object too, exit code 2, like every other refusal."""
    import sys

    parse = parser.parse_args

    def parse_args(args: Sequence[str] | None = None,
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        argv = list(sys.argv[1:] if args is None else args)
        if "--json" in argv:
            def error(message: str) -> NoReturn:
                import json
                import re

                named = re.match(r"argument ([^:]+): ", message)
                field = named.group(1).split("/")[0] if named else ("arguments" if "unrecognized" in message
                                                                     else "")
                print(json.dumps({"error": message, "field": field}))
                sys.exit(2)

            parser.error = error  # type: ignore[method-assign]  # this parse only: its refusal as JSON
        return parse(argv, namespace)

    parser.parse_args = parse_args  # type: ignore[method-assign, assignment]  # sees --json before argparse refuses


def run(args: argparse.Namespace) -> int:
    import json

    from wizard.fields import ValidationError

    try:
        check, notes = _check_from(args)
    except ValidationError as exc:
        if not args.json:
            raise
        print(json.dumps({"error": exc.message, "field": exc.key}))
        return 2
    return _run(args, check, notes)


def _check_from(args: argparse.Namespace) -> tuple[DnsCheck, list[str]]:
    import math

    from wizard.dns.caa import Account
    from wizard.dns.check import DEFAULT_RESOLVERS, DnsCheck, parse_server
    from wizard.fields import ValidationError, ipv4, ipv6

    def valid(validator: Callable[[Any], T], value: Any, key: str) -> T:
        try:
            return validator(value)
        except ValidationError as exc:
            raise exc.at(key) from None

    domain, notes = valid(domain_from_input, args.domain, "DOMAIN")
    if not args.expect_ip:
        raise ValidationError("required: the hub's reserved IPv4 address, e.g. --expect-ip 203.0.113.10",
                              "--expect-ip")
    try:
        timeout = float(args.timeout)
    except (TypeError, ValueError):
        timeout = float("nan")
    if not (math.isfinite(timeout) and timeout > 0):
        raise ValidationError("expected a positive number of seconds", "--timeout")
    if args.https_mode is not None and args.https_mode not in HTTPS_MODES:
        raise ValidationError(f"{_shown(args.https_mode)} is not one of {', '.join(HTTPS_MODES)}", "--https-mode")
    accounts = {mode: Account(None, "not given: dns-check reads no hub; pass --https-mode and --account-uri")
                for mode in HTTPS_MODES}
    if args.account_uri is not None:
        if args.https_mode is None:
            raise ValidationError("say which mode orders with this account (--https-mode)", "--account-uri")
        if not args.account_uri.startswith("https://") or any(c.isspace() for c in args.account_uri):
            raise ValidationError(f"{_shown(args.account_uri)} is not an account URI, e.g. "
                                  "https://acme-v02.api.letsencrypt.org/acme/acct/1234567", "--account-uri")
        accounts[args.https_mode] = Account(args.account_uri, "--account-uri")
    check = DnsCheck(domain, valid(ipv4, args.expect_ip, "--expect-ip"),
                     valid(ipv6, args.expect_ipv6, "--expect-ipv6") if args.expect_ipv6 else None,
                     [valid(parse_server, r, "--resolver") for r in args.resolver or DEFAULT_RESOLVERS],
                     timeout=timeout, deadline=max(10.0, 4 * timeout), accounts=accounts,
                     https_mode=args.https_mode, probe_port=443 if args.reach else None)
    return check, notes


def _run(args: argparse.Namespace, check: DnsCheck, notes: list[str]) -> int:
    import asyncio
    import json

    from wizard.diagnosis import exit_code, render_line, worst

    async def everything() -> list[Diagnosis]:
        diagnoses = await check.run()
        if args.reach:
            from wizard.dns.reachability import check_reachability

            diagnoses = diagnoses + await check_reachability(check.domain, check.expect_ipv4,
                                                             timeout=max(check.timeout, 3.0))
        return diagnoses

    diagnoses = asyncio.run(everything())
    if args.json:
        print(json.dumps({"domain": check.domain, "input": args.domain, "notes": notes,
                          "expect_ip": check.expect_ipv4, "expect_ipv6": check.expect_ipv6,
                          "resolvers": [str(server) for server in check.resolvers], "status": worst(diagnoses).value,
                          "diagnoses": [diagnosis.to_json() for diagnosis in diagnoses]}, indent=1))
    else:
        for note in notes:
            print(f"note: {note}")
        print(f"{check.domain} should point at {check.expect_ipv4}"
              + (f" and {check.expect_ipv6}" if check.expect_ipv6 else "")
              + f" (resolvers: {', '.join(str(server) for server in check.resolvers)})")
        for diagnosis in diagnoses:
            print(render_line(diagnosis))
        counts = {status: sum(d.status.value == status for d in diagnoses) for status in ("ok", "warning", "error")}
        print(f"{counts['ok']} ok, {counts['warning']} warning(s), {counts['error']} error(s)")
    return exit_code(diagnoses)
