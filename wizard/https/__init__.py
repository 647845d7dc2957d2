"""The HTTPS step: certificates from TLJH's proxy (Let's Encrypt), from the wizard itself (ACME DNS-01), or from
the operator (existing files) — validated, installed on the hub and verified as served."""
