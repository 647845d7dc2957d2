"""What sshd's effective configuration says about a login, from ``sshd -T`` (``-C user=...,host=...,addr=...`` so
``Match`` blocks are applied the way sshd applies them for that connection).

Upstream, OpenSSH (portable 9.x):
- ``auth.c`` ``allowed_user``: in this order, ``DenyUsers`` (a match refuses), ``AllowUsers`` (when set, no match
  refuses), ``DenyGroups`` (any of the user's groups matching refuses), ``AllowGroups`` (when set, no group matching
  refuses). A ``USER@HOST`` pattern checks the user and the client's host/address separately. It also refuses an
  account whose shell is missing or not executable, and — only with ``UsePAM no`` — an account whose password field
  is locked (``!``), which is how ``useradd`` leaves the accounts TLJH creates.
- ``match.c`` ``match_pattern``/``match_pattern_list``: ``*`` and ``?`` wildcards, comma lists, ``!`` negation (a
  negated match wins).
- ``auth2-pubkey.c``: keys are read from each ``AuthorizedKeysFile`` (``%h``/``%u``/``%%`` expanded, relative paths
  from the home directory); ``PubkeyAuthentication no`` refuses every key.
- ``auth.c`` ``auth_root_allowed``: ``PermitRootLogin no`` refuses root outright, ``forced-commands-only`` allows only
  keys with a forced command; ``prohibit-password`` (the default) and ``yes`` allow a key.
- ``servconf.c``: for most keywords the first value obtained wins, which is why a drop-in included at the top of
  ``sshd_config`` overrides the file's own settings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping

# Keywords that may appear several times in sshd -T output; their values accumulate.
_MULTI = {"allowusers", "denyusers", "allowgroups", "denygroups", "include", "authorizedkeysfile", "hostkey",
          "listenaddress", "port", "subsystem", "setenv", "acceptenv"}


def parse_effective(text: str) -> dict[str, list[str]]:
    """``sshd -T`` output -> ``{keyword: [value, ...]}`` (keywords lower-case; list keywords split on blanks)."""
    config: dict[str, list[str]] = {}
    for line in text.splitlines():
        keyword, _, value = line.strip().partition(" ")
        if not keyword:
            continue
        keyword = keyword.lower()
        values = value.split() if keyword in {"allowusers", "denyusers", "allowgroups", "denygroups",
                                              "authorizedkeysfile"} else [value.strip()]
        if keyword in _MULTI:
            config.setdefault(keyword, []).extend(values)
        else:
            config[keyword] = values
    return config


def first(config: Mapping[str, list[str]], keyword: str, default: str = "") -> str:
    values = config.get(keyword) or []
    return values[0] if values else default


def match_pattern(value: str, pattern: str) -> bool:
    """OpenSSH's ``match_pattern``: ``*`` any run, ``?`` one character, everything else literal."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def match_list(value: str, patterns: str) -> bool:
    """``match_pattern_list`` for a comma list: a negated match (``!pattern``) refuses outright."""
    found = False
    for pattern in patterns.split(","):
        negated = pattern.startswith("!")
        if match_pattern(value, pattern[1:] if negated else pattern):
            if negated:
                return False
            found = True
    return found


def _user_matches(pattern: str, user: str, host: str | None, addr: str | None) -> tuple[bool, str | None]:
    """(matches, host part) for one AllowUsers/DenyUsers entry; the host part is checked only when known."""
    if "@" in pattern:
        user_part, _, host_part = pattern.partition("@")
        if not match_pattern(user, user_part):
            return False, host_part
        if host is None and addr is None:
            return True, host_part
        return any(candidate and match_list(candidate, host_part) for candidate in (host, addr)), host_part
    return match_pattern(user, pattern), None


