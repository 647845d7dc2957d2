"""Propagation: the wait ends only when EVERY authoritative nameserver serves the challenge records.

Two independent BIND servers answer for one zone (as a zone's nameservers do); a record published on the first only
keeps the wait going until the second serves it too. named listens only on interface addresses, so the two run on
127.0.0.1 with ports of their own instead of port 53 of two addresses; the zone's NS set is read from the first.
"""

from __future__ import annotations

import pytest

from tests.rig.bind import BindServer, new_tsig_secret, zone_text
from wizard.https.dnsupdate import Rfc2136
from wizard.https.progress import Backoff
from wizard.https.propagation import Nameserver, PropagationTimeout, authoritative_nameservers, wait_until_served

ZONE = "multi.test."
KEY = "multi-key."
NAME = "_acme-challenge.hub.multi.test."


@pytest.fixture(scope="module")
def two_nameservers(tmp_path_factory):
    secret = new_tsig_secret()
    text = zone_text(ZONE, {"ns1.multi.test.": ["127.0.0.1"], "ns2.multi.test.": ["127.0.0.1", "::1"]})
    servers = [BindServer(tmp_path_factory.mktemp(f"ns{index}"), {ZONE: text}, keys={KEY: secret})
               for index in (1, 2)]
    for server in servers:
        server.start()
    yield [Rfc2136("127.0.0.1", server.port, ZONE, KEY, secret) for server in servers]
    for server in servers:
        server.stop()


@pytest.fixture
def nameservers(two_nameservers):
    return [Nameserver(f"ns{index}.multi.test.", "127.0.0.1", server.port)
            for index, server in enumerate(two_nameservers, start=1)]


def test_every_address_of_every_nameserver_of_the_zone_is_found(two_nameservers):
    primary = two_nameservers[0]
    assert authoritative_nameservers(ZONE, "127.0.0.1", primary.port) == [
        Nameserver("ns1.multi.test.", "127.0.0.1"), Nameserver("ns2.multi.test.", "127.0.0.1"),
        Nameserver("ns2.multi.test.", "::1")]


def test_the_wait_lasts_until_the_last_nameserver_serves_the_record(two_nameservers, nameservers):
    primary, secondary = two_nameservers
    records = {NAME: ["token-one"]}
    primary.add_txt(records)
    messages = []

    def progress(phase, message):
        messages.append(message)
        if len(messages) == 2:  # the second nameserver catches up while we wait
            secondary.add_txt(records)

    try:
        wait_until_served(records, nameservers, timeout=60, progress=progress, backoff=Backoff(first=0.01))
    finally:
        primary.remove_txt(records)
        secondary.remove_txt(records)
    assert messages[0] == f"waiting for 1 of 2 nameservers: ns2.multi.test (127.0.0.1) lacks {NAME}"
    assert messages[-1] == "all 2 authoritative nameservers serve the records"
    assert len(messages) == 3


def test_a_nameserver_that_never_serves_the_record_times_out_by_name(two_nameservers, nameservers):
    primary = two_nameservers[0]
    records = {NAME: ["token-two"]}
    primary.add_txt(records)
    try:
        with pytest.raises(PropagationTimeout, match=r"ns2.multi.test \(127\.0\.0\.1\) lacks"):
            wait_until_served(records, nameservers, timeout=0)
    finally:
        primary.remove_txt(records)


def test_all_values_must_be_served_not_just_one(two_nameservers, nameservers):
    both = {NAME: ["token-a", "token-b"]}
    for server in two_nameservers:
        server.add_txt({NAME: ["token-a"]})
    try:
        with pytest.raises(PropagationTimeout):
            wait_until_served(both, nameservers, timeout=0)
    finally:
        for server in two_nameservers:
            server.remove_txt({NAME: ["token-a"]})
