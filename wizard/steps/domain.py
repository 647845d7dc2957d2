"""Domain & DNS: the records at every authoritative server and the resolvers, whether the IP is reserved, and
whether ports 80/443 are reachable from here."""

from __future__ import annotations

from wizard.context import Progress, WizardContext, no_progress
from wizard.diagnosis import Diagnosis, Status
from wizard.steps.connect import facts_needed


def domain_checks(ctx: WizardContext, progress: Progress = no_progress) -> list[Diagnosis]:
    """DNS at every authoritative server and the resolvers, whether the IP is reserved, and reachability."""
    import asyncio

    from wizard.dns.caa import known_accounts
    from wizard.dns.check import check_domain
    from wizard.dns.reachability import check_reachability
    from wizard.dns.reserved_ip import check_reserved_ip

    facts_missing = facts_needed(ctx, progress)
    answers = ctx.answers
    domain = answers.get("domain.name")
    ipv4, ipv6 = answers.get("domain.reserved_ipv4"), answers.get("domain.reserved_ipv6")
    progress("dns", f"asking the authoritative nameservers and resolvers about {domain}")
    # CAA may admit only one ACME account: compare with the accounts that would order (read-only).
    accounts = known_accounts(ctx.session, ctx.target if ctx.mode != "sandbox" else None)
    unreachable = ctx.mode == "sandbox" or ctx.options.skip_reachability
    probe = None if unreachable else 443
    out = check_domain(domain, ipv4, ipv6, resolvers=answers.get("domain.resolvers"), accounts=accounts,
                       https_mode=answers.get("https.mode"), probe_port=probe,
                       nameserver_port=ctx.options.nameserver_port)
    facts = ctx.facts
    if facts is not None:
        public_ip = facts.public_ip if facts.public_ip != "unknown" else None
        provider = facts.provider if facts.provider != "unknown" else None
        says = None if facts.reserved_ip is None and provider != "digitalocean" else bool(facts.reserved_ip)
        out.append(check_reserved_ip(ipv4, public_ip, provider, says, bool(answers.get("domain.ip_reserved_confirmed")),
                                     facts.reserved_ip))
    else:
        out.append(check_reserved_ip(ipv4, None, None, None, bool(answers.get("domain.ip_reserved_confirmed"))))
    if unreachable:
        out.append(Diagnosis("reach", Status.SKIPPED, "reachability not checked: "
                             + ("the demo's hub is a sandbox on this machine" if ctx.mode == "sandbox"
                                else "switched off for this run")))
    else:
        progress("reach", f"probing {ipv4} ports 80 and 443")
        out += asyncio.run(check_reachability(domain, ipv4, None,
                                              before_https=answers.get("https.mode") in (None, "none")
                                              or not ctx.session.record("https.certificate")))
    ctx.dns_diagnoses = out
    return facts_missing + out

