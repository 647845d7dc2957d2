"""Field declarations: each answer is declared once and rendered by every front-end.

A ``Field`` carries its name, type, help text, default, one validator and whether it is secret. The Textual
screens, the questionary prompts and the answers-file loader all call the same validator, so a value is judged
the same way wherever it comes from.

Validators take the raw value (a string typed by a person, or whatever YAML produced) and return the normalised
value or raise ``ValidationError``. They never raise anything else: ``Field.check`` turns any stray exception
into a ``ValidationError`` too, so a front-end can show every failure as a message.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence


class ValidationError(ValueError):
    """A value was refused. ``key`` names the field (``section.name``); ``message`` says what is expected."""

    def __init__(self, message: str, key: str = "") -> None:
        super().__init__(message)
        self.key = key
        self.message = message

    def __str__(self) -> str:
        return f"{self.key}: {self.message}" if self.key else self.message

    def at(self, key: str) -> "ValidationError":
        """The same error, attributed to ``key``."""
        return ValidationError(self.message, key)


Validator = Callable[[Any], Any]


@dataclass(frozen=True)
class Field:
    """One answer: declared once, validated in one place, rendered by every front-end."""

    name: str
    kind: str  # "str", "int", "float", "bool", "list", "choice", "secret", "path", "number"
    label: str
    help: str
    validate: Validator
    default: Any = None
    secret: bool = False
    required: bool = False
    choices: tuple[str, ...] = ()
    # Applicability: given the section's answers so far, does this field apply? (e.g. client_id only for OAuth)
    applies: Callable[[Mapping[str, Any]], bool] = field(default=lambda _values: True, repr=False, compare=False)
    # Shown as a placeholder in front-ends.
    example: str = ""

    def format(self, value: Any) -> str:
        """``value`` as a front-end shows it back for editing: the text form this field's validator accepts again,
        so ``check(format(v)) == v`` for every accepted ``v`` (a list joins with its own separator: packages with
        spaces, other lists with ", "; a whole float drops its ".0")."""
        if value is None:
            return ""
        own_format = getattr(self.validate, "format", None)
        if own_format is not None:
            return str(own_format(value))
        if isinstance(value, (list, tuple)):
            return getattr(self.validate, "joiner", ", ").join(str(item) for item in value)
        if isinstance(value, dict):  # {name: [lines]} (ssh.user_keys): NAME: LINE entries, read back by its validator
            return ", ".join(f"{name}: {line}" for name, lines in value.items() for line in lines)
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        if isinstance(value, float) and "e" in str(value):  # 1e-05: the plain decimal where the validator wants one
            try:
                self.validate(str(value))
            except ValidationError:
                return format(value, "f").rstrip("0").rstrip(".") or "0"
        return str(value)

    def check(self, raw: Any, key: str = "") -> Any:
        """Validate ``raw``; return the normalised value or raise ``ValidationError`` naming ``key``."""
        key = key or self.name
        if raw is None or (isinstance(raw, str) and raw.strip() == "" and self.kind not in ("secret",)):
            if self.required:
                raise ValidationError("a value is required", key)
            return None
        try:
            value = self.validate(raw)
            return value.value if isinstance(value, Noted) else value
        except ValidationError as exc:
            raise exc.at(key) from None
        except Exception as exc:  # a validator bug must still surface as a message, never a traceback
            raise ValidationError(f"not a valid value ({type(exc).__name__})", key) from None


class Noted:
    """A normalised value with a note for the operator (e.g. a pasted URL turned into the name it holds).

    Validators may return it; ``Field.check`` unwraps it, ``Field.check_noted`` keeps the notes."""

    def __init__(self, value: Any, notes: Sequence[str]) -> None:
        self.value, self.notes = value, list(notes)


def check_noted(spec: "Field", raw: Any, key: str = "") -> tuple[Any, list[str]]:
    """``spec.check`` and the notes its validator attached (``[]`` when none)."""
    key = key or spec.name
    if raw is None or (isinstance(raw, str) and raw.strip() == "" and spec.kind != "secret"):
        return spec.check(raw, key), []
    try:
        value = spec.validate(raw)
    except ValidationError as exc:
        raise exc.at(key) from None
    except Exception as exc:
        raise ValidationError(f"not a valid value ({type(exc).__name__})", key) from None
    if isinstance(value, Noted):
        return value.value, [f"{key}: {note}" for note in value.notes]
    return value, []


# ---------------------------------------------------------------------------------------------------------------
# Validators. Each accepts what a person types (str) and what YAML gives (int, bool, list, ...).

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_USERNAME = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
# Login names as authenticators hand them to TLJH: e-mail-like names are allowed (Google), control chars are not.
_HUB_USER = re.compile(r"^[^\s\x00-\x1f\x7f/]{1,128}$")


def _text(raw: Any, what: str = "text") -> str:
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise ValidationError(f"expected {what}, got {type(raw).__name__}")
    text = str(raw).strip()
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ValidationError(f"expected {what} without control characters or line breaks")
    return text


def _shown(value: str, limit: int = 80) -> str:
    """A refused value as a message quotes it: at most ``limit`` characters, marked when cut."""
    return repr(value[:limit]) + (f"… ({len(value)} characters)" if len(value) > limit else "")


def text(max_len: int = 512) -> Validator:
    def validate(raw: Any) -> str:
        value = _text(raw)
        if len(value) > max_len:
            raise ValidationError(f"at most {max_len} characters")
        return value

    return validate


def host_key(raw: Any) -> str:
    """A pinned SSH host key: ``SHA256:...`` as OpenSSH prints it, or a public key line (``ssh-ed25519 AAAA...``)."""
    import base64
    import binascii

    value = _text(raw, "SHA256:... or a public key line")
    if re.fullmatch(r"SHA256:[A-Za-z0-9+/]{43}=?", value):
        return value.rstrip("=")
    parts = value.split()
    if len(parts) >= 2 and len(value) <= 8192 and re.fullmatch(r"[A-Za-z0-9@.+-]+", parts[0]):
        try:
            base64.b64decode(parts[1], validate=True)
            return value
        except (binascii.Error, ValueError):
            pass
    raise ValidationError("expected the host key's fingerprint as OpenSSH prints it (SHA256: and 43 characters) "
                          "or its public key line (ssh-ed25519 AAAA...)")


def secret(raw: Any) -> str:
    """A secret is kept verbatim (no stripping): any printable text of at most 4096 characters."""
    if not isinstance(raw, str):
        raise ValidationError(f"expected text, got {type(raw).__name__}")
    if raw == "":
        raise ValidationError("a value is required")
    if len(raw) > 4096 or any(c in "\r\n\x00" for c in raw):
        raise ValidationError("expected one line of at most 4096 characters")
    return raw


def hostname(raw: Any) -> str:
    """A DNS name (not an IP address), lower-cased, without a trailing dot."""
    value = _text(raw, "a host name").lower().rstrip(".")
    if not value:
        raise ValidationError("expected a host name such as hub.example.edu")
    if len(value) > 253 or not all(_LABEL.match(label) for label in value.split(".")):
        raise ValidationError(
            f"{_shown(value)} is not a valid host name: use letters, digits and hyphens, labels of 1-63 "
            "characters separated by dots, e.g. hub.example.edu"
        )
    return value


def domain_input(raw: Any, verb: str = "using") -> tuple[str, list[str]]:
    """What an operator typed or pasted as the hub's domain -> (the fully qualified name, notes on how it was read).

    A URL (``https://Hub.Example.edu/hub/``, or ``hub.example.edu/hub``) gives its host name; a Unicode name its
    IDNA form (UTS #46 mapping, the ``idna`` package). ``verb`` words the notes ("using", or "checking" for
    ``dns-check``). Raises ``ValidationError`` (one line, the value cut to 80 characters) for anything that is not a
    fully qualified domain name then."""
    from urllib.parse import urlsplit

    raw_text = _text(raw, "the hub's domain")
    notes: list[str] = []
    if not raw_text:
        raise ValidationError("expected the hub's domain, e.g. hub.example.edu")
    host = raw_text
    if "://" in raw_text or "/" in raw_text:
        try:
            parts = urlsplit(raw_text if "://" in raw_text or raw_text.startswith("//") else "//" + raw_text)
            host = parts.hostname or ""
        except ValueError:
            host = ""
        if not host:
            raise ValidationError(f"{_cut(raw_text)} is a URL without a host name; expected e.g. hub.example.edu")
        notes.append(f"{_cut(raw_text)} is a URL: {verb} its host name {host}")
    if not host.isascii():
        import idna

        try:
            encoded = idna.encode(host.rstrip("."), uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            # idna's reason may quote the whole value again: keep the reason, not a second copy of the value.
            reason = " ".join(str(exc).split(" in '")[0].split())[:60]
            raise ValidationError(f"{_cut(host)} is not a valid internationalised domain name ({reason})") from None
        notes.append(f"{host} is {encoded} in DNS (IDNA): {verb} {encoded}")
        host = encoded
    if len(host.rstrip(".")) > 253:
        raise ValidationError(f"{_cut(host)} is {len(host)} characters long: a domain name has at most 253")
    return fqdn(host), notes


def domain(raw: Any) -> "str | Noted":
    """The hub's domain (``domain.name``): a fully qualified name; a pasted URL or Unicode name is read as its host
    name / IDNA form with a note (:func:`domain_input`)."""
    value, notes = domain_input(raw)
    return Noted(value, notes) if notes else value


def _cut(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")


def fqdn(raw: Any) -> str:
    value = hostname(raw)
    if "." not in value:
        raise ValidationError(f"{_shown(value)} is not a fully qualified domain name; expected e.g. hub.example.edu")
    try:
        ipaddress.ip_address(value)
    except ValueError:
        pass
    else:
        raise ValidationError("expected a domain name, not an IP address")
    if value.split(".")[-1].isdigit():
        raise ValidationError(f"{_shown(value)} is not a domain name: the last label cannot be all digits")
    return value


def host(raw: Any) -> str:
    """A host to connect to: a host name or an IPv4/IPv6 address."""
    value = _text(raw, "a host name or IP address")
    candidate = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        pass
    try:
        return hostname(value)
    except ValidationError:
        raise ValidationError(f"{_shown(value)} is neither a host name nor an IP address; "
                              "e.g. hub.example.edu") from None


def ipv4(raw: Any) -> str:
    return _ip_address(raw, ipaddress.IPv4Address, "IPv4", "expected four numbers 0-255, e.g. 203.0.113.10")


def ipv6(raw: Any) -> str:
    return _ip_address(raw, ipaddress.IPv6Address, "IPv6", "e.g. 2001:db8::10")


def _ip_address(raw: Any, kind: type[ipaddress.IPv4Address | ipaddress.IPv6Address], name: str, hint: str) -> str:
    """The address in its standard text form (RFC 5952 for IPv6), or the refusal naming ``name`` and ``hint``."""
    what = f"an {name} address"
    value = _text(raw, what)
    try:
        return str(kind(value))
    except ValueError:
        raise ValidationError(f"{_shown(value)} is not {what}; {hint}") from None


def integer(minimum: int | None = None, maximum: int | None = None, unit: str = "") -> Validator:
    def validate(raw: Any) -> int:
        if isinstance(raw, bool):
            raise ValidationError("expected a whole number, not true/false")
        if isinstance(raw, float):
            if not raw.is_integer():
                raise ValidationError(f"expected a whole number, got {raw}")
            raw = int(raw)
        if isinstance(raw, str):
            token = raw.strip().replace("_", "")
            if not re.fullmatch(r"[+-]?\d{1,18}", token):
                raise ValidationError(f"expected a whole number, got {raw.strip()[:40]!r}")
            raw = int(token)
        if not isinstance(raw, int):
            raise ValidationError(f"expected a whole number, got {type(raw).__name__}")
        suffix = f" {unit}" if unit else ""
        if minimum is not None and raw < minimum:
            raise ValidationError(f"must be at least {minimum}{suffix}, got {raw}")
        if maximum is not None and raw > maximum:
            raise ValidationError(f"must be at most {maximum}{suffix}, got {raw}")
        return raw

    return validate


_TRUE = {"true", "yes", "y", "on", "1"}
_FALSE = {"false", "no", "n", "off", "0"}


def boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise ValidationError("expected yes or no (true/false)")


def choice(options: Sequence[str]) -> Validator:
    def validate(raw: Any) -> str:
        value = _text(raw, "one of " + ", ".join(options)).lower()
        if value not in options:
            hint = did_you_mean(value, options)
            raise ValidationError(f"expected one of {', '.join(options)}; got {_shown(value)}{hint}")
        return value

    return validate


def listing(item: Validator, what: str, max_items: int = 1000, separators: str = r"[,\s]+") -> Validator:
    """A list: a YAML sequence, or text split on ``separators`` (commas/whitespace). Each item goes through ``item``."""

    def validate(raw: Any) -> list[Any] | Noted:
        if isinstance(raw, str):
            parts = [p for p in re.split(separators, raw.strip()) if p]
        elif isinstance(raw, (list, tuple)):
            parts = list(raw)
        else:
            raise ValidationError(f"expected a list of {what}")
        if len(parts) > max_items:
            raise ValidationError(f"at most {max_items} {what}")
        out, notes = [], []
        for index, part in enumerate(parts):
            try:
                value = item(part)
            except ValidationError as exc:
                raise ValidationError(f"item {index + 1}: {exc.message}") from None
            if isinstance(value, Noted):
                notes += value.notes
                value = value.value
            if value not in out:
                out.append(value)
        return Noted(out, notes) if notes else out

    # How Field.format joins the items back into text this validator splits again.
    # how a front-end joins the list back into text this validator splits again (", ", "; " for whole items, or " ")
    validate.joiner = next(  # type: ignore[attr-defined]
        (joiner for joiner in (", ", "; ", " ") if re.fullmatch(separators, joiner)), ", ")
    return validate


def _typed_name(raw: Any, what: str) -> str:
    """A name exactly as typed. YAML turns unquoted ``00123``, ``1e3``, ``yes``, ``12:30`` or a date into another
    type, losing what was typed: such a value is refused with a line asking for quotes, never converted."""
    import datetime

    if isinstance(raw, (bool, int, float, datetime.date)):
        shown = str(raw).lower() if isinstance(raw, bool) else str(raw)
        kind = {"bool": "true/false", "int": "a number", "float": "a number"}.get(type(raw).__name__, "a date")
        raise ValidationError(f"expected {what} as text, but YAML read this value as {kind} ({shown[:40]}): "
                              "write it in quotes, exactly as the name is spelled (e.g. '00123')")
    if not isinstance(raw, str):
        raise ValidationError(f"expected {what}, got {type(raw).__name__}")
    return _text(raw, what)


def hub_username(raw: Any) -> str:
    value = _typed_name(raw, "a user name")
    if not _HUB_USER.match(value):
        raise ValidationError(f"{value[:40]!r} is not a user name: 1-128 characters, no spaces or slashes")
    return value


def unix_username(raw: Any) -> str:
    value = _text(raw, "a login name")
    if not _USERNAME.match(value):
        raise ValidationError(f"{value[:40]!r} is not a login name: lower-case letters, digits, _ . -; e.g. ubuntu")
    return value


def email(raw: Any) -> str:
    value = _text(raw, "an e-mail address")
    local, sep, domain = value.rpartition("@")
    if not sep or not local or len(value) > 254 or not re.fullmatch(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+", local):
        raise ValidationError(f"{value[:60]!r} is not an e-mail address; e.g. admin@example.edu")
    try:
        fqdn(domain)
    except ValidationError:
        raise ValidationError(f"{value[:60]!r} is not an e-mail address: the domain part is not valid") from None
    return value


def url(schemes: Sequence[str] = ("https",)) -> Validator:
    def validate(raw: Any) -> str:
        value = _text(raw, "a URL")
        match = re.fullmatch(r"([a-z][a-z0-9+.-]*)://([^/?#\s]+)([^\s]*)", value)
        if not match or match.group(1) not in schemes:
            raise ValidationError(f"expected a URL starting with {' or '.join(s + '://' for s in schemes)}")
        hostport = match.group(2).rsplit("@", 1)[-1]
        name = hostport.rsplit(":", 1)[0] if not hostport.endswith("]") else hostport
        try:
            host(name)
        except ValidationError:
            raise ValidationError(f"{value[:80]!r}: the host part is not valid") from None
        return value

    return validate


def local_path(raw: Any) -> str:
    value = _text(raw, "a file path")
    if not value:
        raise ValidationError("expected a file path")
    return value


def remote_path(raw: Any) -> str:
    value = _text(raw, "an absolute path")
    if not value.startswith("/") or "/../" in value + "/" or len(value) > 1024:
        raise ValidationError(f"expected an absolute path such as /opt/tljh, got {value[:60]!r}")
    return value.rstrip("/") or "/"


def host_port(default_port: int = 53) -> Validator:
    """``HOST[:PORT]`` — IPv6 as ``[::1]:53``. Normalised to ``host:port`` (IPv6 bracketed)."""

    def validate(raw: Any) -> str:
        value = _text(raw, "HOST[:PORT]")
        match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::(\d+))?", value) or re.fullmatch(r"([^:\[\]]+)(?::(\d+))?", value)
        if not match:
            if value.count(":") > 1:  # a bare IPv6 address
                return f"[{ipv6(value)}]:{default_port}"
            raise ValidationError(f"expected HOST or HOST:PORT, got {value[:60]!r}")
        name = host(match.group(1))
        port = integer(1, 65535)(match.group(2)) if match.group(2) else default_port
        return f"[{name}]:{port}" if ":" in name else f"{name}:{port}"

    return validate


def hub_address(raw: Any) -> tuple[str | None, str, int | None]:
    """``[USER@]HOST[:PORT]`` (IPv6 as ``[2001:db8::1]:22`` or bare) -> (user, host, port), each part validated."""
    text = _text(raw, "[USER@]HOST[:PORT]")
    user, _, rest = text.rpartition("@")
    match = re.fullmatch(r"\[([^\]]+)\](?::(\d+))?", rest) or re.fullmatch(r"([^:\[\]]+)(?::(\d+))?", rest)
    if match:
        name, port = match.group(1), match.group(2)
    elif rest.count(":") > 1 and "[" not in rest:
        name, port = rest, None  # a bare IPv6 address
    else:
        raise ValidationError(f"expected [USER@]HOST[:PORT], got {text[:80]!r}")
    try:
        return (unix_username(user) if user else None, host(name), integer(1, 65535)(port) if port else None)
    except ValidationError as exc:
        raise ValidationError(f"{text[:80]!r}: {exc.message}") from None


_VERSION_CLAUSE = r"(?:==|>=|<=|!=|~=|=|<|>)\s*[A-Za-z0-9.*+!_-]+"
_SPEC = re.compile(
    r"(?:[A-Za-z0-9_.-]+::)?"  # conda channel::
    r"[A-Za-z0-9][A-Za-z0-9._-]*"  # name
    r"(?:\[[A-Za-z0-9._-]+(?:,[A-Za-z0-9._-]+)*\])?"  # pip extras
    rf"(?:\s*{_VERSION_CLAUSE}(?:\s*,\s*{_VERSION_CLAUSE})*)?"
)


def snapshot_ref(raw: Any) -> str:
    """An environment snapshot to restore at apply: its id (``20261125T180500Z``, as ``env list`` shows it) or
    ``newest``."""
    value = _text(raw, "a snapshot id or newest")
    if value.lower() == "newest":
        return "newest"
    if not re.fullmatch(r"\d{8}T\d{6}Z(-\d{1,3})?", value):
        raise ValidationError(f"expected a snapshot id such as 20261125T180500Z, or newest; got {value[:40]!r}")
    return value


def package_spec(raw: Any) -> str:
    """A package to install: ``numpy``, ``numpy=1.26``, ``pandas>=2,<3``, ``conda-forge::xarray``, ``dask[array]``.

    Never an option (a leading ``-``), a path or a URL: what reaches the hub's pip or conda is a package name.
    """
    if not isinstance(raw, str):
        raise ValidationError("expected a package name such as numpy or pandas>=2")
    value = raw.strip()
    if value.startswith("-"):
        raise ValidationError(f"{value[:40]!r} looks like an option; expected a package name such as numpy")
    if not _SPEC.fullmatch(value) or len(value) > 200:
        raise ValidationError(f"{value[:40]!r} is not a package name with an optional version, e.g. numpy, "
                              "numpy=1.26 (conda), pandas>=2,<3 (pip)")
    return re.sub(r"\s+", "", value)


# --- names by each provider's rules ----------------------------------------------------------------------------

# GitHub logins and organisation names: alphanumerics and single hyphens, no leading or trailing hyphen, at most 39
# characters (GitHub's sign-up rule; the login is what GitHubOAuthenticator's username_claim "login" gives).
_GITHUB_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
_GITHUB_TEAM = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


def github_login(raw: Any) -> str:
    """A GitHub login: alphanumerics and single hyphens, not at either end, 1-39 characters."""
    value = _typed_name(raw, "a GitHub login")
    if not _GITHUB_NAME.match(value):
        raise ValidationError(f"{value[:80]!r} is not a GitHub login: letters, digits and single hyphens (not at "
                              "the start or end), at most 39 characters")
    return value


def github_organization(raw: Any) -> "str | Noted":
    """``ORG`` or ``ORG:TEAM`` (team slug), as GitHubOAuthenticator.allowed_organizations takes them.

    A pasted ``https://github.com/ORG`` (or ``.../orgs/ORG/teams/TEAM``) becomes ``ORG`` (``ORG:TEAM``) with a note;
    source: oauthenticator ``github.py`` ``_check_membership_allowed_organizations`` (splits on ``:``).
    """
    value = _typed_name(raw, "a GitHub organization")
    notes = []
    match = re.fullmatch(r"(?:https?://)?(?:www\.)?github\.com/(?:orgs/)?([^/?#\s]+)(?:/teams/([^/?#\s]+))?/?",
                         value, re.IGNORECASE)
    if match:
        converted = match.group(1) + (f":{match.group(2)}" if match.group(2) else "")
        notes.append(f"{value[:80]!r} is a URL: using the organization {converted!r}")
        value = converted
    org, sep, team = value.partition(":")
    if not _GITHUB_NAME.match(org):
        raise ValidationError(f"{value[:80]!r} is not a GitHub organization: its login (letters, digits and single "
                              "hyphens, at most 39 characters), or ORG:TEAM for a team")
    if sep and not _GITHUB_TEAM.match(team):
        raise ValidationError(f"{value[:80]!r}: the team after ':' must be the team's slug (e.g. teaching-staff)")
    return Noted(value, notes) if notes else value


def group_name(raw: Any) -> str:
    """A group name as the identity provider spells it: spaces kept, no line breaks, at most 256 characters."""
    value = _typed_name(raw, "a group name")
    if not value or len(value) > 256:
        raise ValidationError("a group name of 1-256 characters")
    return value


def ldap_dn(raw: Any) -> str:
    """An LDAP distinguished name (RFC 4514), parsed with ldap3's DN parser; ``{username}`` is allowed (templates).

    Kept exactly as typed (LDAPAuthenticator compares group DNs as strings: ldapauthenticator.py check_allowed)."""
    from ldap3.core.exceptions import LDAPInvalidDnError
    from ldap3.utils.dn import parse_dn

    value = _typed_name(raw, "a DN")
    if len(value) > 1024:
        raise ValidationError("a DN of at most 1024 characters")
    try:
        parts = parse_dn(value.replace("{username}", "placeholder"))
    except (LDAPInvalidDnError, ValueError, IndexError) as exc:
        raise ValidationError(f"{value[:80]!r} is not a distinguished name such as "
                              f"cn=students,ou=groups,dc=example,dc=edu ({exc})") from None
    if not parts:
        raise ValidationError(f"{value[:80]!r} is not a distinguished name")
    return value


def did_you_mean(word: str, options: Sequence[str]) -> str:
    """A ' (did you mean X?)' suffix for a mistyped key or choice, or ''."""
    import difflib

    close = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
