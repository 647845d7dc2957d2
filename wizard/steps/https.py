"""HTTPS: whether a certificate can be had (the DNS gate, port 443, who holds ports 80/443, or the operator's own
files judged), and TLJH behind another web server. Read-only: the certificate is ordered and installed by apply, as
actions of the reviewed plan (``wizard.https.work``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wizard.context import Progress, WizardContext, no_progress
from wizard.diagnosis import Diagnosis, Status
from wizard.steps.domain import domain_checks

if TYPE_CHECKING:
    from wizard.answers import Answers


def https_checks(ctx: WizardContext, progress: Progress = no_progress) -> list[Diagnosis]:
    """Whether a certificate can be had: the DNS gate and port 443 (ACME modes), or the operator's files judged."""
    answers = ctx.answers
    mode = answers.get("https.mode")
    if answers.get("https.web_ports") == "behind":
        return [behind_diagnosis(answers)]
    held = web_ports_findings(ctx, progress) if mode != "none" else []
    return held + _https_checks(ctx, progress)


def _https_checks(ctx: WizardContext, progress: Progress = no_progress) -> list[Diagnosis]:
    answers = ctx.answers
    mode = answers.get("https.mode")
    if mode == "none":
        return [Diagnosis("https.mode", Status.WARNING, "HTTPS is off: logins and notebooks travel in plain text",
                          fix="choose letsencrypt, acme-dns or existing unless the hub sits behind a TLS proxy")]
    if mode == "existing":
        from wizard.https.existing import check_existing_files
        from wizard.tljh.config import certificate_domains

        return list(check_existing_files(answers.get("https.cert_path"), answers.get("https.key_path"),
                                         certificate_domains(answers)))
    if ctx.mode == "sandbox":
        return [Diagnosis("https.gate", Status.SKIPPED, "the demo's sandbox hub cannot be reached by a CA: no "
                          "certificate is requested (config.yaml still gets the HTTPS settings)")]
    from wizard.https.letsencrypt import LetsEncryptEnvironment, gate

    progress("dns", "re-running the DNS check (issuance is gated on it)")
    dns_diagnoses = [d for d in domain_checks(ctx, progress) if d.id.startswith("dns.")]
    results = gate(ctx.session, dns_diagnoses, ctx.options.letsencrypt_env or LetsEncryptEnvironment())
    if mode == "acme-dns":  # DNS-01 needs no inbound port
        results = [d for d in results if d.id != "https.port443"]
    return results


def behind_diagnosis(answers: Answers) -> Diagnosis:
    """TLJH behind another web server: where TLJH listens, and that server's reverse-proxy site (``--details``)."""
    from wizard.tljh.behind import snippet

    port, address = answers.get("https.behind_port") or 8080, answers.get("https.behind_address") or "127.0.0.1"
    front = answers.get("https.front_server") or "nginx"
    return Diagnosis("https.behind", Status.OK, f"TLJH's proxy will listen on {address}:{port} (plain HTTP); {front} "
                     "keeps ports 80/443 and the certificate, and forwards to it",
                     details=snippet(front, answers.get("domain.name") or "HUB.EXAMPLE.EDU", port, address),
                     data={"port": port, "address": address, "front_server": front})


def web_ports_findings(ctx: WizardContext, progress: Progress = no_progress) -> list[Diagnosis]:
    """Who holds ports 80/443 on the hub (``wizard.audit.host.ports_finding``; one round trip): another program there
    stops TLJH's proxy from serving HTTPS, so the step offers the ways out (https.web_ports)."""
    from wizard.audit import host, hubfacts
    from wizard.hub.target import HubError

    if ctx.target is None or ctx.mode == "sandbox":
        return []
    progress("ports", "asking the hub who listens on ports 80 and 443")
    try:
        facts = hubfacts.gather(ctx.target, hubfacts.Sources(only=("listeners",),
                                                            ports=tuple(ctx.options.web_ports)))
    except (HubError, ValueError) as exc:
        return [Diagnosis(host.PORTS, Status.SKIPPED, f"ports 80/443 not checked: {ctx.redact(str(exc))}")]
    finding = host.ports_finding(facts, {"https": {"enabled": True}})
    foreign = finding.data.get("foreign")
    ctx.web_ports_held = list(foreign or [])  # Review refuses to plan while another program holds them
    if foreign and ctx.answers.get("https.web_ports") == "stop":
        names = ", ".join(foreign)
        return [Diagnosis(host.PORTS, Status.WARNING, f"{names} still holds ports 80/443: stop it before applying",
                          fix=f"`sudo systemctl disable --now {host._service_name(foreign)}` on the hub",
                          data=finding.data)]
    if foreign:
        finding.fix = ("choose Ports 80/443 = behind (TLJH behind it, which then holds the certificate) or stop "
                       "(you stop it first); or stop it now and check again")
        return [finding]
    if finding.status is Status.ERROR:  # nothing listens yet: TLJH's proxy starts at apply
        return [Diagnosis(host.PORTS, Status.OK, "no other program holds ports 80/443", data=finding.data)]
    return [finding]
