"""Mode acme-dns against the real Pebble and BIND fixtures: issuance, account reuse, and TXT cleanup on every path."""

from __future__ import annotations

import itertools
import stat

import pytest
from cryptography import x509
from cryptography.x509 import verification

from tests.rig.pebble import PebbleServer
from wizard.https.acme_dns import (
    ACCOUNT_KEY,
    AcmeDirectory,
    AcmeDnsError,
    AcmeDnsIssuer,
    DirectoryStore,
    TermsNotAgreed,
    ValidationFailed,
    terms_of_service,
)
from wizard.https.dnsupdate import DnsUpdateError, Rfc2136
from wizard.https.progress import PHASES, Cancelled, CancelToken
from wizard.https.ratelimit import MemoryStore, RateLimitGuard, RateLimitRefused

_serial = itertools.count(1)


@pytest.fixture
def names(request):
    """Fresh names per test (the zone is shared by the session)."""
    n = next(_serial)
    return [f"hub{n}.wizard.test", f"www{n}.wizard.test"]


def challenge_records(bind_server, names):
    return {name: bind_server.query(f"_acme-challenge.{name}.", "TXT") for name in names}


def no_records(bind_server, names):
    return all(values == [] for values in challenge_records(bind_server, names).values())


def rfc2136(bind_server, secret=None):
    return Rfc2136("127.0.0.1", bind_server.port, bind_server.zone, bind_server.key_name,
                   secret or bind_server.key_secret)


def issuer(bind_server, pebble_like, store_dir, *, progress=None, production=False, **kwargs):
    directory = AcmeDirectory(pebble_like.directory_url, production=production,
                              ca_bundle=str(pebble_like.ca_cert_path))
    return AcmeDnsIssuer(directory, DirectoryStore(store_dir), kwargs.pop("dns", None) or rfc2136(bind_server),
                         email="admin@wizard.test", tos_agreed=kwargs.pop("tos_agreed", True),
                         nameserver_port=bind_server.port, progress=progress or (lambda phase, message: None),
                         **kwargs)


def pebble_accounts(pebble) -> int:
    counts = [int(line.split("There are now ")[1].split()[0])
              for line in pebble.server.output().splitlines() if "accounts in memory" in line]
    return counts[-1] if counts else 0


def test_full_issuance_chains_to_pebbles_root_and_leaves_no_txt(bind_server, pebble, tmp_path, names):
    phases, seen_during_validation = [], {}

    def progress(phase, message):
        phases.append(phase)
        if phase == "validate" and not seen_during_validation:
            seen_during_validation.update(challenge_records(bind_server, names))

    issued = issuer(bind_server, pebble, tmp_path / "store", progress=progress).issue(names)

    chain = x509.load_pem_x509_certificates(issued.fullchain_pem)
    root = x509.load_pem_x509_certificate(pebble.root_pem().encode())
    verifier = (verification.PolicyBuilder().store(verification.Store([root]))
                .build_server_verifier(x509.DNSName(names[1])))
    verified = verifier.verify(chain[0], chain[1:])
    assert verified[-1] == root
    san = chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(san.get_values_for_type(x509.DNSName)) == sorted(names)
    assert issued.not_after == chain[0].not_valid_after_utc.isoformat(timespec="seconds")
    assert chain[0].not_valid_before_utc.isoformat() < issued.renewal_time < issued.not_after
    # the records were really published (both names), and are gone afterwards
    assert all(len(values) == 1 for values in seen_during_validation.values()), seen_during_validation
    assert no_records(bind_server, names)
    assert [p for p in PHASES if p in phases] == ["account", "order", "publish", "propagate", "validate",
                                                  "finalize"]
    assert stat.S_IMODE((tmp_path / "store" / ACCOUNT_KEY).stat().st_mode) == 0o600


def test_the_account_key_is_reused_on_a_second_order(bind_server, pebble, tmp_path, names):
    messages = []
    first = issuer(bind_server, pebble, tmp_path / "store", progress=lambda p, m: messages.append(m)).issue(names)
    key = (tmp_path / "store" / ACCOUNT_KEY).read_bytes()
    accounts = pebble_accounts(pebble)
    second = issuer(bind_server, pebble, tmp_path / "store",
                    progress=lambda p, m: messages.append(m)).issue(names[:1])
    assert second.account_url == first.account_url
    assert (tmp_path / "store" / ACCOUNT_KEY).read_bytes() == key
    assert pebble_accounts(pebble) == accounts  # Pebble registered no second account
    assert sum(m.startswith("registered account") for m in messages) == 1
    assert f"using the existing account {first.account_url}" in messages
    assert x509.load_pem_x509_certificates(second.fullchain_pem)[0].serial_number != \
        x509.load_pem_x509_certificates(first.fullchain_pem)[0].serial_number


def test_an_account_the_ca_forgot_is_registered_again_with_the_same_key(bind_server, tmp_path, names):
    with PebbleServer(tmp_path / "pebble", bind_server.address) as own:
        issuer(bind_server, own, tmp_path / "store").issue(names[:1])
        key = (tmp_path / "store" / ACCOUNT_KEY).read_bytes()
        own.stop()
        own.start()  # same address, empty memory: the stored account is unknown now
        messages = []
        issued = issuer(bind_server, own, tmp_path / "store", progress=lambda p, m: messages.append(m)).issue(names)
    assert issued.fullchain_pem.startswith(b"-----BEGIN CERTIFICATE-----")
    assert "the CA no longer knows the stored account: registering the same key again" in messages
    assert (tmp_path / "store" / ACCOUNT_KEY).read_bytes() == key


