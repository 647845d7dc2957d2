"""Shared fixtures. Each real server lives in its own plugin module under ``tests/rig`` (its docstring is the manual).

How to use them (and keep the suite fast: it runs in parallel workers, ``tests/run.sh`` passes ``-n auto``):

- ``sshd_rig`` (session): the real sshd hub with its TLJH-shaped tree; ``sshd_hub`` (function) resets the tree to
  pristine first -- ask for ``sshd_hub`` when the test writes to the hub, ``sshd_rig`` when it only reads.
- ``real_hub`` (function): the same rig with a real JupyterHub behind configurable-http-proxy. Starting a hub costs
  seconds, so the running one is kept from test to test while its ``config.yaml`` is pristine: a test that changes
  the config and puts ``PRISTINE_CONFIG`` (``wizard.hub.sandbox``) back afterwards (then ``tljh-config reload hub``)
  lets the next test reuse the hub; anything else makes the next ``real_hub`` rebuild the tree and start it again.
- ``bind_server`` / ``pebble`` (session): one BIND zone (``wizard.test.``) and one Pebble for the whole run; add the
  records a test needs and delete them afterwards (``bind_server.records(...)`` does both).
- ``DnsWorld`` / ``BindServer`` / ``PebbleServer``: servers of a test's own, for a module-scoped fixture when the
  shared ones do not fit (several nameservers, port 53, other zones).
- ``access_sshd`` / ``hub_names`` (tests/rig/sshd_access.py): an sshd laid out like a hub's, and unique hub users.

Order: the tests marked ``slow`` (a minute or so on a loaded 2-core machine: whole walks, applies over SSH, real hub
restarts) run first, the others after them as collected (``pytest_collection_modifyitems`` below). Mark a new test
``slow`` when it joins them, so a long test never starts last and keeps the run waiting for it.

Parallel workers: each worker has its own session fixtures, so every rig picks free ports, works in private temp
dirs (``tmp_path_factory``) and takes machine-wide things (users, sudoers, port 53 on spare loopback addresses)
under a lock. A new rig must do the same; a test must not depend on another test having run before it.
"""


import pytest

pytest_plugins = [
    "tests.rig.bind",
    "tests.rig.pebble",
    "tests.rig.sshd",
    "tests.rig.sshd_access",
    "tests.rig.userenv",
]


def pytest_collection_modifyitems(items):
    """The ``slow`` tests first, each group in collection order. xdist's ``worksteal`` scheduler (tests/run.sh) hands
    each worker a contiguous share of this order and lets an idle worker take the end of another's queue
    (``xdist/scheduler/worksteal.py``), so the long tests start early and the run ends on short ones."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path, monkeypatch):
    """Every test gets its own wizard state directory: nothing leaks between tests or into the real one."""
    state = tmp_path / "wizard-state"
    monkeypatch.setenv("TLJH_WIZARD_STATE_DIR", str(state))
    yield state
