"""The test PKI (``tests/rig/pki.py``): the properties the HTTPS tests rely on."""

from cryptography import x509

from tests.rig.pki import TestPKI


def test_leaf_is_issued_by_the_intermediate_which_is_issued_by_the_root():
    pki = TestPKI()
    leaf = pki.leaf("hub.example.test")
    leaf.cert.verify_directly_issued_by(pki.intermediate.cert)
    pki.intermediate.cert.verify_directly_issued_by(pki.root.cert)


def test_leaf_names_are_in_the_subject_alternative_name():
    leaf = TestPKI().leaf("hub.example.test", "www.example.test")
    san = leaf.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["hub.example.test", "www.example.test"]
