"""CAA judged the way Let's Encrypt's CA software (Boulder) judges it, per HTTPS mode of the wizard.

Sources: RFC 8659 (CAA), RFC 8657 (``accounturi`` and ``validationmethods``), and Boulder's ``va/caa.go``
(``filterCAA``, ``selectCAA``, ``validateCAA``, ``parseCAARecord``, ``caaDomainMatches``,
``caaAccountURIMatches``, ``caaValidationMethodMatches``) with its tests in ``va/caa_test.go`` (``TestCAAChecking``
case names quoted below). Boulder is the authority where it is stricter or looser than the RFC text.

Rules, each held by a test in ``tests/test_dns_caa.py`` (the rule functions, on Boulder's cases) or in
``tests/test_dns_letsencrypt.py`` / ``tests/test_dns_check.py`` (real BIND servers and resolvers):

==  ======================================  =============================  =============================================
#   rule                                    source                         test
==  ======================================  =============================  =============================================
1   The relevant set is the first non-      RFC 8659 §3; Boulder           test_caa_only_on_the_parent_domain
    empty CAA RRset found from the name up  selectCAA, "Good (present on   test_caa_closest_set_wins
    through its parents (not the root).     parent)"
2   A lookup that fails (SERVFAIL) at a     RFC 8659 §3; Boulder           test_lame_delegation_blocks_caa
    level before the relevant set blocks    selectCAA, TestCAATimeout,     test_rule_lookup_failure_before_the_set
    issuance; a failure above it does not.  "Good (present w/ servfail
                                            exception?)"
3   CNAMEs are followed by the resolver:    RFC 8659 §3 (RFC 6844's climb  test_cname_target_forbidding_names_the_target
    an alias has its target's CAA set; the  from the target is gone);      test_cname_target_parent_is_not_climbed
    climb goes on from the alias's          Boulder getCAA
    parents, never the target's.
4   Tags compare case-insensitively (iSsUe  Boulder filterCAA, "Bad        test_rule_mixed_case_tag
    is issue).                              (Reserved, Mixed case Issue)"
5   An unknown tag with flag bit 128 or     RFC 8659 §4.1; Boulder         test_rule_critical_flags
    bit 1 set forbids issuance; issue,      filterCAA, "Bad (unknown       test_unknown_critical_tag_blocks
    issuewild and iodef with the flag set   critical)", "Bad (unknown
    are fine; other bits are ignored.       critical 2)", "Good (multiple
                                            critical, one matching)"
6   A set without issue records lets any    RFC 8659 §4.3; Boulder         test_issuewild_without_issue
    CA issue for a non-wildcard name        validateCAA                    test_rule_critical_flags
    (issuewild concerns wildcards only).
7   Issue value: split on ";"; the issuer   RFC 8659 §4.2; Boulder         test_rule_issue_value_grammar
    is the first part, spaces/tabs          parseCAARecord, "Good (issue   test_rule_malformed_values
    trimmed; every further part is          rec with unknown params)",     test_malformed_value_is_ignored
    tag=value, tag ASCII letters/digits,    "Bad (issue rec with invalid
    value %x21-3A / %x3C-7E (no spaces      tag)", "Bad (issue rec with
    inside); one empty part after a single  invalid value)"
    ";" is allowed. A malformed record is
    ignored: it authorises nobody.
8   The issuer must equal letsencrypt.org   Boulder caaDomainMatches       test_rule_issuer_compared_exactly
    exactly: no case folding, no trailing-  (string equality)              test_trailing_dot_issuer_is_an_error
    dot removal.
9   issue ";" (empty issuer) forbids every  RFC 8659 §4.2; "Bad            test_caa_forbidding_every_ca
    CA.                                     (unsatisfiable issue record)"
10  accounturi admits only the account      RFC 8657 §3; Boulder           test_rule_accounturi
    whose URI is one of Let's Encrypt's     caaAccountURIMatches,          test_accounturi_per_account
    account-URI prefixes followed by that   "Good/Bad (restricts to
    account's number.                       accounturi, ...)"
11  validationmethods: comma-separated,     RFC 8657 §4; Boulder           test_rule_validationmethods
    each item [A-Za-z0-9-]+ (else the       caaValidationMethodMatches,    test_validationmethods_per_mode
    whole record is refused); the mode's    "Bad (restricts to dns-01,
    challenge must be listed exactly.       but tested with http-01)"
12  Issuance is allowed when any one issue  Boulder validateCAA, "Good     test_rule_any_record_may_authorise
    record passes all of the above.         (restricts to multiple
                                            accounturi, ...)"
==  ======================================  =============================  =============================================

The HTTPS modes (``https.mode`` answers) and the challenge each uses:

- ``letsencrypt``: TLJH's Traefik orders with **TLS-ALPN-01** (TLJH's ``tljh/traefik.toml.tpl`` declares
  ``[certificatesResolvers.letsencrypt.acme.tlsChallenge]``) from its own ACME account, kept in
  ``PREFIX/state/acme.json`` on the hub;
- ``acme-dns``: the wizard's own client orders with **DNS-01** from the account kept in the session
  (``wizard.https.acme_dns``).

``Account`` says which account a mode would order with (its URI, or None when it is not known yet — no
``acme.json``, no stored registration), and where that was read. A CAA set that blocks every mode is an ERROR;
one that blocks only some is an ERROR when that mode is the chosen one, else a WARNING naming the mode that works.
When the chosen mode orders nothing from Let's Encrypt (``existing``, ``none``), an ERROR is told as a WARNING.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from wizard.diagnosis import Diagnosis, Status

if TYPE_CHECKING:
    from wizard.dns.check import Reply
    from wizard.hub.target import HubTarget
    from wizard.session import Session

ISSUER_DOMAIN = "letsencrypt.org"
# Let's Encrypt's account URIs: each prefix followed by the account's number. Boulder accepts every prefix of its
# environment (ACMEv1 registrations and ACMEv2 accounts share numbers), ``caaAccountURIMatches``.
ACCOUNT_URI_PREFIXES = {
    "production": ("https://acme-v01.api.letsencrypt.org/acme/reg/",
                   "https://acme-v02.api.letsencrypt.org/acme/acct/"),
    "staging": ("https://acme-staging.api.letsencrypt.org/acme/reg/",
                "https://acme-staging-v02.api.letsencrypt.org/acme/acct/"),
}
KNOWN_TAGS = ("issue", "issuewild", "iodef")
_PARAM_TAG = re.compile(r"[A-Za-z0-9]*")  # Boulder accepts ASCII letters and digits only (no hyphen)
_PARAM_VALUE = re.compile(r"[\x21-\x3a\x3c-\x7e]*")
_METHOD = re.compile(r"[A-Za-z0-9-]+")
_WSP = " \t"


@dataclass(frozen=True)
class HttpsMode:
    """An HTTPS mode of the wizard that asks Let's Encrypt: its ``https.mode`` name, who orders, the challenge."""

    name: str
    label: str
    method: str


