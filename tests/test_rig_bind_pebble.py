"""Smoke tests of the real-server rig: the fixture BIND answers and takes TSIG updates; the fixture Pebble serves
its ACME directory and validates through that BIND."""

import json
import ssl
import urllib.request

import dns.asyncquery
import dns.asyncresolver
import dns.message
import dns.query
import dns.rcode
import dns.tsig
import dns.tsigkeyring
import dns.update
import pytest

from tests.rig.bind import BindServer, BindStartError, new_tsig_secret, zone_text


def fixture_resolver(bind_server) -> dns.asyncresolver.Resolver:
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = [bind_server.host]
    resolver.port = bind_server.port
    resolver.cache = None
    return resolver


async def test_bind_answers_for_its_zone(bind_server):
    answer = await fixture_resolver(bind_server).resolve("ns.wizard.test.", "A")
    assert [rdata.address for rdata in answer] == ["127.0.0.1"]
    soa = await fixture_resolver(bind_server).resolve("wizard.test.", "SOA")
    assert soa.rrset.name.to_text() == "wizard.test."


async def test_bind_answers_on_ipv6_loopback(bind_server):
    reply = await dns.asyncquery.udp(dns.message.make_query("wizard.test.", "NS"), "::1", port=bind_server.port,
                                     timeout=5)
    assert [rdata.to_text() for rrset in reply.answer for rdata in rrset] == ["ns.wizard.test."]


async def test_tsig_signed_update_is_served(bind_server):
    keyring = dns.tsigkeyring.from_text({bind_server.key_name: (bind_server.algorithm, bind_server.key_secret)})
    update = dns.update.UpdateMessage(bind_server.zone, keyring=keyring, keyname=bind_server.key_name,
                                      keyalgorithm=dns.tsig.HMAC_SHA256)
    update.add("_acme-challenge.smoke", 60, "TXT", '"token-1"')
    reply = await dns.asyncquery.tcp(update, bind_server.host, port=bind_server.port, timeout=5)
    assert reply.rcode() == dns.rcode.NOERROR
    try:
        answer = await fixture_resolver(bind_server).resolve("_acme-challenge.smoke.wizard.test.", "TXT")
        assert [rdata.to_text() for rdata in answer] == ['"token-1"']
    finally:
        bind_server.delete("_acme-challenge.smoke", "TXT")
    assert bind_server.query("_acme-challenge.smoke", "TXT") == []


async def test_update_with_wrong_tsig_secret_is_refused(bind_server):
    keyring = dns.tsigkeyring.from_text({bind_server.key_name: (bind_server.algorithm, new_tsig_secret())})
    update = dns.update.UpdateMessage(bind_server.zone, keyring=keyring, keyname=bind_server.key_name,
                                      keyalgorithm=dns.tsig.HMAC_SHA256)
    update.add("forged", 60, "A", "192.0.2.66")
    with pytest.raises(dns.tsig.PeerBadSignature):
        await dns.asyncquery.tcp(update, bind_server.host, port=bind_server.port, timeout=5)
    assert bind_server.query("forged", "A") == []


async def test_unsigned_update_is_refused(bind_server):
    update = dns.update.UpdateMessage(bind_server.zone)
    update.add("unsigned", 60, "A", "192.0.2.67")
    reply = await dns.asyncquery.tcp(update, bind_server.host, port=bind_server.port, timeout=5)
    assert reply.rcode() == dns.rcode.REFUSED
    assert bind_server.query("unsigned", "A") == []


def test_record_helpers_round_trip(bind_server):
    with bind_server.records("helper", "AAAA", "2001:db8::7", "2001:db8::8"):
        assert bind_server.query("helper", "AAAA") == ["2001:db8::7", "2001:db8::8"]
    assert bind_server.query("helper", "AAAA") == []


def test_bind_start_failure_carries_named_stderr(tmp_path):
    broken = zone_text("broken.test.", {"ns.broken.test.": ["127.0.0.1"]}, records="bad-record IN A not-an-address")
    with pytest.raises(BindStartError) as raised:
        BindServer(tmp_path, {"broken.test.": broken}).start()
    assert "not-an-address" in str(raised.value) or "bad dotted quad" in str(raised.value)


