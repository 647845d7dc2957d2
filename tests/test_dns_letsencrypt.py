"""DNS judged as Let's Encrypt judges it, against a real DNS world (BIND authoritative servers on port 53 of spare
loopback addresses, BIND recursive resolvers): CAA per HTTPS mode and ACME account, CNAME targets, broken DNSSEC,
refusing delegations, IPv6 wording, and the forms ``dns-check`` accepts."""

import pytest

from tests.rig.bind import DnsWorld, ZoneSpec
from wizard.diagnosis import Status
from wizard.dns.caa import Account
from wizard.dns.check import DnsCheck

HUB_V4 = "203.0.113.10"
ACCT = "https://acme-v02.api.letsencrypt.org/acme/acct/1234567"

ZONES = {
    "rules.test": ZoneSpec("\n".join([
        f"dot IN A {HUB_V4}", 'dot IN CAA 0 issue "letsencrypt.org."',
        f"acct IN A {HUB_V4}", f'acct IN CAA 0 issue "letsencrypt.org; accounturi={ACCT}"',
        f"spaced IN A {HUB_V4}", 'spaced IN CAA 0 issue "letsencrypt.org; validationmethods=dns-01, tls-alpn-01"',
        f"commas IN A {HUB_V4}", 'commas IN CAA 0 issue "letsencrypt.org; validationmethods=dns-01,tls-alpn-01"',
        f"dnsonly IN A {HUB_V4}", 'dnsonly IN CAA 0 issue "letsencrypt.org; validationmethods=dns-01"',
        f"crit1 IN A {HUB_V4}", 'crit1 IN CAA 1 foo "bar"', 'crit1 IN CAA 0 issue "letsencrypt.org"',
        "hub IN CNAME lb.forbids.test.",
        "other IN CNAME lb.parentforbids.test.",
    ])),
    "v6.test": ZoneSpec(f"hub IN A {HUB_V4}\nhub IN AAAA ::1"),
    "forbids.test": ZoneSpec(f'lb IN A {HUB_V4}\nlb IN CAA 0 issue "sectigo.com"'),
    "parentforbids.test": ZoneSpec(f'@ IN CAA 0 issue "sectigo.com"\nlb IN A {HUB_V4}'),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with DnsWorld(tmp_path_factory.mktemp("dns-le-world"), ZONES) as started:
        yield started


async def caa(world, domain, **options):
    check = DnsCheck(domain, HUB_V4, resolvers=world.resolvers, **options)
    found = {diagnosis.id: diagnosis for diagnosis in await check.run()}
    return found["dns.caa"]


async def test_trailing_dot_issuer_is_an_error(world):
    found = await caa(world, "dot.rules.test")
    assert found.status is Status.ERROR
    assert 'the issuer "letsencrypt.org." is not "letsencrypt.org"' in found.summary
    assert found.fix == 'Write the issuer exactly as "letsencrypt.org": dot.rules.test. CAA 0 issue "letsencrypt.org".'
    assert {mode["status"] for mode in found.data["modes"].values()} == {"error"}


@pytest.mark.parametrize("mode", ["letsencrypt", "acme-dns"])
async def test_accounturi_per_account(world, mode):
    other = "https://acme-v02.api.letsencrypt.org/acme/acct/7654321"
    found = await caa(world, "acct.rules.test", https_mode=mode,
                      accounts={mode: Account(other, "the hub's /opt/tljh/state/acme.json")})
    assert found.status is Status.ERROR
    assert f"orders as {other} (the hub's /opt/tljh/state/acme.json)" in found.summary
    assert found.fix.startswith(f"Change accounturi in the CAA record at acct.rules.test to {other}")

    found = await caa(world, "acct.rules.test", https_mode=mode)
    assert found.status is Status.WARNING
    assert "cannot tell" in found.summary

    found = await caa(world, "acct.rules.test", https_mode=mode, accounts={mode: Account(ACCT, "stored")})
    assert found.status is Status.OK
    assert "the wizard's rehearsal on Let's Encrypt's staging CA" in found.data["modes"][mode]["reason"]
    # The same account under its ACMEv1 URI (Boulder accepts every account-URI prefix with the same number).
    v1 = "https://acme-v01.api.letsencrypt.org/acme/reg/1234567"
    found = await caa(world, "acct.rules.test", https_mode=mode, accounts={mode: Account(v1, "stored")})
    assert found.status is Status.OK


async def test_malformed_value_is_ignored(world):
    """A space inside validationmethods makes the record malformed: Boulder skips it, and with no other issue record
    for Let's Encrypt nobody is authorised, whatever the mode."""
    for mode in ("letsencrypt", "acme-dns", None):
        found = await caa(world, "spaced.rules.test", https_mode=mode)
        assert found.status is Status.ERROR
        assert "is malformed" in found.summary
        assert "no spaces inside a value" in found.fix
    found = await caa(world, "commas.rules.test")
    assert found.status is Status.OK


async def test_validationmethods_per_mode(world):
    found = await caa(world, "dnsonly.rules.test", https_mode="letsencrypt")
    assert found.status is Status.ERROR
    assert found.data["modes"]["letsencrypt"]["status"] == "error"
    assert found.data["modes"]["acme-dns"]["status"] == "ok"
    assert "would be allowed" in found.summary
    assert (await caa(world, "dnsonly.rules.test", https_mode="acme-dns")).status is Status.OK
    assert (await caa(world, "dnsonly.rules.test")).status is Status.WARNING  # no mode chosen: one works
    found = await caa(world, "dot.rules.test", https_mode="existing")  # blocks every mode, but none orders
    assert found.status is Status.WARNING and "matters only if that changes" in found.summary


async def test_unknown_critical_tag_blocks(world):
    found = await caa(world, "crit1.rules.test")
    assert found.status is Status.ERROR  # flag 1 counts as critical (Boulder), even beside an allowing record
    assert "(foo)" in found.summary


async def test_cname_target_forbidding_names_the_target(world):
    found = await caa(world, "hub.rules.test")
    assert found.status is Status.ERROR
    assert found.summary.startswith("CAA at lb.forbids.test (the CNAME target of hub.rules.test) allows only "
                                    "sectigo.com")
    assert found.fix == ('Add the record lb.forbids.test. CAA 0 issue "letsencrypt.org". The records are '
                         "lb.forbids.test's: hub.rules.test is a CNAME to it, and a name that holds a CNAME cannot "
                         "hold other records.")
    assert found.data["owner"] == "lb.forbids.test"


async def test_cname_target_parent_is_not_climbed(world):
    """RFC 8659 §3: the climb goes on from the alias's parents (rules.test, test), not the target's
    (parentforbids.test, whose CAA forbids Let's Encrypt)."""
    found = await caa(world, "other.rules.test")
    assert found.status is Status.OK
    assert found.data["name"] is None


DNSSEC_ZONES = {
    "expired.test": ZoneSpec(f"hub IN A {HUB_V4}", dnssec="expired"),
    "signed.test": ZoneSpec(f"hub IN A {HUB_V4}", dnssec="valid"),
    "refusing.test": ZoneSpec(f"hub IN A {HUB_V4}", refusing=True),
}


@pytest.fixture(scope="module")
def world2(tmp_path_factory):
    with DnsWorld(tmp_path_factory.mktemp("dns-le-world2"), DNSSEC_ZONES) as started:
        yield started


async def run_check(world, domain, resolvers=None):
    check = DnsCheck(domain, HUB_V4, resolvers=resolvers or world.resolvers)
    return {diagnosis.id: diagnosis for diagnosis in await check.run()}


async def test_expired_signatures_are_broken_dnssec(world2):
    found = await run_check(world2, "hub.expired.test", [world2.plain_resolver, world2.validating_resolver])
    assert found["dns.dnssec"].status is Status.ERROR
    assert found["dns.dnssec"].summary.startswith(
        f"broken DNSSEC: validating resolvers fail ({world2.validating_resolver})")
    assert "re-sign the zone expired.test" in found["dns.dnssec"].fix
    assert found["dns.a"].status is Status.OK  # the records themselves are right
    assert found["dns.resolvers"].status is not Status.WARNING or "failing" not in found["dns.resolvers"].summary


async def test_valid_signatures_validate(world2):
    found = await run_check(world2, "hub.signed.test", [world2.plain_resolver, world2.validating_resolver])
    assert found["dns.dnssec"].status is Status.OK
    assert found["dns.dnssec"].data["validated_by"] == [world2.validating_resolver]
    assert found["dns.resolvers"].status is Status.OK


def test_a_refusing_delegation_names_the_server_in_text_output(world2, capsys):
    """The only nameserver of refusing.test (ns4) answers REFUSED: the text output names it and its address."""
    import argparse

    from wizard.dns import cli

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["hub.refusing.test", "--expect-ip", HUB_V4,
                              *[arg for resolver in world2.resolvers for arg in ("--resolver", resolver)]])
    assert cli.run(args) == 2
    out = capsys.readouterr().out
    server = f"ns4.nameservers.test ({world2.refusing_nameserver})"
    assert f"ERROR    dns.zone: the delegation of refusing.test is lame: {server}: REFUSED" in out
    assert ("fix: The parent's NS records point at a server that does not serve the zone: make ns4.nameservers.test "
            "serve refusing.test") in out
    assert f"ERROR    dns.nameservers: no nameserver of refusing.test answered ({server}: refuses" in out