@dataclass
class Verdict:
    """Would sshd let ``user`` in with a key? ``problems`` stop the login; ``notes`` narrow it."""

    user: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def login_verdict(config: Mapping[str, list[str]], user: str, groups: Iterable[str], *, host: str | None = None,
                  addr: str | None = None, shell_ok: bool = True, locked: bool = False,
                  home: str | None = None) -> Verdict:
    """``auth.c allowed_user`` and the public key settings for one account, from its effective configuration.

    ``host``/``addr``: the client's, when known (the operator's own connection); None for accounts that will log
    in from anywhere — then a ``USER@HOST`` entry is reported as a restriction rather than judged."""
    verdict = Verdict(user)
    groups = list(groups)
    for pattern in config.get("denyusers", []):
        matched, host_part = _user_matches(pattern, user, host, addr)
        if matched:
            if host_part and host is None and addr is None:
                verdict.notes.append(f"DenyUsers {pattern} refuses {user} from {host_part}")
            else:
                verdict.problems.append(f"DenyUsers {pattern} refuses {user}")
    allow = config.get("allowusers", [])
    if allow:
        matches = [(pattern, _user_matches(pattern, user, host, addr)) for pattern in allow]
        hits = [(pattern, host_part) for pattern, (matched, host_part) in matches if matched]
        only_from = [host_part for _pattern, host_part in hits if host_part]
        if not hits:
            verdict.problems.append(f"AllowUsers {' '.join(allow)} does not list {user}")
        elif len(only_from) == len(hits) and host is None and addr is None:
            verdict.notes.append(f"AllowUsers lets {user} in only from {', '.join(only_from)}")
    for pattern in config.get("denygroups", []):
        hit = [group for group in groups if match_pattern(group, pattern)]
        if hit:
            verdict.problems.append(f"DenyGroups {pattern} refuses the group {hit[0]}")
    allow_groups = config.get("allowgroups", [])
    if allow_groups and not any(match_pattern(group, pattern) for group in groups for pattern in allow_groups):
        verdict.problems.append(f"AllowGroups {' '.join(allow_groups)} lists none of {user}'s groups "
                                f"({', '.join(groups) or 'none'})")
    if first(config, "pubkeyauthentication", "yes") != "yes":
        verdict.problems.append("PubkeyAuthentication is no: sshd accepts no key at all")
    files = config.get("authorizedkeysfile", [".ssh/authorized_keys"])
    if not any(_is_home_file(path, user, home) for path in files):
        verdict.problems.append(f"AuthorizedKeysFile {' '.join(files)} does not read ~/.ssh/authorized_keys")
    if user == "root":  # auth2-pubkey.c / auth.c auth_root_allowed: PermitRootLogin for a key login
        permit = first(config, "permitrootlogin", "prohibit-password")
        if permit == "no":
            verdict.problems.append("PermitRootLogin no refuses root")
        elif permit == "forced-commands-only":
            verdict.problems.append("PermitRootLogin forced-commands-only lets root run only a key's forced command")
    if not shell_ok:
        verdict.problems.append(f"{user}'s login shell is missing or not executable")
    if locked and first(config, "usepam", "no") != "yes":
        verdict.problems.append(f"{user}'s password is locked (as useradd leaves it) and UsePAM is no: sshd "
                                "refuses locked accounts then")
    return verdict


def _is_home_file(path: str, user: str, home: str | None) -> bool:
    expanded = path.replace("%%", "\0").replace("%u", user)
    if home:
        expanded = expanded.replace("%h", home)
    expanded = expanded.replace("\0", "%")
    candidates = {".ssh/authorized_keys", "%h/.ssh/authorized_keys"}
    if home:
        candidates |= {f"{home}/.ssh/authorized_keys", f"{home.rstrip('/')}/.ssh/authorized_keys"}
    return expanded in candidates or path in candidates


def includes(main_config: str, dropin_dir: str, name: str, config_dir: str = "/etc/ssh") -> bool:
    """Does the main sshd_config ``Include`` a pattern matching ``dropin_dir/name`` before any ``Match`` block
    (where an Include would apply only to the match)? Relative patterns are read from ``config_dir``
    (``servconf.c``: relative Include paths are under ``SSHDIR``)."""
    import fnmatch

    wanted = f"{dropin_dir.rstrip('/')}/{name}"
    for raw in main_config.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        words = line.replace("=", " ", 1).split()
        keyword = words[0].lower()
        if keyword == "match":
            return False
        if keyword == "include":
            for pattern in words[1:]:
                pattern = pattern if pattern.startswith("/") else f"{config_dir.rstrip('/')}/{pattern}"
                if fnmatch.fnmatchcase(wanted, pattern):
                    return True
    return False
