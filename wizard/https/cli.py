"""``tljh-wizard renew SESSION [--force]``: renew the certificate the wizard issued for a hub, when it is due.

Meant for cron: silent work, one line per outcome, exit 0 when renewed or not yet due, 2 on any failure (the old
certificate stays in place), 130 when interrupted. The hub is reached with the session's connection answers; the
host key must already be known (known_hosts, the wizard's own file, or the pinned fingerprint) — never accepted here.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wizard.hub.ssh import SSHTarget
    from wizard.session import Session


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("session", help="the session name (see `tljh-wizard sessions`), e.g. admin@hub.example.edu:22")
    parser.add_argument("--force", action="store_true", help="renew now, even if the renewal time has not come")
    parser.add_argument("--ca-bundle", metavar="PEM", help="CA bundle verifying the ACME server's HTTPS (a private "
                        "or test CA; default: the system's roots)")
    parser.add_argument("--trust-roots", metavar="PEM", help="roots the served certificate must chain to "
                        "(default: the system's roots)")
    parser.add_argument("--dns-port", type=int, default=53, metavar="PORT",
                        help="port of the zone's authoritative nameservers (default 53)")
    parser.add_argument("--verify-address", metavar="HOST:PORT",
                        help="where to check the served certificate (default: DOMAIN:443)")


def target_for(session: Session) -> SSHTarget:
    """The SSH target the session's connection answers describe (host key checked, never accepted here)."""
    from wizard.fields import ValidationError
    from wizard.hub.ssh import SSHTarget

    answers = session.answers
    if not answers.get("connection.host"):
        raise ValidationError(f"session {session.name} has no hub to reach over SSH (connection.host is not set)")
    return SSHTarget(answers.get("connection.host"), port=answers.get("connection.port") or 22,
                     user=answers.get("connection.user") or "root", key_file=answers.get("connection.key_file"),
                     key_passphrase=answers.get("connection.key_passphrase"),
                     sudo_password=answers.get("connection.sudo_password"),
                     pinned_host_key=answers.get("connection.host_key"),
                     prefix=answers.get("connection.tljh_prefix") or "/opt/tljh")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from wizard.diagnosis import Diagnosis, Status, exit_code, render_line
    from wizard.fields import ValidationError
    from wizard.https.acme_dns import AcmeDnsError
    from wizard.https.dnsupdate import DnsUpdateError, split_host_port
    from wizard.https.install import InstallError
    from wizard.https.issue import AcmeEnvironment, renew
    from wizard.https.propagation import PropagationTimeout
    from wizard.https.ratelimit import RateLimitRefused
    from wizard.hub.target import HubError
    from wizard.session import Session

    for option, path in (("--ca-bundle", args.ca_bundle), ("--trust-roots", args.trust_roots)):
        # Checked before anything is ordered: a mistyped path would otherwise surface only after the new
        # certificate was issued and installed, as a verification that times out.
        if path and not Path(path).expanduser().is_file():
            raise ValidationError(f"{option} {path}: no such file")
    verify = None
    if args.verify_address:
        from wizard.fields import host_port

        address = host_port(443)(args.verify_address)  # a ValidationError (one line, exit 2) for a bad value
        host, port = split_host_port(address, 443)
        verify = (host, port)
    env = AcmeEnvironment(ca_bundle=args.ca_bundle, trust_roots=args.trust_roots, nameserver_port=args.dns_port,
                          verify_address=verify)
    with Session.open(args.session, create=False) as session:
        log = session.logger()
        try:
            with target_for(session) as target:
                verdict = renew(session, target, env, force=args.force,
                                progress=lambda phase, message: log.info("renew %s: %s", phase, message))
        except (AcmeDnsError, DnsUpdateError, PropagationTimeout, RateLimitRefused, InstallError, HubError) as exc:
            verdict = Diagnosis("https.renew", Status.ERROR, f"renewal failed: {exc}",
                                fix="the certificate in place is unchanged; fix the cause and run renew again")
        log.info("renew: %s %s", verdict.status.value, verdict.summary)
    print(render_line(verdict))
    sys.stdout.flush()
    return 2 if verdict.status is Status.ERROR else exit_code([verdict])
