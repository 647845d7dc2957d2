"""Authenticator: the OAuth callback URL to register, what a switch of authenticator means for existing users, and
who can log in, computed by the authenticator's own code (``wizard.access``)."""

from __future__ import annotations

from wizard.context import Progress, WizardContext, no_progress
from wizard.diagnosis import Diagnosis, Status


def access_checks(ctx: WizardContext, progress: Progress = no_progress) -> list[Diagnosis]:
    """The Authenticator step's checks: the exact OAuth callback URL to register, a warning when switching from
    FirstUse to Native would make every user sign up again, and the who-can-log-in preview computed by the hub's own
    authenticator code (``wizard.access``) with its preflight findings."""
    from wizard import access
    from wizard.tljh import config as tljh_config

    answers = ctx.answers
    kind = answers.get("authenticator.type")
    out: list[Diagnosis] = []
    url = tljh_config.oauth_callback_url(answers)
    if kind in ("github", "google", "generic") and url:
        out.append(Diagnosis("access.callback", Status.OK, f"register this callback URL with the provider: {url}",
                             details="http:// until HTTPS is on (the HTTPS step); the wizard updates it when HTTPS is "
                                     "switched on in the same apply, and you must update it at the provider too."))
    facts_config = getattr(ctx.facts, "config", None) if ctx.facts is not None else None
    current = str(((facts_config or {}).get("auth") or {}).get("type") or "") if isinstance(facts_config, dict) else ""
    current = current or ("firstuseauthenticator.FirstUseAuthenticator" if ctx.facts is not None else "")
    if current.endswith("FirstUseAuthenticator") and kind == "native":
        if answers.get("authenticator.import_from_firstuse"):
            out.append(Diagnosis("access.switch", Status.OK, "FirstUse users and passwords are imported into Native"))
        else:
            out.append(Diagnosis("access.switch", Status.WARNING, "switching from FirstUse to Native: every existing "
                                 "user must sign up again (and be approved)",
                                 fix="set Import FirstUse users (authenticator.import_from_firstuse) to keep them"))
    elif current and kind and not current.endswith(tljh_config.AUTH_CLASSES[kind].rsplit(".", 1)[1]):
        out.append(Diagnosis("access.switch", Status.OK, f"switching from {current.rsplit('.', 1)[-1]}: existing hub "
                             "users keep their servers and files when the new authenticator gives the same user name"))
    progress("access", "who can log in: running the authenticator's own code")
    try:
        base = ctx.facts.config_text if ctx.facts is not None and ctx.facts.config_text else ""
        config = access.rendered_config(answers, base)
        preview = access.preview(config, target=ctx.target)
    except Exception as exc:  # shown as a row, never a crash
        return out + [Diagnosis(access.PREVIEW, Status.SKIPPED, ctx.redact(f"who can log in: not computed — "
                                                                           f"{type(exc).__name__}: {exc}"))]
    return out + preview.diagnoses(allow_all_confirmed=access.allow_all_confirmed(answers))


def access_preview(ctx: WizardContext, new_text: str) -> tuple[str, list[str]]:
    """Who can log in with the config an apply would write (Review): the table, and the preflight's errors that block
    the apply (the authenticator cannot be constructed, nobody or an unconfirmed everybody can log in). Never raises."""
    import json

    from wizard import access, yamlio

    try:
        data = yamlio.loads(new_text, "config.yaml") if new_text.strip() else {}
        config = json.loads(json.dumps(data if isinstance(data, dict) else {}, default=str))
        preview = access.preview(config, target=ctx.target)
        findings = preview.diagnoses(allow_all_confirmed=access.allow_all_confirmed(ctx.answers))
    except Exception as exc:
        return ctx.redact(f"Who can log in: not computed — {type(exc).__name__}: {exc}"), []
    warnings = [f"  {d.status.value.upper()}: {d.summary}" for d in findings if d.status is Status.WARNING]
    errors = [f"who can log in: {d.summary}" + (f" (fix: {d.fix})" if d.fix else "") for d in findings
              if d.status is Status.ERROR]
    return "\n".join([preview.table()] + warnings), errors

