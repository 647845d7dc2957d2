"""Shared fixtures. Each real server lives in its own plugin module under ``tests/rig``."""


import pytest

pytest_plugins = [
    "tests.rig.bind",
    "tests.rig.pebble",
    "tests.rig.sshd",
    "tests.rig.sshd_access",
    "tests.rig.userenv",
]


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path, monkeypatch):
    """Every test gets its own wizard state directory: nothing leaks between tests or into the real one."""
    state = tmp_path / "wizard-state"
    monkeypatch.setenv("TLJH_WIZARD_STATE_DIR", str(state))
    yield state
