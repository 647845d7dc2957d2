"""known_hosts read the way OpenSSH reads it, for the SSH target's strict host-key check.

OpenSSH's rules (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"; ``hostfile.c`` ``hostkeys_foreach``/``check_key_in_hostkeys``,
``match.c`` ``match_hostname``/``match_pattern_list``), which paramiko's own loader does not follow (it matches names
literally and stops at a marker line):

- A line is ``[@marker] patterns keytype base64 [comment]``. ``patterns`` is a comma-separated list; ``*`` matches
  any run of characters and ``?`` one character; a pattern starting with ``!`` negates: a host matching a negated
  pattern is not matched by the line even if another pattern matches. Matching ignores case.
- A host on a port other than 22 is named ``[host]:port`` — the patterns are matched against that whole string
  (``[127.0.*]:2222`` matches ``[127.0.0.1]:2222``).
- A hashed entry ``|1|SALT|HASH`` (``HashKnownHosts``) matches when ``HMAC-SHA1(SALT, name) == HASH``.
- ``@cert-authority``: the key is a CA for host certificates of the matching hosts; ``@revoked``: the key must never
  be accepted. Lines that do not parse are skipped.
- The check (``check_key_in_hostkeys``): the presented key equal to a key of a matching line: known. Otherwise, a
  matching line with another key (of any type: the client prefers the known types when negotiating, so a server
  that no longer offers them has changed): CHANGED (refused). Otherwise: not known — unless, for a port other
  than 22, the port-less host name has exactly this key (``check_host_key``'s "checking without port identifier").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from pathlib import Path

from wizard.files import InputFileError, read_small

MAX_KNOWN_HOSTS = 4 << 20  # a known_hosts file of ~10,000 hosts is ~4 MB


@dataclass(frozen=True)
class Entry:
    marker: str  # "", "@cert-authority" or "@revoked"
    patterns: str
    key_type: str
    blob: bytes  # the public key as in the file (base64-decoded)
    source: str  # "FILE:LINE"

    @property
    def fingerprint(self) -> str:
        return "SHA256:" + base64.b64encode(hashlib.sha256(self.blob).digest()).decode().rstrip("=")


def parse(text: str, origin: str) -> list[Entry]:
    """Every well-formed line of a known_hosts file, in order."""
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        marker = ""
        if fields[0].startswith("@"):
            marker, fields = fields[0], fields[1:]
            if marker not in ("@cert-authority", "@revoked"):
                continue
        if len(fields) < 3:
            continue
        try:
            blob = base64.b64decode(fields[2], validate=True)
        except (binascii.Error, ValueError):
            continue
        if not blob:
            continue
        entries.append(Entry(marker, fields[0], fields[1], blob, f"{origin}:{number}"))
    return entries


def load(path: str | Path) -> list[Entry]:
    """A known_hosts file's entries (a missing file has none). ``ValueError`` for a file that cannot be read."""
    try:
        data = read_small(path, MAX_KNOWN_HOSTS, "known hosts file")
    except InputFileError as exc:
        if "no such" in str(exc):
            return []
        raise ValueError(str(exc)) from None
    return parse(data.decode("utf-8", "replace"), str(path))


def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.S)


def host_matches(name: str, patterns: str) -> bool:
    """Whether ``name`` (``host`` or ``[host]:port``) is matched by a line's patterns, as OpenSSH's
    ``match_hostname``: hashed entries by HMAC-SHA1, wildcards, negation, case ignored."""
    if patterns.startswith("|1|"):
        try:
            _empty, _one, salt, digest = patterns.split("|", 3)
            expected = base64.b64decode(digest, validate=True)
            mac = hmac.new(base64.b64decode(salt, validate=True), name.encode(), hashlib.sha1).digest()
        except (ValueError, binascii.Error):
            return False
        return hmac.compare_digest(mac, expected)
    name = name.lower()
    matched = False
    for pattern in patterns.lower().split(","):
        negated = pattern.startswith("!")
        if negated:
            pattern = pattern[1:]
        if pattern and _pattern(pattern).fullmatch(name):
            if negated:
                return False  # a negated match wins over everything
            matched = True
    return matched


@dataclass
class Verdict:
    """``status``: "known", "changed", "revoked", "ca" (only a @cert-authority line names the host) or "unknown".
    ``entry``: the line that decided (for "changed", the first matching line)."""

    status: str
    entry: Entry | None = None


def check(entries: list[Entry], name: str, key_type: str, blob: bytes) -> Verdict:
    """OpenSSH's decision for the key ``blob`` of ``key_type`` presented by ``name``. For ``[host]:port`` that is
    not known, the port-less ``host`` is tried too and only an exact key match there counts (sshconnect.c
    ``check_host_key``: "checking without port identifier")."""
    verdict = _check(entries, name, key_type, blob)
    bare = re.fullmatch(r"\[(.+)\]:(\d+)", name)
    if verdict.status in ("unknown", "ca") and bare and bare.group(2) != "22":
        without_port = _check(entries, bare.group(1), key_type, blob)
        if without_port.status == "known":
            return without_port
    return verdict


def _check(entries: list[Entry], name: str, key_type: str, blob: bytes) -> Verdict:
    for entry in entries:
        if entry.marker == "@revoked" and entry.blob == blob:
            return Verdict("revoked", entry)  # sshconnect.c refuses a revoked key before anything else
    matching = [e for e in entries if host_matches(name, e.patterns)]
    plain = [e for e in matching if not e.marker]
    for entry in plain:
        if entry.blob == blob:
            return Verdict("known", entry)
    if plain:  # hostfile.c: a matching line with any other key, whatever its type, is HOST_CHANGED
        return Verdict("changed", plain[0])
    authorities = [e for e in matching if e.marker == "@cert-authority"]
    if authorities:
        return Verdict("ca", authorities[0])
    return Verdict("unknown")


def known_types(entries: list[Entry], name: str) -> list[str]:
    """Key types known for ``name``, in file order (the client prefers them when negotiating, as OpenSSH does)."""
    types: list[str] = []
    for entry in entries:
        if not entry.marker and host_matches(name, entry.patterns) and entry.key_type not in types:
            types.append(entry.key_type)
    return types