def test_pebble_serves_its_acme_directory(pebble):
    from acme import client, messages

    net = client.ClientNetwork(key=None, verify_ssl=str(pebble.ca_cert_path))
    directory = messages.Directory.from_json(net.get(pebble.directory_url).json())
    assert directory.newOrder.startswith("https://127.0.0.1:")
    assert directory.newAccount.startswith("https://127.0.0.1:")


def test_pebble_root_is_a_ca_certificate(pebble):
    from cryptography import x509

    root = x509.load_pem_x509_certificate(pebble.root_pem().encode())
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert "Pebble" in root.subject.rfc4514_string()


def test_pebble_listener_is_refused_without_the_test_ca(pebble):
    with pytest.raises(urllib.error.URLError) as raised:
        urllib.request.urlopen(pebble.directory_url, context=ssl.create_default_context(), timeout=5)
    assert isinstance(raised.value.reason, ssl.SSLCertVerificationError)
    with urllib.request.urlopen(pebble.directory_url, context=ssl.create_default_context(
            cafile=str(pebble.ca_cert_path)), timeout=5) as reply:
        assert "newNonce" in json.load(reply)


def test_pebble_validates_dns01_through_the_fixture_bind(pebble, bind_server):
    """An issuance whose DNS-01 record exists only in the fixture BIND: proves Pebble resolves through it."""
    import datetime

    import josepy
    from acme import challenges, client, crypto_util, messages
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    account_key = josepy.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    net = client.ClientNetwork(account_key, alg=josepy.ES256, verify_ssl=str(pebble.ca_cert_path))
    acme = client.ClientV2(client.ClientV2.get_directory(pebble.directory_url, net), net)
    acme.new_account(messages.NewRegistration.from_data(email="ops@wizard.test", terms_of_service_agreed=True))
    domain_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    order = acme.new_order(crypto_util.make_csr(domain_key, ["smoke.wizard.test"]))
    (authz,) = order.authorizations
    dns01 = next(c for c in authz.body.challenges if isinstance(c.chall, challenges.DNS01))
    record = dns01.chall.validation_domain_name("smoke.wizard.test")
    with bind_server.records(record + ".", "TXT", f'"{dns01.chall.validation(account_key)}"'):
        acme.answer_challenge(dns01, dns01.response(account_key))
        deadline = datetime.datetime.now() + datetime.timedelta(seconds=30)
        order = acme.poll_and_finalize(order, deadline=deadline)
    chain = x509.load_pem_x509_certificates(order.fullchain_pem.encode())
    leaf = chain[0]
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName)
    assert names == ["smoke.wizard.test"]
    root = x509.load_pem_x509_certificate(pebble.root_pem().encode())
    assert chain[-1].issuer == root.subject


def test_pebble_start_failure_carries_its_output(tmp_path, bind_server):
    import socket

    from tests.rig.pebble import PebbleServer, PebbleStartError

    server = PebbleServer(tmp_path, bind_server.address)
    with socket.socket() as squatter:  # the ACME port is taken: pebble cannot listen and exits
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", server.port))
        squatter.listen(1)
        with pytest.raises(PebbleStartError) as raised:
            server.start()
    assert "address already in use" in str(raised.value)
    assert server.process is None


async def test_the_dns_check_runs_against_the_fixture_bind(bind_server):
    from wizard.diagnosis import Status
    from wizard.dns.check import DnsCheck

    with bind_server.records("rigcheck", "A", "127.0.0.1"):
        check = DnsCheck("rigcheck.wizard.test", "127.0.0.1", resolvers=[bind_server.address],
                         nameserver_port=bind_server.port)
        diagnoses = await check.run()
    statuses = {d.id: d.status for d in diagnoses}
    assert statuses.pop("dns.authoritative") is Status.SKIPPED  # one nameserver: nothing to compare
    assert set(statuses.values()) == {Status.OK}, [d.summary for d in diagnoses if d.status is not Status.OK]
