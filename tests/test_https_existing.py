"""Mode "existing": each way an operator's certificate can be wrong is refused with its own message."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.rig.pki import NOW, TestPKI
from wizard.diagnosis import Status, worst
from wizard.https.existing import check_existing, check_existing_files

DOMAIN = "hub.example.test"


@pytest.fixture(scope="module")
def pki():
    return TestPKI()


def errors(results):
    return {d.id: d.summary for d in results if d.status is Status.ERROR}


def test_a_good_certificate_is_accepted(pki):
    leaf = pki.leaf(DOMAIN)
    results = check_existing(pki.fullchain(leaf), leaf.key_pem, [DOMAIN])
    assert worst(results) is Status.OK
    assert {d.id for d in results} == {"https.existing.key", "https.existing.names", "https.existing.expiry",
                                       "https.existing.chain"}


def test_a_wildcard_covers_one_label(pki):
    leaf = pki.leaf("*.example.test")
    assert worst(check_existing(pki.fullchain(leaf), leaf.key_pem, [DOMAIN])) is Status.OK
    assert "https.existing.names" in errors(check_existing(pki.fullchain(leaf), leaf.key_pem, ["a.hub.example.test"]))


def test_a_mismatched_key_is_refused(pki):
    leaf, other = pki.leaf(DOMAIN), pki.leaf(DOMAIN)
    assert errors(check_existing(pki.fullchain(leaf), other.key_pem, [DOMAIN])) == {
        "https.existing.key": "the private key does not match the certificate"}


def test_a_wrong_name_is_refused(pki):
    leaf = pki.leaf("other.example.test")
    assert errors(check_existing(pki.fullchain(leaf), leaf.key_pem, [DOMAIN, "other.example.test"])) == {
        "https.existing.names": "the certificate does not cover hub.example.test (it names other.example.test)"}


def test_an_expired_certificate_is_refused(pki):
    leaf = pki.leaf(DOMAIN, not_before=NOW - dt.timedelta(days=100), not_after=NOW - dt.timedelta(days=10))
    found = errors(check_existing(pki.fullchain(leaf), leaf.key_pem, [DOMAIN]))
    assert list(found) == ["https.existing.expiry"]
    assert found["https.existing.expiry"].startswith("the certificate expired on ")


def test_a_certificate_expiring_within_14_days_is_refused(pki):
    leaf = pki.leaf(DOMAIN, not_after=NOW + dt.timedelta(days=10, hours=1))
    found = errors(check_existing(pki.fullchain(leaf), leaf.key_pem, [DOMAIN]))
    assert list(found) == ["https.existing.expiry"]
    assert found["https.existing.expiry"].startswith("the certificate expires in 10 days (")
    assert found["https.existing.expiry"].endswith("at least 14 are required")


def test_fifteen_days_left_is_enough(pki):
    leaf = pki.leaf(DOMAIN, not_after=NOW + dt.timedelta(days=15))
    assert worst(check_existing(pki.fullchain(leaf), leaf.key_pem, [DOMAIN])) is Status.OK


def test_a_missing_chain_is_refused(pki):
    leaf = pki.leaf(DOMAIN)
    found = errors(check_existing(leaf.cert_pem, leaf.key_pem, [DOMAIN]))
    assert found == {"https.existing.chain": "the intermediate certificate is missing: the file holds only the "
                                             "server certificate, issued by Test Intermediate E1"}


def test_a_chain_in_the_wrong_order_is_refused(pki):
    leaf = pki.leaf(DOMAIN)
    found = errors(check_existing(leaf.cert_pem + pki.root_pem, leaf.key_pem, [DOMAIN]))
    assert found["https.existing.chain"].startswith("the chain is broken: certificate 2 (Test Root X1) did not issue")


def test_every_problem_is_reported_at_once(pki):
    leaf = pki.leaf("other.example.test", not_after=NOW + dt.timedelta(days=3))
    found = errors(check_existing(leaf.cert_pem, pki.leaf(DOMAIN).key_pem, [DOMAIN]))
    assert set(found) == {"https.existing.key", "https.existing.names", "https.existing.expiry",
                          "https.existing.chain"}


def test_files_that_are_not_pem_are_refused_without_a_traceback(pki, tmp_path):
    leaf = pki.leaf(DOMAIN)
    (tmp_path / "cert.pem").write_bytes(b"hello")
    (tmp_path / "key.pem").write_bytes(leaf.key_pem)
    found = errors(check_existing_files(tmp_path / "cert.pem", tmp_path / "key.pem", [DOMAIN]))
    assert list(found) == ["https.existing.certificate"]
    assert "no PEM certificate found" in found["https.existing.certificate"]
    found = errors(check_existing_files(tmp_path / "missing.pem", tmp_path / "key.pem", [DOMAIN]))
    assert "missing.pem: no such certificate file" in found["https.existing.certificate"]
    (tmp_path / "cert.pem").write_bytes(pki.fullchain(leaf))
    (tmp_path / "key.pem").write_bytes(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nxx\n-----END ENCRYPTED PRIVATE KEY-----\n")
    found = errors(check_existing_files(tmp_path / "cert.pem", tmp_path / "key.pem", [DOMAIN]))
    assert "protected by a passphrase" in found["https.existing.key"]