MODES = (
    HttpsMode("letsencrypt", "TLJH's Traefik", "tls-alpn-01"),
    HttpsMode("acme-dns", "the wizard's DNS-01 client", "dns-01"),
)


@dataclass(frozen=True)
class Account:
    """The ACME account a mode would order with: ``uri`` (None: not known yet) and where that was learnt."""

    uri: str | None
    source: str


def unknown_account(mode: HttpsMode) -> Account:
    where = ("no acme.json read from the hub" if mode.name == "letsencrypt"
             else "no account stored in this session yet")
    return Account(None, where)


@dataclass(frozen=True)
class CaaRecord:
    """One CAA resource record: ``flags`` (0-255), ``tag`` as published, ``value`` (text)."""

    flags: int
    tag: str
    value: str

    @classmethod
    def from_text(cls, text: str) -> "CaaRecord":
        """Presentation format (``0 issue "letsencrypt.org"``) -> record, parsed by dnspython."""
        import dns.rdata
        import dns.rdtypes.ANY.CAA

        rdata = dns.rdata.from_text("IN", "CAA", text)
        if not isinstance(rdata, dns.rdtypes.ANY.CAA.CAA):  # dnspython's class for the CAA type: never taken
            raise ValueError(f"not a CAA record: {text[:80]}")
        return cls(rdata.flags, rdata.tag.decode("ascii", "replace"), rdata.value.decode("utf-8", "replace"))

    @property
    def critical(self) -> bool:
        """Boulder treats bit 1 as the critical bit too (a widespread misreading of RFC 6844), ``filterCAA``."""
        return bool(self.flags & (128 | 1))

    def text(self) -> str:
        return f'{self.flags} {self.tag} "{self.value}"'


