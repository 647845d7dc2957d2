"""STAND-IN of TLJH's ``tljh.configurer``: TLJH's ``config.yaml`` applied to JupyterHub's configuration object ``c``.

Written from the-littlest-jupyterhub 2.0.0, ``tljh/configurer.py`` (no code copied), and kept faithful to it, quirks
included, because the wizard's tests start a real JupyterHub through it:

- :data:`default` is TLJH 2.0.0's default configuration (read from ``config-defaults.json`` beside this module,
  which ``create_tree`` installs from the wizard's own copy of TLJH's defaults).
- :func:`load_config` merges, in this order, the defaults, the secrets TLJH keeps on disk (the Traefik API password in
  ``state/traefik-api.secret``) and ``config.yaml``. Like upstream, an empty ``config.yaml`` (YAML null) is not
  accepted: the merge raises ``TypeError`` and the hub does not start.
- :func:`apply_config` sets, from the merged tree: ``JupyterHub.base_url``; ``JupyterHub.authenticator_class`` from
  ``auth.type`` and, for every ``auth.<ClassName>`` mapping, each non-null trait on ``c.<ClassName>`` (a key under
  ``auth`` that is not a capitalised mapping raises ``ValueError`` — upstream's ``update_auth``); the allowed, blocked
  and admin user sets (and ``FirstUseAuthenticator.allow_all`` when the default authenticator has no allowed users);
  ``UserCreatingSpawner.user_groups``; ``Spawner.mem_limit``/``cpu_limit``; ``Spawner.default_url`` from
  ``user_environment.default_app``; ``SystemdSpawner.username_template``; the Traefik API credentials and entrypoint;
  and ``JupyterHub.services`` with the idle culler (``python -m jupyterhub_idle_culler --timeout= --cull-every=
  --concurrency= --max-age= [--cull-users] [--remove-named-servers]``, an admin service named ``cull-idle``).

One deliberate difference: upstream merges into a shallow copy of ``default``, so repeated calls in one process can
leak values between calls; this stand-in merges into a deep copy. A hub process calls it once, so nothing observable
at start differs.
"""

import copy
import json
import os
import sys

from .config import CONFIG_FILE, STATE_DIR
from .yaml import yaml

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "config-defaults.json")) as _defaults:
    default = json.load(_defaults)


def _merge(base, overrides):
    """``overrides`` merged into ``base`` (mutated and returned): mappings recursively, anything else replaced."""
    for key in overrides:  # a non-mapping (None for an empty file) fails here, as upstream's merge does
        if key in base and isinstance(base[key], dict) and isinstance(overrides[key], dict):
            _merge(base[key], overrides[key])
        else:
            base[key] = overrides[key]
    return base


def load_secrets():
    """The secrets TLJH keeps outside config.yaml: ``{"traefik_api": {"password": ...}}`` when the file exists."""
    path = os.path.join(STATE_DIR, "traefik-api.secret")
    if not os.path.exists(path):
        return {}
    with open(path) as secret:
        return {"traefik_api": {"password": secret.read()}}


def load_config(config_file=CONFIG_FILE):
    """Defaults, then the on-disk secrets, then ``config_file`` (absent: no overrides), merged into one dict."""
    overrides = {}
    if os.path.exists(config_file):
        with open(config_file) as stream:
            overrides = yaml.load(stream)
    return _merge(_merge(copy.deepcopy(default), load_secrets()), overrides)


def apply_config(config_overrides, c):
    """Merge ``config_overrides`` over the defaults and set the resulting JupyterHub configuration on ``c``."""
    config = _merge(copy.deepcopy(default), config_overrides)
    update_base_url(c, config)
    update_auth(c, config)
    update_userlists(c, config)
    update_usergroups(c, config)
    update_limits(c, config)
    update_user_environment(c, config)
    update_user_account_config(c, config)
    update_traefik_api(c, config)
    update_services(c, config)


def set_if_not_none(parent, key, value):
    if value is not None:
        setattr(parent, key, value)


def update_base_url(c, config):
    c.JupyterHub.base_url = config["base_url"]


def update_auth(c, config):
    """``auth.type`` -> ``JupyterHub.authenticator_class``; ``auth.<ClassName>.<trait>`` -> ``c.<ClassName>.<trait>``."""
    auth = config["auth"]
    c.JupyterHub.authenticator_class = auth["type"]
    for key, value in auth.items():
        if key == "type":
            continue
        if not (key[:1] == key[:1].upper() and isinstance(value, dict)):
            raise ValueError(f"Error: auth.{key} was ignored, it didn't look like a valid configuration")
        section = c[key]
        for trait, setting in value.items():
            set_if_not_none(section, trait, setting)


def update_userlists(c, config):
    users = config["users"]
    if (not users["allowed"] and config["auth"]["type"] == default["auth"]["type"]
            and "allow_all" not in c.FirstUseAuthenticator):
        c.FirstUseAuthenticator.allow_all = True  # the default authenticator with no list lets everyone in
    c.Authenticator.allowed_users = set(users["allowed"])
    c.Authenticator.blocked_users = set(users["banned"])
    c.Authenticator.admin_users = set(users["admin"])


def update_usergroups(c, config):
    c.UserCreatingSpawner.user_groups = config["users"]["extra_user_groups"]


def update_limits(c, config):
    c.Spawner.mem_limit = config["limits"]["memory"]
    c.Spawner.cpu_limit = config["limits"]["cpu"]


def update_user_environment(c, config):
    app = config["user_environment"]["default_app"]
    if app == "jupyterlab":
        c.Spawner.default_url = "/lab"
    elif app == "classic":
        c.Spawner.default_url = "/tree"


def update_user_account_config(c, config):
    c.SystemdSpawner.username_template = "jupyter-{USERNAME}"


def update_traefik_api(c, config):
    c.TraefikProxy.traefik_api_username = config["traefik_api"]["username"]
    c.TraefikProxy.traefik_api_password = config["traefik_api"]["password"]
    c.TraefikProxy.traefik_entrypoint = "https" if config["https"]["enabled"] else "http"


def set_cull_idle_service(config):
    """The idle culler as a JupyterHub service: ``{"name": "cull-idle", "admin": True, "command": [...]}``."""
    cull = config["services"]["cull"]
    command = [sys.executable, "-m", "jupyterhub_idle_culler", "--timeout=%d" % cull["timeout"],
               "--cull-every=%d" % cull["every"], "--concurrency=%d" % cull["concurrency"],
               "--max-age=%d" % cull["max_age"]]
    if cull["users"]:
        command.append("--cull-users")
    if cull["remove_named_servers"]:
        command.append("--remove-named-servers")
    return {"name": "cull-idle", "admin": True, "command": command}


def update_services(c, config):
    c.JupyterHub.services = []
    if config["services"]["cull"]["enabled"]:
        c.JupyterHub.services.append(set_cull_idle_service(config))