@pytest.fixture
def ipv6_listener():
    """Something that accepts TCP connections on ::1 (a stale AAAA's other machine), and a port where nothing does."""
    import socket

    from tests.rig.bind import free_port

    server = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    server.bind(("::1", 0))
    server.listen(8)
    yield server.getsockname()[1], free_port()
    server.close()


async def test_stale_aaaa_wording_follows_what_was_observed(world, ipv6_listener):
    answering, silent = ipv6_listener

    async def aaaa(**options):
        check = DnsCheck("hub.v6.test", HUB_V4, resolvers=world.resolvers, **options)
        return {d.id: d for d in await check.run()}["dns.aaaa"]

    found = await aaaa(probe_port=answering)
    assert found.status is Status.ERROR
    assert found.summary == "hub.v6.test has AAAA ::1, which is not this hub, and it answers"
    assert "does not fall back to IPv4 when the connection succeeds" in found.details
    assert found.data["probes"] == {"::1": "answers"}

    found = await aaaa(probe_port=silent)
    assert found.status is Status.WARNING
    assert found.summary == "hub.v6.test has AAAA ::1, which is not this hub; nothing answers there"
    assert "(::1: connection refused): Let's Encrypt tries IPv6 first and falls back to IPv4" in found.details

    found = await aaaa()  # not probed: both cases named, and an error (the likelier outcome is a failed validation)
    assert found.status is Status.ERROR
    assert "not probed" in found.details

    found = await aaaa(probe_port=answering, https_mode="acme-dns")
    assert found.status is Status.WARNING
    assert found.details.startswith("DNS-01 validation does not connect to the hub")


