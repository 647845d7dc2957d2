"""OpenSSH public keys: validation, fingerprints, and the wizard's own lines in an ``authorized_keys`` file.

A key line is ``TYPE BASE64 [COMMENT]`` as ``ssh-keygen`` writes it into ``id_*.pub`` (sshd(8), "AUTHORIZED_KEYS
FILE FORMAT"). The key itself is parsed by ``cryptography`` (``serialization.load_ssh_public_key``), so a truncated
or damaged base64 blob, a blob whose embedded type differs from the declared one, or an unknown curve is refused the
way a library that speaks the format refuses it — never by a hand-written guess.

Refused, each with one line naming the problem (never echoing a private key):
- a private key (PEM/OpenSSH/PuTTY armour): it must never leave the operator's machine;
- ``ssh-dss``: DSA, disabled by default since OpenSSH 7.0 and removed in 9.8;
- certificates (``*-cert-v01@openssh.com``): they need a ``TrustedUserCAKeys`` set-up the wizard does not manage;
- an options prefix (``command=``, ``from=``, ``restrict``, ...): the wizard installs bare keys only, so no answer can
  smuggle a forced command or environment into an account;
- RSA keys under 2048 bits.

Fingerprints are ``SHA256:`` + unpadded base64 of the SHA-256 of the key blob, exactly as ``ssh-keygen -l`` prints
them (sshkey.c ``sshkey_fingerprint``, ``SSH_FP_BASE64``).

The wizard's lines carry ``MARK`` as the last word of their comment; ``merge`` adds and removes only such lines and
leaves every other line of the file byte for byte.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from dataclasses import dataclass
from typing import Any, Iterable

from wizard.fields import ValidationError

MARK = "#tljh-wizard"
MAX_LINE = 16384  # an RSA 16384-bit key line is about 2.8 KB; anything far longer is not a key

# Key types sshd accepts in authorized_keys, with ssh-keygen -l's label for each.
KEY_TYPES = {
    "ssh-ed25519": "ED25519",
    "ssh-rsa": "RSA",
    "ecdsa-sha2-nistp256": "ECDSA",
    "ecdsa-sha2-nistp384": "ECDSA",
    "ecdsa-sha2-nistp521": "ECDSA",
    "sk-ssh-ed25519@openssh.com": "ED25519-SK",
    "sk-ecdsa-sha2-nistp256@openssh.com": "ECDSA-SK",
}
_OPTION_WORD = re.compile(r"^[A-Za-z-]+(=|,|$)")
_PRIVATE = ("PRIVATE KEY", "PuTTY-User-Key-File", "BEGIN SSH2 ENCRYPTED")


@dataclass(frozen=True)
class PublicKey:
    """One OpenSSH public key: ``kind`` (``ssh-ed25519``), ``blob`` (the decoded key), ``comment`` (may be '')."""

    kind: str
    blob: bytes
    comment: str = ""
    bits: int = 0

    @property
    def line(self) -> str:
        """``TYPE BASE64 [COMMENT]``, normalised (single spaces)."""
        text = f"{self.kind} {base64.b64encode(self.blob).decode()}"
        return f"{text} {self.comment}" if self.comment else text

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.blob)

    @property
    def label(self) -> str:
        """As ``ssh-keygen -l`` ends its line: ``ED25519``, ``RSA``, ..."""
        return KEY_TYPES.get(self.kind, self.kind)

    def describe(self) -> str:
        """``ED25519 SHA256:... comment`` for plans and reports."""
        return " ".join(part for part in (self.label, self.fingerprint, self.comment) if part)


def fingerprint(blob: bytes) -> str:
    """``SHA256:...`` of a key blob, as ``ssh-keygen -l`` prints it."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _embedded_type(blob: bytes) -> str | None:
    """The key type string at the start of an SSH wire-format blob (RFC 4253 section 6.6), or None."""
    if len(blob) < 4:
        return None
    (size,) = struct.unpack(">I", blob[:4])
    if size > 64 or len(blob) < 4 + size:
        return None
    try:
        return blob[4:4 + size].decode("ascii")
    except UnicodeDecodeError:
        return None


