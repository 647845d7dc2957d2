"""The HTTPS part of an apply (``wizard.https.plan``) on the rig: sshd hub, BIND, Pebble, and a stand-in for TLJH's
Traefik (``tests/rig/traefik.py``) that orders its certificates from Pebble — one Pebble playing Let's Encrypt's
staging directory, another the production one."""

from __future__ import annotations

import itertools
import json
import time

import pytest

from tests.rig.pebble import PebbleFixture, PebbleServer
from tests.rig.traefik import PebbleTraefik
from wizard import yamlio

_serial = itertools.count(1)


@pytest.fixture(scope="module")
def staging_pebble(bind_server, tmp_path_factory):
    with PebbleServer(tmp_path_factory.mktemp("pebble-staging"), bind_server.address) as server:
        yield PebbleFixture(server)


@pytest.fixture
def traefik(sshd_hub, bind_server, staging_pebble, pebble, tmp_path):
    standin = PebbleTraefik(sshd_hub.prefix, tmp_path, bind_server, staging_pebble, pebble)
    yield standin
    standin.close()


def wait_for(predicate, seconds=30.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_the_stand_in_orders_staging_then_keeps_it_until_acme_json_is_cleared(sshd_hub, traefik):
    from wizard.https.verify import check_served

    name = f"standin{next(_serial)}.wizard.test"
    config = sshd_hub.prefix / "config" / "config.yaml"
    config.write_text(yamlio.dump({"https": {"enabled": True, "letsencrypt": {
        "email": "a@wizard.test", "domains": [name], "staging": True}}}))
    staged = lambda: check_served("127.0.0.1", traefik.port, [name], "staging",  # noqa: E731
                                  staging_marker=traefik.staging_marker)
    assert wait_for(lambda: staged().status.value == "ok"), (staged().summary, traefik.errors)
    config.write_text(config.read_text().replace("staging: true", "staging: false"))
    time.sleep(0.5)
    assert staged().status.value == "ok"  # the trap: still the staging certificate
    (sshd_hub.prefix / "state" / "acme.json").write_text("")
    produced = lambda: check_served("127.0.0.1", traefik.port, [name], "production",  # noqa: E731
                                    cafile=str(traefik.production_roots), staging_marker=traefik.staging_marker)
    assert wait_for(lambda: produced().status.value == "ok"), (produced().summary, traefik.errors)
    assert traefik.orders == {"staging": 1, "production": 1}
    assert json.loads((sshd_hub.prefix / "state" / "acme.json").read_text())["stage"] == "production"
