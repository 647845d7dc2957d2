"""The DNS check against real BIND 9: authoritative nameservers on port 53 of spare loopback addresses (so NS
records point at them), real recursive resolvers in place of the public ones, a dead nameserver and a dead
resolver. Each case asserts the exact status of the diagnosis it is about."""

import dns.message
import dns.query
import dns.rcode
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.rig.bind import DnsWorld, ZoneSpec
from wizard.diagnosis import Status
from wizard.dns.check import DnsCheck, parse_server

HUB_V4 = "203.0.113.10"
HUB_V6 = "2001:db8::10"
OTHER_V4 = "192.0.2.9"

ZONES = {
    "ok.test": ZoneSpec(f'hub IN A {HUB_V4}\nnodata IN TXT "only text here"'),
    "wronga.test": ZoneSpec(f"hub IN A {OTHER_V4}"),
    "foreigna.test": ZoneSpec(f"hub IN A {HUB_V4}\nhub IN A {OTHER_V4}"),
    "staleaaaa.test": ZoneSpec(f"hub IN A {HUB_V4}\nhub IN AAAA 2001:db8::5"),
    "aaaaonly.test": ZoneSpec(f"hub IN AAAA {HUB_V6}"),
    "dualstack.test": ZoneSpec(f"hub IN A {HUB_V4}\nhub IN AAAA {HUB_V6}"),
    "alias.test": ZoneSpec("hub IN CNAME lb.target.test.\nwrong IN CNAME old.target.test.\n"
                           "dangling IN CNAME gone.target.test.\nloop IN CNAME loop2.alias.test.\n"
                           "loop2 IN CNAME loop.alias.test."),
    "target.test": ZoneSpec(f"lb IN A {HUB_V4}\nold IN A {OTHER_V4}"),
    "caaforbid.test": ZoneSpec(f'hub IN A {HUB_V4}\nhub IN CAA 0 issue "sectigo.com"\n'
                               f'nobody IN A {HUB_V4}\nnobody IN CAA 0 issue ";"\n'
                               f'crit IN A {HUB_V4}\ncrit IN CAA 128 tbs "unknown"\n'
                               f'dnsonly IN A {HUB_V4}\n'
                               f'dnsonly IN CAA 0 issue "letsencrypt.org; validationmethods=dns-01"'),
    "caaparent.test": ZoneSpec(f'@ IN CAA 0 issue "letsencrypt.org"\nhub IN A {HUB_V4}'),
    "caaparentno.test": ZoneSpec(f'@ IN CAA 0 issue "pki.goog"\nhub IN A {HUB_V4}\n'
                                 f'sub.hub IN A {HUB_V4}\nhub IN CAA 0 issue "letsencrypt.org"'),
    "issuewild.test": ZoneSpec(f'hub IN A {HUB_V4}\nhub IN CAA 0 issuewild ";"\n'
                               f'mixed IN A {HUB_V4}\nmixed IN CAA 0 issuewild "letsencrypt.org"\n'
                               f'mixed IN CAA 0 issue "digicert.com"'),
    "disagree.test": ZoneSpec(f"hub IN A {HUB_V4}", ns2_records=f"hub IN A {OTHER_V4}"),
    "deadns.test": ZoneSpec(f"hub IN A {HUB_V4}", with_dead_nameserver=True),
    "cached.test": ZoneSpec(f"hub IN A {OTHER_V4}", ttl=3600),
    "lame.test": ZoneSpec(f"hub IN A {HUB_V4}", served=False),
    "halflame.test": ZoneSpec(f"hub IN A {HUB_V4}", ns2_lame=True),
    "newrecord.test": ZoneSpec(f"hub IN A {HUB_V4}", ns2_records=""),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with DnsWorld(tmp_path_factory.mktemp("dns-world"), ZONES) as started:
        yield started


async def run_check(world, domain, expect_ipv6=None, resolvers=None, **options):
    check = DnsCheck(domain, HUB_V4, expect_ipv6, resolvers or world.resolvers, **options)
    await check.run()
    return check, {diagnosis.id: diagnosis for diagnosis in check.diagnoses}


def statuses(diagnoses):
    return {key: diagnosis.status for key, diagnosis in diagnoses.items()}


async def test_all_correct(world):
    check, found = await run_check(world, "hub.ok.test")
    assert statuses(found) == {key: Status.OK for key in (
        "dns.zone", "dns.nameservers", "dns.authoritative", "dns.cname", "dns.a", "dns.aaaa", "dns.caa",
        "dns.dnssec", "dns.resolvers")}
    assert found["dns.zone"].data["zone"] == "ok.test"
    assert sorted(found["dns.zone"].data["nameservers"]) == [
        f"ns1.nameservers.test ({world.nameservers[0]})", f"ns2.nameservers.test ({world.nameservers[1]})"]
    # Both nameservers were asked directly, with recursion off.
    asked = {(reply.server.host, reply.recurse) for reply in check.replies if reply.qname == "hub.ok.test"}
    assert {(address, False) for address in world.nameservers} <= asked


async def test_wrong_a(world):
    _, found = await run_check(world, "hub.wronga.test")
    assert found["dns.a"].status is Status.ERROR
    assert OTHER_V4 in found["dns.a"].summary
    assert found["dns.a"].fix == f"Change the A record for hub.wronga.test from {OTHER_V4} to {HUB_V4}."


async def test_second_foreign_a(world):
    _, found = await run_check(world, "hub.foreigna.test")
    assert found["dns.a"].status is Status.ERROR
    assert found["dns.a"].fix.startswith(f"Delete the A record {OTHER_V4} for hub.foreigna.test; keep only {HUB_V4}")
    assert found["dns.authoritative"].status is Status.OK


async def test_stale_aaaa(world):
    _, found = await run_check(world, "hub.staleaaaa.test")
    assert found["dns.a"].status is Status.OK
    assert found["dns.aaaa"].status is Status.ERROR
    assert "if something answers there, validation fails (no fallback)" in found["dns.aaaa"].details
    assert found["dns.aaaa"].fix.startswith("Delete the AAAA record 2001:db8::5 for hub.staleaaaa.test, or point it")


async def test_stale_aaaa_with_the_hubs_ipv6_known(world):
    _, found = await run_check(world, "hub.staleaaaa.test", expect_ipv6=HUB_V6)
    assert found["dns.aaaa"].status is Status.ERROR
    assert found["dns.aaaa"].fix == (f"Delete the AAAA record 2001:db8::5 for hub.staleaaaa.test, or change it to "
                                     f"this VM's IPv6 {HUB_V6}.")


async def test_aaaa_only(world):
    _, found = await run_check(world, "hub.aaaaonly.test", expect_ipv6=HUB_V6)
    assert found["dns.a"].status is Status.ERROR
    assert "NODATA" in found["dns.a"].summary
    assert found["dns.aaaa"].status is Status.OK


async def test_aaaa_only_without_the_hubs_ipv6(world):
    _, found = await run_check(world, "hub.aaaaonly.test")
    assert found["dns.a"].status is Status.ERROR
    assert found["dns.aaaa"].status is Status.ERROR


async def test_dual_stack_correct(world):
    _, found = await run_check(world, "hub.dualstack.test", expect_ipv6=HUB_V6)
    assert {found["dns.a"].status, found["dns.aaaa"].status} == {Status.OK}


async def test_missing_aaaa_when_the_hub_has_ipv6(world):
    _, found = await run_check(world, "hub.ok.test", expect_ipv6=HUB_V6)
    assert found["dns.aaaa"].status is Status.WARNING
    assert found["dns.aaaa"].fix.startswith(f"Add an AAAA record hub.ok.test -> {HUB_V6}")


async def test_cname_chain_into_a_second_zone_correct(world):
    check, found = await run_check(world, "hub.alias.test")
    assert found["dns.cname"].status is Status.OK
    assert found["dns.cname"].data == {"chain": ["hub.alias.test", "lb.target.test"],
                                       "zones": ["alias.test", "target.test"]}
    assert found["dns.a"].status is Status.OK
    assert found["dns.resolvers"].status is Status.OK
    # The target was asked at the target zone's nameservers directly.
    assert {r.server.host for r in check.replies if r.qname == "lb.target.test" and not r.recurse} == \
        set(world.nameservers)


async def test_cname_chain_into_a_second_zone_wrong(world):
    _, found = await run_check(world, "wrong.alias.test")
    assert found["dns.cname"].status is Status.OK
    assert found["dns.a"].status is Status.ERROR
    assert found["dns.a"].fix == (f"Change the A record for old.target.test (the CNAME target of wrong.alias.test) "
                                  f"from {OTHER_V4} to {HUB_V4}, or replace the CNAME wrong.alias.test by an A "
                                  f"record {HUB_V4}.")


async def test_cname_to_a_missing_name(world):
    _, found = await run_check(world, "dangling.alias.test")
    assert found["dns.cname"].status is Status.ERROR
    assert "gone.target.test does not exist" in found["dns.cname"].summary
    assert found["dns.a"].status is Status.ERROR


async def test_cname_loop(world):
    _, found = await run_check(world, "loop.alias.test")
    assert found["dns.cname"].status is Status.ERROR
    assert "loop" in found["dns.cname"].summary


async def test_caa_forbidding_lets_encrypt(world):
    _, found = await run_check(world, "hub.caaforbid.test")
    assert found["dns.caa"].status is Status.ERROR
    assert found["dns.caa"].summary == "CAA at hub.caaforbid.test allows only sectigo.com, not Let's Encrypt"
    assert found["dns.caa"].fix == 'Add the record hub.caaforbid.test. CAA 0 issue "letsencrypt.org".'


async def test_caa_forbidding_every_ca(world):
    _, found = await run_check(world, "nobody.caaforbid.test")
    assert found["dns.caa"].status is Status.ERROR
    assert found["dns.caa"].summary == "CAA at nobody.caaforbid.test forbids every CA"


async def test_caa_unknown_critical_property(world):
    _, found = await run_check(world, "crit.caaforbid.test")
    assert found["dns.caa"].status is Status.ERROR
    assert "tbs" in found["dns.caa"].summary


async def test_caa_restricting_the_validation_method(world):
    _, found = await run_check(world, "dnsonly.caaforbid.test")
    assert found["dns.caa"].status is Status.WARNING
    assert "dns-01" in found["dns.caa"].summary


async def test_caa_only_on_the_parent_domain(world):
    _, found = await run_check(world, "hub.caaparent.test")
    assert found["dns.caa"].status is Status.OK
    assert found["dns.caa"].data["name"] == "caaparent.test"


async def test_caa_closest_set_wins(world):
    _, found = await run_check(world, "sub.hub.caaparentno.test")
    assert found["dns.caa"].status is Status.OK  # hub.caaparentno.test allows Let's Encrypt: the climb stops there
    assert found["dns.caa"].data["name"] == "hub.caaparentno.test"
    _, found = await run_check(world, "www.caaparentno.test")
    assert found["dns.caa"].status is Status.ERROR
    assert found["dns.caa"].data["name"] == "caaparentno.test"


async def test_issuewild_without_issue(world):
    _, found = await run_check(world, "hub.issuewild.test")
    assert found["dns.caa"].status is Status.OK
    assert "only wildcard" in found["dns.caa"].summary


async def test_issuewild_does_not_grant_a_plain_name(world):
    _, found = await run_check(world, "mixed.issuewild.test")
    assert found["dns.caa"].status is Status.ERROR
    assert "digicert.com" in found["dns.caa"].summary


async def test_nxdomain(world):
    _, found = await run_check(world, "missing.ok.test")
    assert found["dns.a"].status is Status.ERROR
    assert found["dns.a"].summary == "missing.ok.test does not exist (NXDOMAIN)"
    assert found["dns.a"].fix == f"Create an A record missing.ok.test -> {HUB_V4} at your DNS provider."
    assert found["dns.zone"].status is Status.OK


async def test_nodata_is_told_apart_from_nxdomain(world):
    _, found = await run_check(world, "nodata.ok.test")
    assert found["dns.a"].status is Status.ERROR
    assert found["dns.a"].summary == "nodata.ok.test exists but has no A record (NODATA)"


async def test_zone_that_does_not_exist(world):
    _, found = await run_check(world, "hub.unregistered.test")
    assert found["dns.zone"].status is Status.OK  # the nearest zone is test. itself
    assert found["dns.zone"].data["zone"] == "test"
    assert found["dns.a"].status is Status.ERROR
    assert "NXDOMAIN" in found["dns.a"].summary


async def test_two_authoritative_servers_that_disagree(world):
    _, found = await run_check(world, "hub.disagree.test")
    assert found["dns.authoritative"].status is Status.WARNING
    assert found["dns.authoritative"].data["serials"] == {
        f"ns1.nameservers.test ({world.nameservers[0]})": 2, f"ns2.nameservers.test ({world.nameservers[1]})": 1}
    assert "serves serial 2" in found["dns.authoritative"].fix
    assert found["dns.a"].status is Status.ERROR
    assert f"ns2.nameservers.test ({world.nameservers[1]})" in found["dns.a"].summary


async def test_a_record_not_yet_on_every_nameserver(world):
    _, found = await run_check(world, "hub.newrecord.test")
    ns2 = f"ns2.nameservers.test ({world.nameservers[1]})"
    assert found["dns.a"].status is Status.ERROR
    assert found["dns.a"].summary == f"not every nameserver answers {HUB_V4}: {ns2} answers no A record"
    assert found["dns.authoritative"].status is Status.WARNING
    assert f"{ns2} serial 1: hub.newrecord.test A -> NXDOMAIN" in found["dns.authoritative"].details


async def test_one_nameserver_dead(world):
    """The dead server costs one timeout: with a deadline of one timeout plus a margin, the check still gets every
    live answer in time (a second timeout would miss the deadline and turn them into failures) and names it."""
    check, found = await run_check(world, "hub.deadns.test", timeout=1.0, deadline=1.5)
    assert found["dns.nameservers"].status is Status.WARNING
    dead = f"ns3.nameservers.test ({world.dead_nameserver})"
    assert found["dns.nameservers"].summary == f"nameserver not answering: {dead}"
    assert found["dns.nameservers"].data["failed"] == {dead: "no answer within 1.0 s"}
    assert {found[key].status for key in ("dns.zone", "dns.a", "dns.aaaa", "dns.caa", "dns.resolvers")} == \
        {Status.OK}
    # Each question went to the dead server once.
    to_dead = [(r.qname, r.rdtype) for r in check.replies if r.server.host == world.dead_nameserver]
    assert sorted(to_dead) == sorted(set(to_dead))


@pytest.mark.parametrize("dead_first", [False, True])
async def test_one_resolver_dead(world, dead_first):
    """Costs one timeout: the deadline (timeout plus a margin) leaves no room for a second one."""
    resolvers = [world.dead_resolver, *world.resolvers] if dead_first else [*world.resolvers, world.dead_resolver]
    _, found = await run_check(world, "hub.ok.test", resolvers=resolvers, timeout=1.0, deadline=1.5)
    assert found["dns.resolvers"].status is Status.WARNING
    assert found["dns.resolvers"].summary == f"resolver not answering: {world.dead_resolver}"
    assert found["dns.a"].status is Status.OK


async def test_every_resolver_dead(world):
    _, found = await run_check(world, "hub.ok.test", resolvers=[world.dead_resolver], timeout=0.5, deadline=1.0)
    assert found["dns.zone"].status is Status.ERROR
    assert found["dns.resolvers"].status is Status.ERROR
    assert found["dns.a"].status is Status.SKIPPED


async def test_public_resolver_still_caching_the_old_answer(world):
    cached_at = world.resolvers[1]
    host, port = cached_at.split(":")
    before = dns.query.udp(dns.message.make_query("hub.cached.test", "A"), host, port=int(port), timeout=5)
    assert [rdata.to_text() for rrset in before.answer for rdata in rrset] == [OTHER_V4]
    world.replace("hub.cached.test.", "A", HUB_V4, ttl=3600)

    _, found = await run_check(world, "hub.cached.test")
    assert found["dns.a"].status is Status.OK
    assert found["dns.resolvers"].status is Status.WARNING
    wait = found["dns.resolvers"].data["wait_seconds"]
    assert 0 < wait <= 3600
    assert f"wait up to {wait} seconds" in found["dns.resolvers"].summary
    assert found["dns.resolvers"].data["stale"] == [
        f"{cached_at} still answers hub.cached.test A {OTHER_V4} (cached for up to {wait} s more)"]


async def test_lame_delegation_blocks_caa(world):
    _, found = await run_check(world, "hub.lame.test")
    assert found["dns.zone"].status is Status.ERROR
    ns1, ns2 = (f"ns{index + 1}.nameservers.test ({address})" for index, address in enumerate(world.nameservers))
    referral = "not authoritative (a referral: lame delegation)"
    assert found["dns.zone"].summary == f"the delegation of lame.test is lame: {ns1}: {referral}; {ns2}: {referral}"
    assert found["dns.zone"].fix.startswith("The parent's NS records point at a server that does not serve the zone")
    assert found["dns.nameservers"].status is Status.ERROR
    assert found["dns.caa"].status is Status.ERROR  # a CAA lookup that fails blocks issuance (RFC 8659)
    assert found["dns.caa"].summary.startswith("the CAA lookup for hub.lame.test failed")
    assert found["dns.resolvers"].status is Status.ERROR
    assert found["dns.resolvers"].summary == "the public resolvers cannot resolve the domain (SERVFAIL)"
    assert found["dns.a"].status is Status.SKIPPED


async def test_a_nameserver_that_does_not_serve_the_zone(world):
    _, found = await run_check(world, "hub.halflame.test")
    lame = f"ns2.nameservers.test ({world.nameservers[1]})"
    assert found["dns.nameservers"].status is Status.WARNING
    assert found["dns.nameservers"].data["failed"] == {lame: "not authoritative (a referral: lame delegation)"}
    assert found["dns.a"].status is Status.OK


def test_resolver_addresses_are_parsed_and_names_refused():
    assert parse_server("9.9.9.9").port == 53
    assert parse_server("127.0.0.1:5353").port == 5353
    assert parse_server("[::1]:5300").host == "::1"
    from wizard.fields import ValidationError

    with pytest.raises(ValidationError, match="must be an IP address"):
        parse_server("dns.google")


def test_no_resolvers_given_means_the_public_defaults():
    assert [str(s) for s in DnsCheck("hub.example.edu", HUB_V4, resolvers=None).resolvers] == \
        ["1.1.1.1", "8.8.8.8", "9.9.9.9"]
    assert len(DnsCheck("hub.example.edu", HUB_V4, resolvers=[]).resolvers) == 3
    assert [str(s) for s in DnsCheck("hub.example.edu", HUB_V4, resolvers=["9.9.9.9:53"]).resolvers] == ["9.9.9.9"]


@given(st.text(max_size=80))
def test_any_resolver_text_is_a_server_or_a_validation_error(text):
    from wizard.fields import ValidationError

    try:
        server = parse_server(text)
    except ValidationError as exc:
        assert exc.message
    else:
        assert 1 <= server.port <= 65535 and server.host


async def test_caa_unverifiable_because_the_resolver_refuses_is_a_warning(tmp_path):
    """A resolver that refuses (here: an authoritative-only server asked about a parent it does not serve) says
    nothing about the domain's CAA: a warning, unlike a SERVFAIL, which blocks issuance."""
    from tests.rig.bind import BindServer, zone_text

    zone = zone_text("solo.test.", {"ns.solo.test.": ["127.0.0.1"]}, f"hub IN A {HUB_V4}")
    with BindServer(tmp_path, {"solo.test.": zone}) as server:
        check = DnsCheck("hub.solo.test", HUB_V4, resolvers=[f"127.0.0.1:{server.port}"],
                         nameserver_port=server.port)
        found = {d.id: d for d in await check.run()}
    assert found["dns.caa"].status is Status.WARNING
    assert found["dns.caa"].summary == "could not check CAA at test"
    assert found["dns.a"].status is Status.OK


async def test_public_resolver_still_caching_that_the_name_does_not_exist(world):
    cached_at = world.resolvers[0]
    host, port = cached_at.split(":")
    before = dns.query.udp(dns.message.make_query("new.cached.test", "A"), host, port=int(port), timeout=5)
    assert dns.rcode.to_text(before.rcode()) == "NXDOMAIN"
    world.replace("new.cached.test.", "A", HUB_V4)

    _, found = await run_check(world, "new.cached.test")
    assert found["dns.a"].status is Status.OK
    assert found["dns.resolvers"].status is Status.WARNING
    wait = found["dns.resolvers"].data["wait_seconds"]
    assert 0 < wait <= 3600
    assert f"{cached_at} still says new.cached.test does not exist (cached for up to {wait} s more)" in \
        found["dns.resolvers"].data["stale"]


async def test_a_resolver_that_denies_every_name_is_read_as_nxdomain_not_nodata():
    """No nameserver can be found (the resolver denies even the TLDs), so dns.a is judged from the resolver's
    answers: NXDOMAIN, "does not exist" — not "exists but has no A record"."""
    from tests.rig.bind import NxdomainResolver

    with NxdomainResolver() as resolver:
        check = DnsCheck("hub.example.edu", HUB_V4, resolvers=[resolver.address], timeout=2, deadline=10)
        found = {d.id: d for d in await check.run()}
    assert found["dns.zone"].status is Status.ERROR
    assert found["dns.a"].status is Status.ERROR
    assert found["dns.a"].summary == ("hub.example.edu does not exist (NXDOMAIN) (no nameserver answered: judged "
                                      "from the public resolvers' answers)")
    assert found["dns.a"].data["nxdomain"] is True
    assert found["dns.aaaa"].status is Status.SKIPPED and "does not exist" in found["dns.aaaa"].summary
