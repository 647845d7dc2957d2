"""Domain & DNS step: does the domain point at this hub's reserved IP, the way Let's Encrypt will see it?

- ``wizard.dns.check`` — the concurrent DNS check (authoritative nameservers asked directly, public resolvers
  compared, CNAME chains, CAA), returning diagnoses;
- ``wizard.dns.reserved_ip`` — is the hub's public IP reserved/static, per provider;
- ``wizard.dns.reachability`` — TCP 80/443, the TLS certificate served, and ``/hub/api`` compared with the hub's own;
- ``wizard.dns.cli`` — ``tljh-wizard dns-check``.

Nothing heavy is imported here: dnspython loads only when a check runs.
"""
