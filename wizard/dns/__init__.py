"""Domain & DNS step: does the domain point at this hub's reserved IP, the way Let's Encrypt will see it?

- ``wizard.dns.check`` — the concurrent DNS check (authoritative nameservers asked directly, lame delegations
  found at the parent, public resolvers compared, DNSSEC failures, CNAME chains, CAA), returning diagnoses;
- ``wizard.dns.caa`` — CAA judged as Let's Encrypt's CA software judges it, per HTTPS mode and ACME account (its
  module docstring holds the rules table, with sources and tests);
- ``wizard.dns.reserved_ip`` — is the hub's public IP reserved/static, per provider;
- ``wizard.dns.reachability`` — TCP 80/443, the TLS certificate served, and ``/hub/api`` compared with the hub's own;
- ``wizard.dns.cli`` — ``tljh-wizard dns-check`` (and ``domain_from_input``: a pasted URL or Unicode name -> the
  host name to check, with notes).

Every function takes plain values, so front-ends wire them from the answers and the hub's facts::

    check = DnsCheck(answers.get("domain.name"), answers.get("domain.reserved_ipv4"),
                     answers.get("domain.reserved_ipv6"), answers.get("domain.resolvers") or DEFAULT_RESOLVERS,
                     accounts=known_accounts(session, target), https_mode=answers.get("https.mode"))
    diagnoses = await check.run()                       # or check_domain(...) from a thread
    diagnoses.append(check_reserved_ip(answers.get("domain.reserved_ipv4"), facts.cloud.get("public_ip"),
                                       facts.cloud.get("provider"), provider_says_reserved,
                                       answers.get("domain.ip_reserved_confirmed"), facts.reserved_ip))
    hub_api = hub_own_answer(target, hub_api_url(target, config_text))   # over SSH, in a worker thread
    diagnoses += await check_reachability(domain, reserved_ipv4, hub_api=hub_api)

where ``provider_says_reserved`` is True when the facts carry a reserved IP (DigitalOcean), False when DigitalOcean's
metadata says none is attached, and None otherwise. ``explanation(provider, ip)`` is the text to show before asking
the operator to confirm the IP is reserved.

Nothing heavy is imported here: dnspython and cryptography load only when a check runs.
"""
