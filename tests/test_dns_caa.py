"""The CAA rules of ``wizard.dns.caa`` held against the cases of Boulder's ``va/caa_test.go`` (``TestCAAChecking``:
the case names are quoted) and RFC 8657/8659. The same rules against real BIND servers and resolvers are in
``tests/test_dns_letsencrypt.py``."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wizard.diagnosis import Status
from wizard.dns.caa import (
    MODES,
    Account,
    CaaRecord,
    Malformed,
    account_matches,
    judge,
    method_matches,
    parse_issue_value,
)

LE = {mode.name: mode for mode in MODES}
ACCOUNT = Account("https://acme-v02.api.letsencrypt.org/acme/acct/123", "test")


def verdict(*texts, mode="letsencrypt", account=ACCOUNT):
    return judge([CaaRecord.from_text(text) for text in texts], LE[mode], account, "example.com").status


@pytest.mark.parametrize("boulder_case, records, expected", [
    ("Bad (Reserved)", ['0 issue "ca.com"'], Status.ERROR),
    ("Good (present and valid)", ['0 issue "letsencrypt.org"'], Status.OK),
    ("Good (unknown non-critical, no issue/issuewild)", ['126 foo "bar"'], Status.OK),
    ("Bad (unknown critical)", ['128 foo "bar"'], Status.ERROR),
    ("Bad (unknown critical 2)", ['1 foo "bar"'], Status.ERROR),
    ("Good (multiple critical, one matching)", ['1 issue "ca.com"', '1 issue "letsencrypt.org"'], Status.OK),
    ("Bad (unsatisfiable issue record)", ['0 issue ";"'], Status.ERROR),
    ("issuewild only (RFC 8659 §4.3)", ['0 issuewild ";"'], Status.OK),
    ("critical iodef is known", ['128 iodef "mailto:ca@example.com"', '0 issue "letsencrypt.org"'], Status.OK),
])
def test_rule_critical_flags(boulder_case, records, expected):
    assert verdict(*records) is expected, boulder_case


def test_rule_mixed_case_tag():
    """"Bad (Reserved, Mixed case Issue)": iSsUe is an issue record (here naming Let's Encrypt, so it allows)."""
    assert verdict('0 iSsUe "ca.com"') is Status.ERROR
    assert verdict('0 iSsUe "letsencrypt.org"') is Status.OK


@pytest.mark.parametrize("value, expected", [
    ("  letsencrypt.org  ;foo=bar;baz=bar", ("letsencrypt.org", {"foo": "bar", "baz": "bar"})),  # unknown params
    ("letsencrypt.org;", ("letsencrypt.org", {})),
    ("letsencrypt.org; ", ("letsencrypt.org", {})),
    (";", ("", {})),
    ("letsencrypt.org.", ("letsencrypt.org.", {})),
    ("LetsEncrypt.org", ("LetsEncrypt.org", {})),
    ("letsencrypt.org; accounturi=https://x/acct/1=2", ("letsencrypt.org", {"accounturi": "https://x/acct/1=2"})),
    ("letsencrypt.org; a=", ("letsencrypt.org", {"a": ""})),
])
def test_rule_issue_value_grammar(value, expected):
    assert parse_issue_value(value) == expected


@pytest.mark.parametrize("value", [
    "letsencrypt.org; a_b=123",  # "Bad (issue rec with invalid tag)"
    "letsencrypt.org; ab=1 2 3",  # "Bad (issue rec with invalid value)"
    "letsencrypt.org; validationmethods=dns-01, tls-alpn-01",
    "letsencrypt.org; validation-methods=dns-01",  # Boulder's tag check admits letters and digits only
    "letsencrypt.org;;",
    "letsencrypt.org; a=b;",
    "letsencrypt.org; novalue",
])
def test_rule_malformed_values(value):
    with pytest.raises(Malformed):
        parse_issue_value(value)
    assert verdict(f'0 issue "{value}"') is Status.ERROR


def test_rule_issuer_compared_exactly():
    assert verdict('0 issue "letsencrypt.org."') is Status.ERROR
    assert verdict('0 issue "LetsEncrypt.org"') is Status.ERROR
    assert verdict('0 issue " letsencrypt.org\t"') is Status.OK


def test_rule_accounturi():
    uri = "https://acme-v02.api.letsencrypt.org/acme/acct/123"
    assert account_matches(uri, uri)
    assert account_matches("https://acme-v01.api.letsencrypt.org/acme/reg/123", uri)  # ACMEv1 URI, same number
    assert not account_matches("https://acme-v02.api.letsencrypt.org/acme/acct/321", uri)
    assert not account_matches("https://acme-staging-v02.api.letsencrypt.org/acme/acct/123", uri)
    assert not account_matches(uri + "/", uri)
    # "Good (restricts to multiple accounturi, tested with a correct account)"
    assert verdict('0 issue "letsencrypt.org; accounturi=https://acme-v02.api.letsencrypt.org/acme/acct/321"',
                   '0 issue "letsencrypt.org; accounturi=https://acme-v02.api.letsencrypt.org/acme/acct/123"') \
        is Status.OK
    # "Bad (restricts to accounturi, tested with incorrect account)"
    assert verdict('0 issue "letsencrypt.org; accounturi=https://acme-v02.api.letsencrypt.org/acme/acct/321"') \
        is Status.ERROR
    # the account is not known yet: cannot tell
    assert verdict('0 issue "letsencrypt.org; accounturi=https://acme-v02.api.letsencrypt.org/acme/acct/321"',
                   account=Account(None, "none yet")) is Status.WARNING


def test_rule_validationmethods():
    assert method_matches("dns-01", "dns-01")
    assert method_matches("http-01,dns-01", "dns-01")
    assert not method_matches("http-01,dns-01", "tls-alpn-01")
    assert not method_matches("DNS-01", "dns-01")
    assert method_matches("future-method,dns-01", "dns-01")  # unknown but well-formed methods are skipped
    assert not method_matches("dns_01,dns-01", "dns-01")  # a malformed item refuses the whole record
    assert method_matches("dns-01,", "dns-01")  # Boulder returns at the first match, before the empty item
    assert not method_matches(",dns-01", "dns-01")
    # "Bad (restricts to dns-01, but tested with http-01)": here per mode
    assert verdict('0 issue "letsencrypt.org; validationmethods=dns-01"', mode="letsencrypt") is Status.ERROR
    assert verdict('0 issue "letsencrypt.org; validationmethods=dns-01"', mode="acme-dns") is Status.OK
    assert verdict('0 issue "letsencrypt.org; validationmethods=tls-alpn-01"', mode="letsencrypt") is Status.OK


def test_rule_any_record_may_authorise():
    assert verdict('0 issue "ca.com"', '0 issue "letsencrypt.org; bad value"', '0 issue "letsencrypt.org"') \
        is Status.OK


@given(st.text(max_size=80))
def test_any_issue_value_parses_or_is_malformed(value):
    try:
        issuer, params = parse_issue_value(value)
    except Malformed as exc:
        assert str(exc)
    else:
        assert ";" not in issuer and all(";" not in key + val for key, val in params.items())


def test_traefik_account_is_read_from_the_hubs_acme_json(sshd_hub):
    """The account TLJH's Traefik orders with, read over SSH as root from PREFIX/state/acme.json (0600 root), in
    Traefik's layout; the account key never leaves the hub (only the URI is printed there)."""
    import json
    import os

    from wizard.dns.caa import traefik_account
    from wizard.hub.ssh import SSHTarget

    acme = sshd_hub.prefix / "state" / "acme.json"
    target = SSHTarget(sshd_hub.host, port=sshd_hub.port, user=sshd_hub.admin.name, key_file=str(sshd_hub.client_key),
                       allow_agent=False, look_for_keys=False, known_hosts_files=[sshd_hub.known_hosts],
                       prefix=str(sshd_hub.prefix))
    with target:
        acme.unlink(missing_ok=True)
        assert traefik_account(target) == Account(None, f"the hub's {acme} does not exist yet")
        acme.write_text("")
        os.chmod(acme, 0o600)
        assert traefik_account(target).uri is None
        acme.write_text(json.dumps({"letsencrypt": {"Account": {
            "Email": "ops@example.edu", "PrivateKey": "S2VlcCBtZSBvbiB0aGUgaHVi", "KeyType": "4096",
            "Registration": {"body": {"status": "valid"}, "uri": ACCOUNT.uri}}, "Certificates": []}}))
        assert traefik_account(target) == Account(ACCOUNT.uri, f"the hub's {acme}")


def test_session_account_is_the_stored_registration(tmp_path):
    from wizard.dns.caa import session_account
    from wizard.https.acme_dns import DirectoryStore, _account_record_name

    store = DirectoryStore(tmp_path)
    url = "https://acme-v02.api.letsencrypt.org/directory"
    assert session_account(store.read_secret, url).uri is None
    store.write_secret(_account_record_name(url), '{"uri": "%s", "body": {}}' % ACCOUNT.uri)
    assert session_account(store.read_secret, url) == Account(ACCOUNT.uri, "the account stored in this session")


def _reply(name, *caa_texts, rcode="NOERROR"):
    """A resolver's reply as dnspython builds it (recursion on), holding ``caa_texts`` as the CAA answer."""
    import dns.message
    import dns.rcode
    import dns.rrset

    from wizard.dns.check import Reply, Server

    response = dns.message.make_response(dns.message.make_query(name + ".", "CAA"))
    response.set_rcode(dns.rcode.from_text(rcode))
    if caa_texts:
        response.answer.append(dns.rrset.from_text(name + ".", 60, "IN", "CAA", *caa_texts))
    response = dns.message.from_wire(response.to_wire())  # as it arrives from the network
    return Reply(Server("192.0.2.53"), name, "CAA", True, rcode=rcode, message=response)


def test_rule_lookup_failure_before_the_set():
    """Boulder's selectCAA: an error at a level nearer than the relevant set blocks ("servfail.present.com"); one
    above the set does not ("Good (present w/ servfail exception?)")."""
    from wizard.dns.caa import diagnose_caa

    servfail = [_reply("servfail.com", rcode="SERVFAIL")]
    found = diagnose_caa("present.servfail.com", [_reply("present.servfail.com", '0 issue "letsencrypt.org"'),
                                                  servfail, _reply("com")])
    assert found.status is Status.OK and found.data["name"] == "present.servfail.com"
    found = diagnose_caa("servfail.present.com", [[_reply("servfail.present.com", rcode="SERVFAIL")],
                                                  _reply("present.com", '0 issue "letsencrypt.org"'), _reply("com")])
    assert found.status is Status.ERROR
    assert found.summary == "the CAA lookup for servfail.present.com failed: Let's Encrypt will refuse to issue"


def test_the_rules_table_names_tests_that_exist():
    import re
    from pathlib import Path

    import wizard.dns.caa

    named = set(re.findall(r"\b(test_\w+)", wizard.dns.caa.__doc__)) - {"test_dns_caa", "test_dns_check",
                                                                          "test_dns_letsencrypt"}
    here = Path(__file__).parent
    defined = {name for path in here.glob("test_dns*.py")
               for name in re.findall(r"^(?:async )?def (test_\w+)", path.read_text(), re.MULTILINE)}
    assert len(named) >= 12 and named <= defined, named - defined
