"""Real hub and user environments for sandbox trees (the test rig; the demo when the packages are installed).

TLJH installs two Python environments under its prefix: ``PREFIX/hub`` (JupyterHub, the authenticators, the idle
culler and the ``tljh`` package itself) and ``PREFIX/user`` (the users' ``jupyter_server`` and kernel). A sandbox
cannot download them, so :func:`build` makes both from the packages this interpreter already has, in milliseconds:

- ``PREFIX/hub``: a venv (``venv.EnvBuilder``, symlinked interpreter, no pip) whose site-packages holds a ``.pth``
  line naming this interpreter's site-packages (so ``PREFIX/hub/bin/python`` imports ``jupyterhub``, the
  authenticators and ``jupyterhub_idle_culler``), the ``tljh`` STAND-IN package (``wizard/hub/standin_tljh``: config,
  configurer, jupyterhub_config) with TLJH 2.0.0's defaults beside it, and TLJH's ``dist-info`` (version 2.0.0). A pip
  run in it installs into ``PREFIX/hub`` and refuses to uninstall what lies outside it.
- ``PREFIX/user``: a venv whose own packages live in ``PREFIX/user/lib/standin-packages``: one symlink per top-level
  entry of this interpreter's site-packages (pip, this project and editable-install hooks left out, so nothing run in
  the user environment can remove files through the links), named in a ``.pth``. Renaming
  ``standin-packages/jupyter_server`` breaks the user environment and only it, as a broken ``conda update`` would.
  ``PREFIX/user/bin/jupyterhub-singleuser`` starts the single-user server with the user environment's Python, so its
  default kernel (``python3``, ipykernel's own spec) runs there too. The tree's conda-meta records and
  ``lib/python3.12/site-packages`` metadata (:func:`wizard.hub.sandbox.create_tree`) are left as they are.
- ``state/jupyterhub.sqlite``: an empty database made by JupyterHub's own ``orm`` (cached per JupyterHub version).
- ``hub/standin/services.json``: the loopback address and the ports of this sandbox's hub, proxy and proxy API, the
  configurable-http-proxy command and the owner process; ``hub/standin/systemctl``, the systemd stand-in
  (``wizard.hub.services``), and ``state/configurable-http-proxy.secret`` (0600), the token the hub and the proxy
  share.

:func:`available` says whether this interpreter has the packages (the demo keeps the light stand-in otherwise).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import sys
import sysconfig
import tempfile
import venv
from pathlib import Path
from typing import Any

HUB_PACKAGES = ("jupyterhub", "oauthenticator", "ldapauthenticator", "nativeauthenticator", "firstuseauthenticator",
                "jupyterhub_idle_culler")
USER_PACKAGES = ("jupyter_server", "ipykernel", "jupyterhub")
# Left out of the user environment's links: pip (a pip run there must not reach the shared files through a link),
# this project and the hooks of editable installs.
_NOT_LINKED = ("pip", "pip-", "tljh_wizard", "__editable__", "_tljh_wizard", "__pycache__", "wizard", "screens")
ADDRESS = "127.0.0.1"


def site_packages() -> Path:
    """This interpreter's site-packages (purelib), which the sandbox environments reach."""
    return Path(sysconfig.get_paths()["purelib"])


def available() -> bool:
    """True when this interpreter can build a real hub: JupyterHub, the authenticators, the culler and a server."""
    from importlib.util import find_spec

    return all(find_spec(name) is not None for name in (*HUB_PACKAGES, *USER_PACKAGES))


def free_port(address: str = ADDRESS) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def _venv(path: Path) -> None:
    venv.EnvBuilder(with_pip=False, symlinks=True, clear=False).create(str(path))


def _env_site(path: Path) -> Path:
    return path / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


def empty_database(cache_dir: Path | None = None) -> bytes:
    """A new, empty JupyterHub database (tables created and stamped by ``jupyterhub.orm.new_session_factory``),
    cached in ``cache_dir`` (default ``sys.prefix/share/tljh-wizard``) per JupyterHub version."""
    from importlib.metadata import version

    cache = (cache_dir or Path(sys.prefix) / "share" / "tljh-wizard") / f"jupyterhub-{version('jupyterhub')}.sqlite"
    if not cache.exists():
        from jupyterhub import orm

        cache.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache.parent) as scratch:
            db = Path(scratch) / "jupyterhub.sqlite"
            orm.new_session_factory(f"sqlite:///{db}")
            os.replace(db, cache)
    return cache.read_bytes()