def _key_bits(kind: str, line: str) -> int:
    """Parse the key with ``cryptography``; its size in bits. Raises ValueError for a damaged key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    key = serialization.load_ssh_public_key(line.encode("ascii"))
    if isinstance(key, rsa.RSAPublicKey):
        return key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.curve.key_size
    return 256  # ed25519 (and the security-key variants, whose size is fixed)


def parse_public_key(raw: Any) -> PublicKey:
    """One public key line -> ``PublicKey``; ``ValidationError`` (one line, no private material) otherwise."""
    if not isinstance(raw, str):
        raise ValidationError(f"expected a public key line (TYPE BASE64 [comment]), got {type(raw).__name__}")
    text = raw.strip()
    if any(marker in text for marker in _PRIVATE) or text.startswith("-----BEGIN"):
        raise ValidationError("this is a PRIVATE key: never paste it anywhere; give the public key, the one line of "
                              "the .pub file (ssh-ed25519 AAAA... you@laptop)")
    if not text:
        raise ValidationError("expected a public key line (TYPE BASE64 [comment])")
    if len(text) > MAX_LINE or any(ord(c) < 32 and c != "\t" or ord(c) == 127 for c in text):
        raise ValidationError("expected one public key line of at most 16384 characters, without line breaks")
    parts = text.split(None, 2)
    kind = parts[0]
    shown = kind[:40]
    if kind == "ssh-dss":
        raise ValidationError("DSA keys (ssh-dss) are refused: OpenSSH disables them; make an ed25519 key "
                              "(ssh-keygen -t ed25519)")
    if kind.endswith("-cert-v01@openssh.com"):
        raise ValidationError(f"{shown} is a certificate, not a plain public key; give the key line of the .pub file")
    if kind not in KEY_TYPES:
        if "=" in kind or "," in kind or _OPTION_WORD.match(kind) and kind.lower() in _OPTIONS:
            raise ValidationError("options before the key (command=, from=, restrict, ...) are not accepted: give "
                                  "the bare key line TYPE BASE64 [comment]")
        raise ValidationError(f"{shown!r} is not an OpenSSH public key type; expected one of "
                              "ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa, sk-ssh-ed25519@openssh.com")
    if len(parts) < 2:
        raise ValidationError(f"{shown} key without its base64 part; give the whole line of the .pub file")
    encoded = parts[1]
    try:
        blob = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(f"the {shown} key's base64 is truncated or damaged; copy the whole line of the .pub "
                              "file again") from None
    embedded = _embedded_type(blob)
    if embedded != kind:
        raise ValidationError(f"the key says {shown} but its data is "
                              + (f"a {embedded[:40]} key" if embedded else "not an SSH key (truncated or damaged?)"))
    try:
        bits = _key_bits(kind, f"{kind} {encoded}")
    except (ValueError, TypeError):
        raise ValidationError(f"the {shown} key's data is truncated or damaged; copy the whole line of the .pub "
                              "file again") from None
    except Exception as exc:  # an unsupported algorithm in this cryptography build
        raise ValidationError(f"the {shown} key could not be read ({type(exc).__name__})") from None
    if kind == "ssh-rsa" and bits < 2048:
        raise ValidationError(f"this RSA key has {bits} bits: at least 2048 are needed; better, make an ed25519 "
                              "key (ssh-keygen -t ed25519)")
    comment = parts[2].strip() if len(parts) > 2 else ""
    words = comment.split()
    if words and words[-1] == MARK:  # a line copied out of a file the wizard manages
        comment = " ".join(words[:-1])
    return PublicKey(kind, blob, " ".join(comment.split()), bits)


# sshd(8) AUTHORIZED_KEYS FILE FORMAT options (as of OpenSSH 9.x).
_OPTIONS = {
    "agent-forwarding", "cert-authority", "command", "environment", "expiry-time", "from", "no-agent-forwarding",
    "no-port-forwarding", "no-pty", "no-user-rc", "no-x11-forwarding", "no-touch-required", "permitlisten",
    "permitopen", "port-forwarding", "principals", "pty", "restrict", "tunnel", "user-rc", "verify-required",
    "x11-forwarding",
}

# Entries of a list: one key per line; pasted as one line, a comma followed by the next key's type also separates.
_SPLIT = re.compile(r"[\r\n]+|,\s*(?=(?:ssh-|ecdsa-|sk-))")


def key_lines(raw: Any) -> list[str]:
    """The ``ssh.admin_keys`` validator: a YAML list of key lines, or text with one key per line. Returns the
    normalised lines (duplicates by key dropped); ``ValidationError`` names the item."""
    if isinstance(raw, str):
        if any(marker in raw for marker in _PRIVATE):  # refused before any line of it could be quoted
            parse_public_key(raw)
        items = [part for part in _SPLIT.split(raw) if part and part.strip()]
    elif isinstance(raw, (list, tuple)):
        items = list(raw)
    else:
        raise ValidationError("expected a list of public key lines")
    if len(items) > 200:
        raise ValidationError("at most 200 keys")
    out: list[str] = []
    seen: set[bytes] = set()
    for index, item in enumerate(items, 1):
        try:
            key = parse_public_key(item)
        except ValidationError as exc:
            raise ValidationError(f"key {index}: {exc.message}") from None
        if key.blob not in seen:
            seen.add(key.blob)
            out.append(key.line)
    return out


def parse_lines(lines: Iterable[str]) -> list[PublicKey]:
    """Already validated key lines (the answers' values) -> keys."""
    return [parse_public_key(line) for line in lines]


# ---------------------------------------------------------------------------------------------------------------
# authorized_keys files


@dataclass(frozen=True)
class Entry:
    """One line of an ``authorized_keys`` file: the raw line, its key blob (None: comment, blank or unreadable),
    whether the wizard wrote it, and whether it carries options."""

    raw: str
    blob: bytes | None = None
    kind: str = ""
    comment: str = ""
    managed: bool = False
    options: bool = False

    @property
    def key(self) -> PublicKey | None:
        return PublicKey(self.kind, self.blob, self.comment) if self.blob is not None else None


def _split_options(line: str) -> tuple[str, str]:
    """(options, rest) of an authorized_keys line whose first word is not a key type: options end at the first
    blank outside double quotes (sshd's auth-options.c reads them the same way)."""
    quoted = False
    for index, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char in " \t" and not quoted:
            return line[:index], line[index:].strip()
    return line, ""


def parse_entry(line: str) -> Entry:
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return Entry(line)
    options = False
    rest = stripped
    if stripped.split(None, 1)[0] not in KEY_TYPES and not stripped.split(None, 1)[0].endswith("@openssh.com"):
        _opts, rest = _split_options(stripped)
        options = True
    parts = rest.split(None, 2)
    if len(parts) < 2:
        return Entry(line, options=options)
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        return Entry(line, options=options)
    comment = parts[2].strip() if len(parts) > 2 else ""
    words = comment.split()
    managed = bool(words) and words[-1] == MARK and not options
    if managed:
        comment = " ".join(words[:-1])
    return Entry(line, blob, parts[0], comment, managed, options)


def parse_file(text: str) -> list[Entry]:
    return [parse_entry(line) for line in text.splitlines()]


@dataclass
class Merge:
    """What ``merge`` did to one file: the new text and the keys added, removed (the wizard's only) and kept."""

    text: str
    added: list[PublicKey]
    removed: list[PublicKey]

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)