class Malformed(ValueError):
    """An issue value that breaks RFC 8659 §4.2 the way Boulder's ``parseCAARecord`` checks it."""


def parse_issue_value(value: str) -> tuple[str, dict[str, str]]:
    """An ``issue`` value -> (issuer domain, parameters), exactly as Boulder's ``parseCAARecord`` reads it.

    The issuer is returned as written (only spaces and tabs around it trimmed: no case folding, no trailing-dot
    removal); ``""`` means no CA may issue. Raises ``Malformed`` naming the offending part."""
    parts = value.split(";")
    issuer = parts[0].strip(_WSP)
    params: dict[str, str] = {}
    rest = parts[1:]
    if len(rest) == 1 and not rest[0].strip(_WSP):
        return issuer, params
    for part in rest:
        if "=" not in part:
            raise Malformed(f"parameter {part.strip(_WSP)!r} is not tag=value")
        tag, _, val = part.partition("=")
        tag, val = tag.strip(_WSP), val.strip(_WSP)
        if not _PARAM_TAG.fullmatch(tag):
            raise Malformed(f"parameter tag {tag!r} may hold only letters and digits")
        if not _PARAM_VALUE.fullmatch(val):
            raise Malformed(f"the value of {tag} ({val!r}) may not contain spaces or other characters outside "
                            "%x21-7E")
        params[tag] = val
    return issuer, params


def account_matches(accounturi: str, account: str) -> bool:
    """RFC 8657 §3 as Boulder's ``caaAccountURIMatches`` applies it: ``accounturi`` must be one of the CA's account
    URI prefixes followed by the ordering account's number. ``account`` is the account's URI as the CA gave it.

    (Boulder also refuses an accounturi Go's ``url.Parse`` rejects; such a value never equals prefix + number, so
    the comparison alone decides.)"""
    for prefixes in ACCOUNT_URI_PREFIXES.values():
        for prefix in prefixes:
            number = account[len(prefix):]
            if account.startswith(prefix) and number.isdigit():
                return accounturi in {f"{other}{int(number)}" for other in prefixes}
    return accounturi == account


def method_matches(methods: str, method: str) -> bool:
    """RFC 8657 §4 as Boulder's ``caaValidationMethodMatches`` applies it."""
    items = methods.split(",")
    for item in items:
        if not _METHOD.fullmatch(item):
            return False
        if item == method:
            return True
    return False


@dataclass
class ModeVerdict:
    """What Let's Encrypt would decide for one mode: ``status`` (OK/WARNING/ERROR), why, and the fix."""

    mode: HttpsMode
    status: Status
    reason: str
    fix: str = ""
    account: Account | None = None

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status.value, "method": self.mode.method, "reason": self.reason,
                "account": self.account.uri if self.account else None,
                "account_source": self.account.source if self.account else None}


def _admits_staging(issue: Sequence[CaaRecord]) -> bool:
    """Whether some issue record could admit a staging account: Let's Encrypt's, and without accounturi or with a
    staging account URI."""
    for record in issue:
        try:
            issuer, params = parse_issue_value(record.value)
        except Malformed:
            continue
        uri = params.get("accounturi")
        if issuer == ISSUER_DOMAIN and (uri is None or uri.startswith(ACCOUNT_URI_PREFIXES["staging"])):
            return True
    return False


