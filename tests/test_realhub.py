"""The rig's real hub: a JupyterHub process started as TLJH's unit starts it, behind configurable-http-proxy, and
restarted by ``tljh-config reload hub`` over SSH (tests/rig/sshd.py ``real_hub``; wizard/hub/services.py). A hub that
cannot start is tests/test_apply_realhub.py's case."""

import json
import urllib.request
from importlib.metadata import version
from pathlib import Path

from wizard.hub import services
from wizard.hub.ssh import SSHTarget


def connect(hub):
    return SSHTarget(hub.host, port=hub.port, user=hub.admin.name, key_file=str(hub.client_key), allow_agent=False,
                     look_for_keys=False, known_hosts_files=[hub.known_hosts], prefix=str(hub.prefix))


def api_version(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())["version"]


def cmdline(pid):
    return Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").decode().split("\0")


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