def test_terms_of_service_are_surfaced_and_must_be_agreed(bind_server, pebble, tmp_path, names):
    directory = AcmeDirectory(pebble.directory_url, production=False, ca_bundle=str(pebble.ca_cert_path))
    url = terms_of_service(directory)
    assert url == "data:text/plain,Do%20what%20thou%20wilt"
    accounts = pebble_accounts(pebble)
    with pytest.raises(TermsNotAgreed) as refused:
        issuer(bind_server, pebble, tmp_path / "store", tos_agreed=False).issue(names)
    assert refused.value.url == url
    assert pebble_accounts(pebble) == accounts


def test_a_wrong_tsig_secret_is_a_clear_error_and_publishes_nothing(bind_server, pebble, tmp_path, names):
    wrong = rfc2136(bind_server, secret="d3Jvbmcgc2VjcmV0IHdyb25nIHNlY3JldCB3cm9uZyE=")
    with pytest.raises(DnsUpdateError) as failed:
        issuer(bind_server, pebble, tmp_path / "store", dns=wrong).issue(names)
    assert str(failed.value) == (f"127.0.0.1:{bind_server.port} rejected the update's TSIG signature (BADSIG): "
                                 f"the secret of key {bind_server.key_name} is wrong; publishing the TXT records "
                                 "was not applied")
    assert no_records(bind_server, names)


def test_pebble_unreachable_at_finalize_still_removes_the_records(bind_server, tmp_path, names):
    with PebbleServer(tmp_path / "pebble", bind_server.address) as own:
        published = {}

        def progress(phase, message):
            if phase == "finalize" and own.process is not None:
                published.update(challenge_records(bind_server, names))
                own.stop()  # the CA goes away between validation and finalization

        with pytest.raises(AcmeDnsError, match="cannot reach the ACME server"):
            issuer(bind_server, own, tmp_path / "store", progress=progress).issue(names)
    assert all(len(values) == 1 for values in published.values()) and len(published) == 2
    assert no_records(bind_server, names)


def test_a_propagation_timeout_removes_the_records(bind_server, pebble, tmp_path, names):
    from tests.rig.bind import BindServer, zone_text
    from wizard.https.propagation import PropagationTimeout

    published = {}

    def progress(phase, message):
        if phase == "propagate" and not published:
            published.update(challenge_records(bind_server, names))

    # the nameserver asked is a lagging copy of the zone that never receives the update
    lagging = BindServer(tmp_path / "lagging", {"wizard.test.": zone_text("wizard.test.", {"ns.wizard.test.":
                                                                                          ["127.0.0.1"]})})
    with lagging:
        stuck = issuer(bind_server, pebble, tmp_path / "store", progress=progress, propagation_timeout=0)
        stuck.nameserver_port = lagging.port
        with pytest.raises(PropagationTimeout, match="not every authoritative nameserver serves the challenge"):
            stuck.issue(names)
    assert all(len(values) == 1 for values in published.values()) and len(published) == 2
    assert no_records(bind_server, names)


@pytest.mark.parametrize("phase", ["propagate", "validate", "finalize"])
def test_ctrl_c_removes_the_records(bind_server, pebble, tmp_path, names, phase):
    def progress(current, message):
        if current == phase:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        issuer(bind_server, pebble, tmp_path / "store", progress=progress).issue(names)
    assert no_records(bind_server, names)


def test_cancel_while_waiting_for_propagation_removes_the_records(bind_server, pebble, tmp_path, names):
    cancel = CancelToken()

    def progress(phase, message):
        if phase == "propagate":
            cancel.cancel()

    with pytest.raises(Cancelled):
        issuer(bind_server, pebble, tmp_path / "store", progress=progress, cancel=cancel).issue(names)
    assert no_records(bind_server, names)


def test_a_failed_validation_is_recorded_and_the_records_removed(bind_server, pebble, tmp_path, names):
    guard = RateLimitGuard(MemoryStore())
    guard.record(names, production=False, passed=True)

    def progress(phase, message):  # the challenge record vanishes before the CA looks at it
        if phase == "validate" and message.startswith("answering"):
            bind_server.delete(f"_acme-challenge.{names[0]}.", "TXT")

    # production=True on Pebble: the guard counts the failure as it would against Let's Encrypt
    with pytest.raises(ValidationFailed, match=f"the CA could not validate {names[0]}"):
        issuer(bind_server, pebble, tmp_path / "store", progress=progress, production=True,
               guard=guard).issue(names)
    assert no_records(bind_server, names)
    assert len(guard.store.load()["failures"][names[0]]) == 1


def test_the_guard_stops_an_unstaged_production_order_before_any_request(bind_server, pebble, tmp_path, names):
    guard = RateLimitGuard(MemoryStore())
    with pytest.raises(RateLimitRefused):
        issuer(bind_server, pebble, tmp_path / "store", production=True, guard=guard).issue(names)
    assert not (tmp_path / "store" / ACCOUNT_KEY).exists()
