"""The rig's real hub: a JupyterHub process started as TLJH's unit starts it, behind configurable-http-proxy, and
restarted by ``tljh-config reload hub`` over SSH (tests/rig/sshd.py ``real_hub``; wizard/hub/services.py); a hub that
cannot start makes that reload fail as soon as ``systemctl is-active jupyterhub`` says ``failed``, with the hub's reason
(what apply does then is tests/test_apply_realhub.py's case)."""

import json
import urllib.request
from importlib.metadata import version
from pathlib import Path

import pytest

from wizard.hub import services
from wizard.hub.sandbox import PRISTINE_CONFIG
from wizard.hub.ssh import SSHTarget


def connect(hub):
    return SSHTarget(hub.host, port=hub.port, user=hub.admin.name, key_file=str(hub.client_key), allow_agent=False,
                     look_for_keys=False, known_hosts_files=[hub.known_hosts], prefix=str(hub.prefix))


def api_version(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())["version"]


def cmdline(pid):
    return Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").decode().split("\0")


@pytest.mark.slow
def test_real_hub_runs_as_tljh_unit_and_reload_restarts_it(real_hub):
    assert api_version(real_hub.hub_api_url) == version("jupyterhub")
    before = services.main_pid(real_hub.prefix, "jupyterhub")
    argv = cmdline(before)
    assert argv[:3] == [str(real_hub.hub_python), "-m", "jupyterhub"] and "--upgrade-db" in argv
    assert Path(f"/proc/{before}/cwd").resolve() == (real_hub.prefix / "state").resolve()
    assert argv[argv.index("-f") + 1].endswith("site-packages/tljh/jupyterhub_config.py")

    with connect(real_hub) as target:
        systemctl = str(real_hub.prefix / "hub" / "standin" / "systemctl")
        for unit in ("jupyterhub", "traefik"):  # the systemd stand-in answers as systemctl does
            state = target.run([systemctl, "is-active", unit], sudo=True)
            assert state.ok and state.text.strip() == "active"
        assert target.run([systemctl, "is-active", "nginx"], sudo=True).exit_status == 2
        done = target.run([target.tljh_config, "reload", "hub"], sudo=True, timeout=180)
    assert done.ok, done.stderr.decode()
    assert done.text.strip().endswith("Hub reload with new configuration complete")
    after = services.main_pid(real_hub.prefix, "jupyterhub")
    assert after and after != before
    assert api_version(real_hub.hub_api_url) == version("jupyterhub")


@pytest.mark.slow
def test_reload_of_a_hub_that_cannot_start_fails_once_the_unit_failed(real_hub):
    """A config the authenticator refuses at start (generic OAuth with allowed groups and no manage_groups): TLJH's
    reload would wait for ``/hub/api`` forever; the stand-in's ends when ``systemctl is-active`` says ``failed``, with
    exit status 1 (a reload still waiting when the generous bound runs out ends with ``timeout``'s 124 instead)."""
    config = real_hub.prefix / "config" / "config.yaml"
    config.write_text("auth:\n  type: oauthenticator.generic.GenericOAuthenticator\n  GenericOAuthenticator:\n"
                      "    client_id: generic-id\n    client_secret: generic-secret\n    allowed_groups: [staff]\n")
    try:
        with connect(real_hub) as target:
            systemctl = str(real_hub.prefix / "hub" / "standin" / "systemctl")
            done = target.run([target.tljh_config, "reload", "hub"], sudo=True, timeout=300)
            state = target.run([systemctl, "is-active", "jupyterhub"], sudo=True)
    finally:
        config.write_text(PRISTINE_CONFIG)
    assert done.exit_status == 1
    stderr = done.stderr.decode()
    assert "Failed to reload hub: jupyterhub.service failed" in stderr
    assert "manage_groups to also be set" in stderr  # the hub's own reason, from the unit's log
    assert state.exit_status == 3 and state.text.strip() == "failed"

    with connect(real_hub) as target:  # the pristine config starts again
        again = target.run([target.tljh_config, "reload", "hub"], sudo=True, timeout=300)
    assert again.ok, again.stderr.decode()
    assert services.state(real_hub.prefix, "jupyterhub") == "active"
    assert api_version(real_hub.hub_api_url) == version("jupyterhub")