def chp_command(root: Path | None = None) -> list[str] | None:
    """configurable-http-proxy's command line: ``TLJH_WIZARD_CHP`` (a path), else ``node_modules/.bin`` under
    ``sys.prefix/chp`` (where tests/run.sh installs it), else one on PATH; None when there is none."""
    candidates = [os.environ.get("TLJH_WIZARD_CHP"),
                  str((root or Path(sys.prefix)) / "chp" / "node_modules" / ".bin" / "configurable-http-proxy"),
                  shutil.which("configurable-http-proxy")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return [candidate]
    return None


_KEPT = ".standin-packages.kept"


def set_aside(prefix: str | os.PathLike[str]) -> None:
    """Before a tree is reset: move the user environment's links out of the way, so :func:`build` can reuse them
    when they are unchanged (making ~300 links costs more than the rest of the tree on a slow disk)."""
    links = Path(prefix) / "user" / "lib" / "standin-packages"
    kept = Path(prefix) / _KEPT
    if links.is_dir() and not links.is_symlink():
        shutil.rmtree(kept, ignore_errors=True)
        os.replace(links, kept)


def _pristine(links: Path, wanted: dict[str, Any]) -> bool:
    try:
        entries = {entry.name: entry for entry in os.scandir(links)}
    except OSError:
        return False
    return entries.keys() == wanted.keys() and all(
        entry.is_symlink() and os.readlink(entry.path) == str(wanted[name]) for name, entry in entries.items())


def build(prefix: str | os.PathLike[str], *, source: Path | None = None, address: str = ADDRESS,
          ports: dict[str, Any] | None = None) -> dict[str, Any]:
    """Turn the sandbox tree at ``prefix`` (made by ``create_tree``) into one with real hub and user environments.

    ``source``: the site-packages to reach (default: this interpreter's). ``ports``: ``http_port``, ``hub_port``,
    ``proxy_api_port`` to use (default: free ones now). Returns the ``services.json`` contents.
    """
    from importlib.resources import files

    root = Path(prefix)
    source = source or site_packages()

    hub = root / "hub"
    _venv(hub)
    hub_site = _env_site(hub)
    hub_site.mkdir(parents=True, exist_ok=True)
    (hub_site / "tljh-wizard-standin.pth").write_text(f"{source}\n")
    standin = Path(str(files("wizard.hub.standin_tljh") / "tljh"))
    shutil.copytree(standin, hub_site / "tljh", ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
    shutil.copyfile(Path(str(files("wizard") / "data" / "tljh" / "config-defaults.json")),
                    hub_site / "tljh" / "config-defaults.json")
    for stale in hub.glob("lib/python*/site-packages/the_littlest_jupyterhub-*.dist-info"):
        shutil.rmtree(stale)
    from wizard.hub.sandbox import TLJH_VERSION

    info = hub_site / f"the_littlest_jupyterhub-{TLJH_VERSION}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: the-littlest-jupyterhub\nVersion: {TLJH_VERSION}\n")
    (info / "INSTALLER").write_text("tljh-wizard sandbox\n")

    user = root / "user"
    _venv(user)
    links = user / "lib" / "standin-packages"
    wanted = {entry.name: entry for entry in source.iterdir()
              if not entry.name.startswith(_NOT_LINKED) and entry.suffix != ".pth"}
    kept = root / _KEPT
    if kept.is_dir() and _pristine(kept, wanted):
        os.replace(kept, links)  # the links of the tree being reset, untouched: no need to make them again
    else:
        shutil.rmtree(kept, ignore_errors=True)
        links.mkdir(parents=True, exist_ok=True)
        for name, entry in wanted.items():
            os.symlink(entry, links / name)
    user_site = _env_site(user)
    user_site.mkdir(parents=True, exist_ok=True)
    (user_site / "tljh-wizard-standin.pth").write_text(f"{links}\n")
    server = user / "bin" / "jupyterhub-singleuser"
    server.write_text(f"#!{user / 'bin' / 'python'}\n# The user environment's single-user server "
                      "(wizard/hub/hubenv.py).\nimport sys\nfrom jupyterhub.singleuser import main\n"
                      "sys.exit(main())\n")
    server.chmod(0o755)

    database = root / "state" / "jupyterhub.sqlite"
    database.write_bytes(empty_database())
    os.chmod(database, 0o600)

    token = root / "state" / "configurable-http-proxy.secret"
    token.write_text(f"CONFIGPROXY_AUTH_TOKEN={secrets.token_hex(32)}\n")
    os.chmod(token, 0o600)

    ports = dict(ports or {})
    services = {"ip": address,
                "http_port": ports.get("http_port") or free_port(address),
                "hub_port": ports.get("hub_port") or free_port(address),
                "proxy_api_port": ports.get("proxy_api_port") or free_port(address),
                "chp": chp_command(),
                "owner_pid": os.getpid(),
                "supervisor_python": sys.executable}
    standin_dir = hub / "standin"
    standin_dir.mkdir(exist_ok=True)
    (standin_dir / "services.json").write_text(json.dumps(services, indent=2) + "\n")
    systemctl = standin_dir / "systemctl"
    systemctl.write_text(f"#!{sys.executable}\n# Stand-in for systemctl (wizard/hub/services.py).\nimport sys\n"
                         "from wizard.hub.services import systemctl_main\n"
                         f"sys.exit(systemctl_main(sys.argv[1:], {str(root)!r}))\n")
    systemctl.chmod(0o755)
    return services


def hub_api_url(services: dict[str, Any]) -> str:
    """The real hub's ``/hub/api`` through its proxy, as seen on the hub."""
    return f"http://{services['ip']}:{services['http_port']}/hub/api"