def judge(records: Sequence[CaaRecord], mode: HttpsMode, account: Account, owner: str) -> ModeVerdict:
    """Boulder's ``validateCAA`` for a non-wildcard name, ``records`` being the relevant set (at ``owner``)."""
    critical = [r.tag for r in records if r.tag.lower() not in KNOWN_TAGS and r.critical]
    if critical:
        return ModeVerdict(mode, Status.ERROR, f"a critical property Let's Encrypt does not know "
                           f"({', '.join(critical)}) forbids issuance",
                           f"Remove the critical flag from the {', '.join(critical)} CAA record at {owner} (flags "
                           "128 and 1 both count as critical).", account)
    issue = [r for r in records if r.tag.lower() == "issue"]
    if not issue:
        return ModeVerdict(mode, Status.OK, "no issue record: any CA may issue for this name", account=account)
    refusals: list[tuple[str, str]] = []  # (why, fix)
    uncertain: list[str] = []
    add = f'{owner}. CAA 0 issue "{ISSUER_DOMAIN}"'
    for record in issue:
        try:
            issuer, params = parse_issue_value(record.value)
        except Malformed as exc:
            refusals.append((f"{record.text()} is malformed ({exc}) and ignored, as Let's Encrypt ignores it",
                             f"Rewrite the record at {owner} as RFC 8659 §4.2 requires: parameters tag=value "
                             "separated by \";\", no "
                             f"spaces inside a value (e.g. \"{ISSUER_DOMAIN}; validationmethods=dns-01,tls-alpn-01"
                             "\")."))
            continue
        if issuer != ISSUER_DOMAIN:
            if issuer.lower().rstrip(".") == ISSUER_DOMAIN:
                refusals.append((f'the issuer "{issuer}" is not "{ISSUER_DOMAIN}": Let\'s Encrypt compares it '
                                 "character for character (no trailing dot, lower case)",
                                 f'Write the issuer exactly as "{ISSUER_DOMAIN}": {add}.'))
            else:
                refusals.append((f'"{issuer}" names another CA' if issuer else 'issue ";" forbids every CA',
                                 f"Add the record {add}"
                                 + (' and delete the issue ";" record' if not issuer else "") + "."))
            continue
        accounturi = params.get("accounturi")
        if accounturi is not None:
            if account.uri is None:
                uncertain.append(f"{record.text()} admits only the account {accounturi}; which account "
                                 f"{mode.label} will use is not known yet ({account.source})")
                continue
            if not account_matches(accounturi, account.uri):
                refusals.append((f"{record.text()} admits only the account {accounturi}, but {mode.label} orders "
                                 f"as {account.uri} ({account.source})",
                                 f"Change accounturi in the CAA record at {owner} to {account.uri} (or add "
                                 f'{owner}. CAA 0 issue "{ISSUER_DOMAIN}; accounturi={account.uri}").'))
                continue
        methods = params.get("validationmethods")
        if methods is not None and not method_matches(methods, mode.method):
            refusals.append((f"{record.text()} allows only {methods}; {mode.label} validates with {mode.method}",
                             f"Add {mode.method} to validationmethods in the CAA record at {owner} (comma-"
                             "separated, no spaces)" + (", or use the DNS-01 HTTPS mode (acme-dns)"
                                                        if mode.method != "dns-01" else "") + "."))
            continue
        reason = f"{record.text()} allows Let's Encrypt"
        if accounturi is not None and not _admits_staging(issue):
            reason += (" (for this account only: the wizard's rehearsal on Let's Encrypt's staging CA orders from a "
                       f"staging account, which no record admits, so that rehearsal would be refused; prefixes "
                       f"{', '.join(ACCOUNT_URI_PREFIXES['staging'])})")
        return ModeVerdict(mode, Status.OK, reason, account=account)
    if uncertain:
        return ModeVerdict(mode, Status.WARNING, "cannot tell: " + "; ".join(uncertain),
                           f"Once the account exists, check again; or let the record at {owner} admit the account "
                           f"{mode.label} uses.", account)
    why = "; ".join(reason for reason, _ in refusals)
    fix = next(iter(dict.fromkeys(fix for _, fix in refusals)))
    return ModeVerdict(mode, Status.ERROR, why, fix, account)


