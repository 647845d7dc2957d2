"""The ``ssh`` answers section's validators: ``user_keys`` (``{hub user name: [key lines]}``) and the section's
cross-field rule. Field declarations live in ``wizard.answers`` with every other section's."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Mapping

from wizard.fields import ValidationError

if TYPE_CHECKING:
    from wizard.answers import Answers


# Text form: NAME: KEY LINE entries, one per line (a comma or semicolon before the next NAME: also separates).
_ENTRY_SPLIT = re.compile(r"[\r\n]+|[,;]\s*(?=[^\s,;]+:\s*(?:ssh-|ecdsa-|sk-))")
# NAME is everything before the colon that precedes the key's type (a name with a colon is then judged as a name).
_ENTRY = re.compile(r"^(.+?):\s*((?:ssh-|ecdsa-|sk-|-----|[A-Za-z-]+=).*)$", re.S)


def user_keys(raw: Any) -> dict[str, list[str]]:
    """``{hub user: [key lines]}`` from a YAML mapping (values: a list or one line) or ``NAME: KEY`` text lines.
    Names are normalised as JupyterHub does and must get an account TLJH can create; keys as ``admin_keys``."""
    from wizard.sshaccess.keys import key_lines
    from wizard.sshaccess.naming import check_hub_user

    if isinstance(raw, str):
        if "PRIVATE KEY" in raw:  # refused before any part of it could be quoted in a message
            raise ValidationError("this holds a PRIVATE key: never paste it anywhere; give public key lines")
        pairs: list[tuple[Any, Any]] = []
        for entry in _ENTRY_SPLIT.split(raw):
            if not entry or not entry.strip():
                continue
            match = _ENTRY.match(entry.strip())
            if not match:
                raise ValidationError(f"expected NAME: KEY LINE entries, got {entry.strip()[:40]!r}")
            pairs.append((match.group(1).strip(), match.group(2).strip()))
    elif isinstance(raw, Mapping):
        pairs = list(raw.items())
    else:
        raise ValidationError("expected a mapping of hub user names to lists of public key lines")
    if len(pairs) > 1000:
        raise ValidationError("at most 1000 entries")
    out: dict[str, list[str]] = {}
    for name, keys in pairs:
        try:
            user = check_hub_user(name)
        except ValidationError as exc:
            raise ValidationError(f"user name {exc.message}") from None
        if isinstance(keys, str):
            keys = [keys]
        try:
            lines = key_lines(keys)
        except ValidationError as exc:
            raise ValidationError(f"user {user}: {exc.message}") from None
        merged = out.setdefault(user, [])
        merged.extend(line for line in lines if line not in merged)
    return out


def rules(section: Mapping[str, Any], answers: Answers) -> list[ValidationError]:
    """Admin keys need admins to go to; every admin user name must get an account TLJH can create."""
    from wizard.sshaccess.naming import check_hub_user

    errors: list[ValidationError] = []
    admins = answers.get("authenticator.admin_users") or []
    if section.get("admin_keys"):
        if not admins:
            errors.append(ValidationError("admin keys go to the admins' accounts: list authenticator.admin_users",
                                          "ssh.admin_keys"))
        for name in admins:
            try:
                check_hub_user(name)
            except ValidationError as exc:
                errors.append(ValidationError(f"admin {name[:40]!r}: {exc.message}", "ssh.admin_keys"))
    return errors


def wanted_keys(answers: Answers) -> dict[str, list[str]]:
    """``{hub user (normalised): [key lines]}``: the admin keys for every admin, plus each user's own."""
    from wizard.sshaccess.naming import normalize

    out: dict[str, list[str]] = {}
    admin_keys = answers.get("ssh.admin_keys") or []
    for admin in answers.get("authenticator.admin_users") or []:
        lines = out.setdefault(normalize(admin), [])
        lines.extend(line for line in admin_keys if line not in lines)
    for user, keys in (answers.get("ssh.user_keys") or {}).items():
        lines = out.setdefault(user, [])
        lines.extend(line for line in keys if line not in lines)
    return out
