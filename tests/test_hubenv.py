"""The rig's real hub and user environments (wizard/hub/hubenv.py) and the ``tljh.configurer`` stand-in, run on the
sshd rig's hub over SSH with the hub environment's own interpreter, as other engines (the "who can log in" preview)
do."""

import json
import subprocess

from wizard.hub.ssh import SSHTarget

# Runs on the hub with PREFIX/hub/bin/python: what the environment imports, and config.yaml applied by the configurer.
PROBE = r'''
import json, sys
from importlib.metadata import version
from traitlets.config import Config
import jupyterhub, oauthenticator, ldapauthenticator, nativeauthenticator, firstuseauthenticator
import jupyterhub_idle_culler
from tljh import configurer
c = Config()
configurer.apply_config(configurer.load_config(), c)
auth = c.JupyterHub.authenticator_class
print(json.dumps({
    "prefix": sys.prefix,
    "versions": {name: version(name) for name in ("jupyterhub", "oauthenticator", "jupyterhub-ldapauthenticator",
                 "jupyterhub-nativeauthenticator", "jupyterhub-firstuseauthenticator", "jupyterhub-idle-culler",
                 "the-littlest-jupyterhub")},
    "authenticator": auth,
    "github": {k: (sorted(v) if isinstance(v, set) else v) for k, v in c.GitHubOAuthenticator.items()},
    "admin_users": sorted(c.Authenticator.admin_users),
    "allowed_users": sorted(c.Authenticator.allowed_users),
    "services": c.JupyterHub.services,
    "mem_limit": c.Spawner.mem_limit,
    "default_url": c.Spawner.default_url,
    "username_template": c.SystemdSpawner.username_template,
}))
'''

CONFIG = """\
auth:
  type: oauthenticator.github.GitHubOAuthenticator
  GitHubOAuthenticator:
    client_id: Iv1.abc
    client_secret: s3cret-value
    allowed_organizations: [example-org]
    oauth_callback_url: https://hub.example.edu/hub/oauth_callback
    scope:
users:
  admin: [alice]
limits:
  memory: 2G
services:
  cull:
    timeout: 3600
    every: 300
"""


def connect(hub):
    return SSHTarget(hub.host, port=hub.port, user=hub.admin.name, key_file=str(hub.client_key), allow_agent=False,
                     look_for_keys=False, known_hosts_files=[hub.known_hosts], prefix=str(hub.prefix))


def test_hub_python_imports_the_real_packages_and_applies_config_yaml_like_tljh(sshd_hub):
    (sshd_hub.prefix / "config" / "config.yaml").write_text(CONFIG)
    with connect(sshd_hub) as target:
        result = target.run(["env", f"TLJH_INSTALL_PREFIX={sshd_hub.prefix}", str(sshd_hub.hub_python), "-c", PROBE],
                            sudo=True, timeout=120)
    assert result.ok, result.stderr.decode()
    seen = json.loads(result.text.strip().splitlines()[-1])
    assert seen["prefix"] == str(sshd_hub.prefix / "hub")
    assert seen["versions"]["jupyterhub"].startswith("5.")
    assert seen["versions"]["oauthenticator"].startswith("17.")
    assert seen["versions"]["jupyterhub-ldapauthenticator"].startswith("2.")
    assert seen["versions"]["jupyterhub-nativeauthenticator"].startswith("1.3")
    assert seen["versions"]["the-littlest-jupyterhub"] == "2.0.0"
    assert seen["authenticator"] == "oauthenticator.github.GitHubOAuthenticator"
    # A null trait (scope:) is not set, as TLJH's set_if_not_none skips it.
    assert seen["github"] == {"client_id": "Iv1.abc", "client_secret": "s3cret-value",
                              "allowed_organizations": ["example-org"],
                              "oauth_callback_url": "https://hub.example.edu/hub/oauth_callback"}
    assert seen["admin_users"] == ["alice"] and seen["allowed_users"] == []
    assert seen["mem_limit"] == "2G" and seen["default_url"] == "/lab"
    assert seen["username_template"] == "jupyter-{USERNAME}"
    [cull] = seen["services"]
    assert cull["name"] == "cull-idle" and cull["admin"] is True
    assert cull["command"] == [str(sshd_hub.hub_python), "-m", "jupyterhub_idle_culler", "--timeout=3600",
                               "--cull-every=300", "--concurrency=5", "--max-age=0"]


def run_configurer(hub, config_text):
    (hub.prefix / "config" / "config.yaml").write_text(config_text)
    return subprocess.run(
        [str(hub.hub_python), "-c", "from traitlets.config import Config\nfrom tljh import configurer\n"
         "c = Config()\nconfigurer.apply_config(configurer.load_config(), c)\n"
         "print(c.FirstUseAuthenticator.get('allow_all'), sorted(c.Authenticator.allowed_users))"],
        capture_output=True, text=True, env={"TLJH_INSTALL_PREFIX": str(hub.prefix)})


def test_configurer_standin_keeps_tljh_quirks(sshd_hub):
    # The default authenticator with nobody allowed lets everyone in (upstream's update_userlists).
    done = run_configurer(sshd_hub, "users:\n  admin: [admin]\n")
    assert done.returncode == 0 and done.stdout.split() == ["True", "[]"]
    done = run_configurer(sshd_hub, "users:\n  allowed: [bob]\n")
    assert done.stdout.split() == ["None", "['bob']"]
    # A lower-case key under auth is refused as upstream's update_auth refuses it.
    done = run_configurer(sshd_hub, "auth:\n  type: dummy\n  password: x\n")
    assert done.returncode != 0 and "auth.password was ignored" in done.stderr


def test_user_environment_is_its_own(sshd_hub):
    """The user environment runs a kernel; renaming its jupyter_server breaks it and leaves the hub's intact."""
    user_python = str(sshd_hub.user_python)
    probe = "import jupyter_server, ipykernel, jupyterhub.singleuser; print('ok')"
    assert subprocess.run([user_python, "-c", probe], capture_output=True, text=True).stdout.strip() == "ok"
    assert (sshd_hub.prefix / "user" / "bin" / "jupyterhub-singleuser").stat().st_mode & 0o111
    pip = subprocess.run([user_python, "-m", "pip", "--version"], capture_output=True, text=True)
    assert pip.returncode != 0  # nothing run in the user environment can uninstall through its links
    links = sshd_hub.prefix / "user" / "lib" / "standin-packages"
    (links / "jupyter_server").rename(links / "jupyter_server.broken")
    broken = subprocess.run([user_python, "-c", probe], capture_output=True, text=True)
    assert broken.returncode != 0 and "jupyter_server" in broken.stderr
    hub = subprocess.run([str(sshd_hub.hub_python), "-c", "import jupyter_server, jupyterhub; print('ok')"],
                         capture_output=True, text=True)
    assert hub.stdout.strip() == "ok"