def diagnose_caa(domain: str, levels: Sequence[Reply | list[Reply]], accounts: Mapping[str, Account] | None = None,
                 chosen: str | None = None, modes: Sequence[HttpsMode] = MODES) -> Diagnosis:
    """The ``dns.caa`` diagnosis from the CAA lookups of ``domain`` and each parent (``levels``: a ``Reply`` or
    the list of failed replies per name, nearest first, as ``DnsCheck.caa`` returns them).

    ``accounts`` maps a mode name to the ``Account`` it orders with (missing: not known); ``chosen`` is the
    ``https.mode`` answer, if any. ``data``: ``name`` (where the set was found), ``owner`` (where the records live:
    the CNAME target when the name is an alias), ``records``, ``modes`` ({mode: verdict json})."""
    from wizard.dns.check import ancestors, describe_failures

    accounts = accounts or {}
    names = ancestors(domain)
    for name, reply in zip(names, levels):
        if isinstance(reply, list) and any(failure.rcode == "SERVFAIL" for failure in reply):
            return Diagnosis("dns.caa", Status.ERROR, f"the CAA lookup for {name} failed: Let's Encrypt will refuse "
                             "to issue", describe_failures(reply),
                             f"Make the nameservers of {name} answer CAA queries (a SERVFAIL there is often broken "
                             "DNSSEC, a lame delegation — see dns.zone and dns.dnssec — or a nameserver that "
                             "mishandles unknown record types).", {"name": name})
        if isinstance(reply, list):  # the resolvers' trouble (no answer, refused), not the domain's
            return Diagnosis("dns.caa", Status.WARNING, f"could not check CAA at {name}", describe_failures(reply),
                             "Run the check again, or with other public resolvers.", {"name": name})
        walk = reply.walk()
        if not walk.records:
            continue
        records = [CaaRecord.from_text(text) for text in walk.records]
        owner = walk.final
        where = f"{owner} (the CNAME target of {name})" if walk.hops else name
        verdicts = [judge(records, mode, accounts.get(mode.name) or unknown_account(mode), owner) for mode in modes]
        details = "\n".join([f"{owner} CAA {r.text()}" for r in records]
                            + ([f"{name} is an alias (CNAME) of {owner}: a name that holds a CNAME cannot hold "
                                "other records, so the CAA records to change are the target's"] if walk.hops else [])
                            + [f"{v.mode.name} ({v.mode.method}): {v.status.value}: {v.reason}" for v in verdicts])
        data = {"name": name, "owner": owner, "records": walk.records,
                "modes": {v.mode.name: v.to_json() for v in verdicts}}
        if not any(r.tag.lower() == "issue" for r in records) and all(v.status is Status.OK for v in verdicts):
            only = ("restricts only wildcard certificates (issuewild)" if any(r.tag.lower() == "issuewild"
                                                                               for r in records)
                    else "has no issue record")
            return Diagnosis("dns.caa", Status.OK, f"CAA at {where} {only}; any CA may issue for {domain}", details,
                             data=data)
        judged = _combine(where, verdicts, chosen, details, data)
        if walk.hops and judged.fix:
            judged.fix += (f" The records are {owner}'s: {name} is a CNAME to it, and a name that holds a CNAME "
                           "cannot hold other records.")
        return judged
    return Diagnosis("dns.caa", Status.OK, f"no CAA record at {domain} or its parents: any CA may issue",
                     data={"name": None, "records": [], "modes": {}})


def _combine(where: str, verdicts: list[ModeVerdict], chosen: str | None, details: str,
             data: dict[str, Any]) -> Diagnosis:
    by_name = {v.mode.name: v for v in verdicts}
    if chosen in ("existing", "none"):  # no certificate is ordered from Let's Encrypt: what CAA says is for later
        judged = _combine(where, verdicts, None, details, data)
        if judged.status is Status.ERROR:
            judged.status = Status.WARNING
            judged.summary += f" (HTTPS mode {chosen} orders nothing from Let's Encrypt: this matters only if that "
            judged.summary += "changes)"
        return judged
    if chosen in by_name:
        verdict = by_name[chosen]
        others = [v for v in verdicts if v is not verdict and v.status is Status.OK]
        if verdict.status is Status.OK:
            return Diagnosis("dns.caa", Status.OK, f"CAA at {where} allows Let's Encrypt for mode {chosen} "
                             f"({verdict.mode.method})", details, data=data)
        also = (f"; mode {others[0].mode.name} ({others[0].mode.method}) would be allowed" if others else "")
        summary = f"CAA at {where} blocks mode {chosen}: {verdict.reason}"
        if verdict.status is Status.WARNING:
            summary = f"CAA at {where}: mode {chosen} {verdict.reason}"
        return Diagnosis("dns.caa", verdict.status, summary + also, details, verdict.fix, data)
    statuses = {v.status for v in verdicts}
    if statuses == {Status.OK}:
        return Diagnosis("dns.caa", Status.OK, f"CAA at {where} allows Let's Encrypt", details, data=data)
    blocked = [v for v in verdicts if v.status is not Status.OK]
    first = blocked[0]
    if statuses == {Status.ERROR}:
        reasons = list(dict.fromkeys(v.reason for v in verdicts))
        summary = (_issuer_summary(where, verdicts) or
                   f"CAA at {where} forbids Let's Encrypt for every HTTPS mode: {'; '.join(reasons)}")
        return Diagnosis("dns.caa", Status.ERROR, summary, details, first.fix, data)
    allowed = [v for v in verdicts if v.status is Status.OK]
    summary = "; ".join(f"mode {v.mode.name} ({v.mode.method}): {v.reason}" for v in blocked)
    if allowed:
        summary += "; allowed for " + ", ".join(f"mode {v.mode.name} ({v.mode.method})" for v in allowed)
    return Diagnosis("dns.caa", Status.WARNING, f"CAA at {where} allows Let's Encrypt only for some modes: {summary}",
                     details, first.fix, data)


