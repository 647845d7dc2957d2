"""Step 4, HTTPS: how the hub gets its certificate. The step only checks (DNS gate, port 443, the operator's files);
the certificate is ordered and installed by apply, after Review, as actions of the reviewed plan."""

from __future__ import annotations

from screens.step import StepScreen
from wizard.steps import https as step_engine


class HttpsScreen(StepScreen):
    step_id = "https"
    intro = ("letsencrypt (default): TLJH's proxy gets the certificate, staging first. acme-dns: the wizard issues "
             "it with DNS-01 over RFC 2136. existing: your own certificate and key, checked before use. Nothing is "
             "requested or installed here: apply does it, after Review.")
    check = staticmethod(step_engine.https_checks)
