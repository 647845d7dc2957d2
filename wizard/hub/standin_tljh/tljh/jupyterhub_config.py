"""STAND-IN of TLJH's ``tljh/jupyterhub_config.py``: the file TLJH's ``jupyterhub.service`` passes to ``-f``.

Upstream (the-littlest-jupyterhub 2.0.0): sets TLJH's spawner (``UserCreatingSpawner``, a systemd spawner that creates
``jupyter-<name>`` system users), leaves servers running across hub restarts, puts the hub on port 15001 behind
Traefik (``traefik_file`` proxy, started by its own unit), applies ``config.yaml`` with
``configurer.apply_config(configurer.load_config(), c)``, runs the plugins' ``tljh_custom_jupyterhub_config`` hook and
finally loads every ``config/jupyterhub_config.d/*.py``.

Here the same order, with only what cannot run in a sandbox replaced (the values come from
``PREFIX/hub/standin/services.json``, written by ``wizard.hub.sandbox.create_tree``):

- systemd spawner -> JupyterHub's ``SimpleLocalProcessSpawner`` running ``PREFIX/user/bin/jupyterhub-singleuser`` (the
  user environment's own server and kernel), homes under ``PREFIX/standin-homes/``, ``--allow-root`` when the hub
  runs as root; ``Spawner.environment`` puts ``PREFIX/user/bin`` first on PATH as ``SystemdSpawner.extra_paths`` does;
- Traefik -> configurable-http-proxy, started by the ``traefik`` unit of the systemctl stand-in
  (``wizard.hub.services``), sharing ``CONFIGPROXY_AUTH_TOKEN`` with the hub;
- every listener on one loopback address and the ports in ``services.json`` (so sandboxes do not collide);
- no plugin hook (no TLJH plugins are installed).
"""

import json
import os
from glob import glob

from tljh import configurer
from tljh.config import CONFIG_DIR, HUB_ENV_PREFIX, INSTALL_PREFIX, USER_ENV_PREFIX

with open(os.path.join(HUB_ENV_PREFIX, "standin", "services.json")) as _services:
    rig = json.load(_services)

c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)

# Upstream: c.JupyterHub.spawner_class = UserCreatingSpawner (systemd) -- replaced, see the docstring.
c.JupyterHub.spawner_class = "simple"
c.Spawner.cmd = [os.path.join(USER_ENV_PREFIX, "bin", "jupyterhub-singleuser")]
c.Spawner.environment = {"PATH": os.path.join(USER_ENV_PREFIX, "bin") + ":/usr/local/bin:/usr/bin:/bin"}
c.SimpleLocalProcessSpawner.home_dir_template = os.path.join(INSTALL_PREFIX, "standin-homes", "{username}")
c.Spawner.ip = rig["ip"]
c.Spawner.start_timeout = 180  # a loaded test machine imports jupyter_server slowly
c.Spawner.http_timeout = 180
if os.geteuid() == 0:
    c.Spawner.args = ["--allow-root"]

c.JupyterHub.cleanup_servers = False  # as upstream: servers outlive a hub restart

# Upstream: hub on 15001 behind Traefik on http.port -- here CHP on the sandbox's ports.
c.JupyterHub.hub_ip = rig["ip"]
c.JupyterHub.hub_port = rig["hub_port"]
c.JupyterHub.ip = rig["ip"]
c.JupyterHub.port = rig["http_port"]
c.JupyterHub.proxy_class = "configurable-http-proxy"
c.ConfigurableHTTPProxy.should_start = False
c.ConfigurableHTTPProxy.api_url = f"http://{rig['ip']}:{rig['proxy_api_port']}"

configurer.apply_config(configurer.load_config(), c)

for extra in sorted(glob(os.path.join(CONFIG_DIR, "jupyterhub_config.d", "*.py"))):
    load_subconfig(extra)  # noqa: F821 (provided by JupyterHub)
