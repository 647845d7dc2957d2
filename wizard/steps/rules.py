"""Step-level validation, declared once for both front-ends: what a step refuses before its answers are accepted.

A field's own validator and its section's cross-field rules live with the answers (``wizard.answers``); what this
module adds is what only the hub can tell (``entry_error``: TLJH 2.0.0 takes whole CPUs only) and the whole
judgement of a step's sections (``section_errors``), which the Textual screens and the plain prompts both call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wizard.context import WizardContext

if TYPE_CHECKING:
    from collections.abc import Iterable

    from wizard.fields import ValidationError

# Fields no step's form asks, per run mode: the demo's hub is a tree the wizard made itself; on the hub itself
# there is no SSH. ``authenticator.insecure_confirmed`` is asked by its own question after the form.
_SSH_ONLY = frozenset({"host", "port", "user", "key_file", "key_passphrase", "host_key"})


def hub_tljh_version(ctx: WizardContext) -> str:
    """The TLJH schema the hub's install calls for (``wizard.tljh.config.TLJH_VERSIONS``): ``main`` for an install
    newer than 2.0.0 (the host facts' version, ``limits.tljh_accepts_fractional_cpu``), else ``2.0.0`` — also while
    the facts are unknown (the strictest). Entry rules and Review's plan use the same value, so Review never refuses
    what a step accepted."""
    from wizard import limits

    version = getattr(ctx.facts, "tljh_version", None)
    return "main" if version and limits.tljh_accepts_fractional_cpu(str(version)) else "2.0.0"


def entry_error(ctx: WizardContext, key: str, value: object) -> ValidationError | None:
    """A rule ``key`` can only know from the hub, for its accepted ``value``: a ``ValidationError`` or None. Today
    the CPU limit against the hub's TLJH version (``limits.cpu_for_tljh``: TLJH 2.0.0's schema takes whole CPUs
    only). Both front-ends apply it where the field is entered."""
    from wizard.fields import ValidationError

    if key == "limits.cpu" and value not in (None, ""):
        from wizard import limits

        version = hub_tljh_version(ctx)
        if version != "main":
            try:
                limits.cpu_for_tljh(value, version)
            except ValidationError as exc:
                return exc.at(key)
    return None


def entry_errors(ctx: WizardContext, section: str) -> list[ValidationError]:
    """``entry_error`` for every answered field of ``section``."""
    from wizard.answers import SECTIONS

    found = (entry_error(ctx, f"{section}.{item.name}", ctx.answers.get(f"{section}.{item.name}"))
             for item in SECTIONS[section].fields)
    return [error for error in found if error is not None]



def hidden_fields(ctx: WizardContext, section: str) -> frozenset[str]:
    """The fields of ``section`` a step's form does not ask in this run's mode (field names, no section)."""
    if section == "authenticator":
        return frozenset({"insecure_confirmed"})
    if section == "connection" and ctx.mode == "sandbox":
        return _SSH_ONLY | {"sudo_password", "tljh_prefix"}
    if section == "connection" and ctx.mode == "local":
        return _SSH_ONLY
    return frozenset()


def section_errors(ctx: WizardContext, section: str) -> list[ValidationError]:
    """Everything that stops ``section``'s answers being accepted at its step, each error keyed ``section.field``:
    a required field left empty, the section's cross-field rules (``wizard.answers.Section.rules``), and what only
    the hub tells (``entry_errors``). Fields the step does not ask (``hidden_fields``) are left out: they are asked
    elsewhere (a confirmation question) or not at all in this mode. Both front-ends call this when a step's form is
    confirmed."""
    from wizard.answers import SECTIONS
    from wizard.fields import ValidationError

    spec = SECTIONS[section]
    hidden = hidden_fields(ctx, section)
    answers = ctx.answers
    values = answers.section(section)
    errors = [ValidationError("a value is required", f"{section}.{item.name}") for item in spec.fields
              if item.name not in hidden and item.required and item.applies(values)
              and values.get(item.name) in (None, "", [])]
    errors += [error for error in spec.rules(values, answers)
               if error.key.startswith(section + ".") and error.key.partition(".")[2] not in hidden]
    return errors + entry_errors(ctx, section)


def accepted_notes(ctx: WizardContext, keys: "Iterable[str]") -> list[str]:
    """What the validators changed on the way in for the answers ``keys`` just accepted, as the operator reads it:
    ``"<field label>: <note>"`` (e.g. ``Allowed GitHub organizations: 'https://github.com/org' is a URL: using the
    organization 'org'``). Both front-ends show these after a step's answers are accepted."""
    from wizard.answers import field_for

    wanted = set(keys)
    out = []
    for note in getattr(ctx.session.answers, "notes", []):
        key, _, text = note.partition(": ")
        if key in wanted:
            out.append(f"{field_for(key).label}: {text}")
    return out
