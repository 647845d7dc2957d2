"""The HTTPS step: certificates from TLJH's proxy (Let's Encrypt), from the wizard itself (ACME DNS-01), or from
the operator (existing files) — validated, installed on the hub and verified as served.

- ``letsencrypt``: mode letsencrypt — gate, staging, verify, clear acme.json, production, verify.
- ``issue``: modes acme-dns and existing end to end (issue or validate, install, verify, record) and ``renew``.
- ``acme_dns``: the DNS-01 ACME client; ``dnsupdate``: RFC 2136 + TSIG; ``propagation``: every nameserver serves it.
- ``existing``: judging an operator's chain and key; ``verify``: what a server really serves on 443.
- ``install``: files and ``https`` settings on the hub; ``ratelimit``: the production rate-limit guard.
- ``progress``: phases, progress callbacks, cancellation, back-off; ``cli``: ``tljh-wizard renew``.
"""