def managed_line(key: PublicKey) -> str:
    return f"{key.line} {MARK}"


def merge(text: str, wanted: Iterable[PublicKey]) -> Merge:
    """``text`` (an authorized_keys file, '' when missing) holding exactly ``wanted`` among the wizard's lines.

    Lines the wizard did not write are kept byte for byte; a wanted key already present in such a line (with or
    without options) is not added again and stays the operator's. The wizard's lines for keys no longer wanted are removed. Applying the
    result again changes nothing."""
    wanted = list(wanted)
    blobs = {key.blob for key in wanted}
    kept_lines: list[str] = []
    present: set[bytes] = set()
    removed: list[PublicKey] = []
    for line in text.splitlines():
        entry = parse_entry(line)
        key = entry.key
        # the wizard's line for a key no longer wanted, or a duplicate of the wizard's own line
        if entry.managed and key is not None and (key.blob not in blobs or key.blob in present):
            removed.append(key)
            continue
        if entry.blob is not None:  # with options too: sshd uses the first line with the key, so the operator's
            present.add(entry.blob)  # own restricted line (restrict, from=...) keeps deciding; none is added
        kept_lines.append(line)
    added = [key for key in wanted if key.blob not in present]
    lines = kept_lines + [managed_line(key) for key in added]
    if not added and not removed:
        return Merge(text, [], [])
    new_text = "\n".join(lines) + "\n" if lines else ""
    return Merge(new_text, added, removed)
