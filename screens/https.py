"""Step 4, HTTPS: how the hub gets its certificate; issuance is gated on the DNS checks."""

from __future__ import annotations

from screens import engines
from screens.step import StepScreen


class HttpsScreen(StepScreen):
    step_id = "https"
    intro = ("letsencrypt (default): TLJH's proxy gets the certificate, staging first. acme-dns: the wizard issues "
             "it with DNS-01 over RFC 2136. existing: your own certificate and key, checked before use.")
    check = staticmethod(engines.https_checks)