def _issuer_summary(where: str, verdicts: list[ModeVerdict]) -> str | None:
    """The short summaries for sets that name no usable Let's Encrypt record at all (the same for every mode)."""
    reason = verdicts[0].reason
    if any(v.reason != reason for v in verdicts):
        return None
    if reason == 'issue ";" forbids every CA':
        return f"CAA at {where} forbids every CA"
    names = re.findall(r'"([^"]*)" names another CA', reason)
    if names and reason == "; ".join(f'"{n}" names another CA' for n in names):
        return f"CAA at {where} allows only {', '.join(sorted(set(names)))}, not Let's Encrypt"
    return None


# ---------------------------------------------------------------------------------------------------------------
# where the ordering accounts are read (read-only)

# Run on the hub as root: prints the account URI of Traefik's "letsencrypt" resolver (TLJH's traefik.toml names it
# so) and nothing of the account's private key, which stays on the hub.
_ACME_JSON_SCRIPT = """
import json, sys

try:
    with open(sys.argv[1]) as handle:
        text = handle.read()
except FileNotFoundError:
    print("missing"); sys.exit(0)
try:
    data = json.loads(text) if text.strip() else {}
except ValueError:
    print("unreadable"); sys.exit(0)
resolver = data.get("letsencrypt") if isinstance(data, dict) else None
account = resolver.get("Account") if isinstance(resolver, dict) else None
registration = account.get("Registration") if isinstance(account, dict) else None
uri = registration.get("uri") if isinstance(registration, dict) else None
print("uri " + uri if isinstance(uri, str) and uri else "none")
"""


def traefik_account(target: HubTarget) -> Account:
    """The ACME account TLJH's Traefik orders with: ``PREFIX/state/acme.json`` on the hub, read as root without
    copying the account key off the hub. An unknown account (no file, an emptied file, no SSH) is ``uri=None``."""
    path = f"{target.prefix}/state/acme.json"
    try:
        result = target.run(["python3", "-c", _ACME_JSON_SCRIPT, path], sudo=True, timeout=30)
    except Exception as exc:  # the hub could not be asked: the account stays unknown, and the reason is shown
        return Account(None, f"could not read the hub's {path}: {exc}")
    out = result.stdout.decode("utf-8", "replace").strip() if result.ok else ""
    if out.startswith("uri "):
        return Account(out[4:], f"the hub's {path}")
    why = {"missing": "does not exist yet", "none": "holds no account yet",
           "unreadable": "is not valid JSON"}.get(out, "could not be read")
    return Account(None, f"the hub's {path} {why}")


def session_account(read: Callable[[str], bytes | None] | None, directory_url: str) -> Account:
    """The account the wizard's DNS-01 client orders with from ``directory_url`` (stored in the session by
    ``wizard.https.acme_dns``), or ``uri=None`` before its first order. ``read(name) -> bytes | None`` reads a file
    of the session's secret store (``Session.read_secret``, the audit's read-only ``AuditSubject.stored``)."""
    import json

    from wizard.https.acme_dns import _account_record_name

    stored = read(_account_record_name(directory_url)) if read is not None else None
    try:
        uri = json.loads(stored).get("uri") if stored else None
    except (ValueError, AttributeError):
        uri = None
    if uri:
        return Account(uri, "the account stored in this session")
    return Account(None, "no account stored in this session yet (one is registered at the first order)")


def known_accounts(session: Session | None = None, target: HubTarget | None = None) -> dict[str, Account]:
    """Both modes' accounts, as far as they can be known: Traefik's from the hub (when connected), the wizard's
    from the session (its production directory)."""
    out: dict[str, Account] = {}
    if target is not None:
        out["letsencrypt"] = traefik_account(target)
    if session is not None:
        from wizard.answers import LE_PRODUCTION

        url = session.answers.get("https.production_directory") or LE_PRODUCTION
        out["acme-dns"] = session_account(session.read_secret, url)
    return out