def dns_check(world, *argv):
    import argparse

    from wizard.dns import cli

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return cli.run(parser.parse_args([*argv, "--expect-ip", HUB_V4,
                                      *[arg for resolver in world.resolvers for arg in ("--resolver", resolver)]]))


@pytest.mark.parametrize("argv, code", [
    (["dot.rules.test"], 2),
    (["acct.rules.test", "--https-mode", "acme-dns", "--account-uri", ACCT], 0),
    (["acct.rules.test", "--https-mode", "acme-dns",
      "--account-uri", "https://acme-v02.api.letsencrypt.org/acme/acct/42"], 2),
    (["acct.rules.test", "--https-mode", "letsencrypt"], 1),  # the account is not known: cannot tell
    (["spaced.rules.test"], 2),
    (["dnsonly.rules.test", "--https-mode", "letsencrypt"], 2),
    (["dnsonly.rules.test", "--https-mode", "acme-dns"], 0),
    (["hub.rules.test"], 2),
])
def test_exit_codes_of_the_caa_cases(world, argv, code, capsys):
    assert dns_check(world, *argv) == code, capsys.readouterr().out


def test_exit_code_of_broken_dnssec(world2, capsys):
    assert dns_check(world2, "hub.expired.test") == 2
    assert "ERROR    dns.dnssec: broken DNSSEC: validating resolvers fail" in capsys.readouterr().out
    assert dns_check(world2, "hub.signed.test") == 0
