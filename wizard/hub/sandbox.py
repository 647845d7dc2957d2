"""The demo sandbox: a TLJH-shaped tree on this machine and small stand-ins for the parts of TLJH that cannot run here.

TLJH's services (JupyterHub and Traefik under systemd) cannot run in a sandbox or a test container, so two small
stand-ins take their place, named as such:

- ``tljh-config`` (installed as ``PREFIX/hub/bin/tljh-config``, like the real one): ``set``/``unset``/``add-item``/
  ``remove-item``/``show``/``reload [hub|proxy]``. It edits ``config/config.yaml`` under ``config.yaml.lock``, validates
  it with TLJH's own JSON schema, and records every reload (component and the sha256 of the config it saw) in
  ``hub/standin/reloads.log``. ``hub/standin/behaviour.json`` can script the next reload outcomes
  (``{"hub": ["fail"], "proxy": ["hang"]}``) so tests can exercise failing and hanging reloads. On a tree whose hub
  was made real (``wizard.hub.services.bring_up``), ``reload hub|proxy`` restarts the real JupyterHub or proxy through
  the systemctl stand-in and waits for it as TLJH's ``reload_component`` does.
- :class:`HubApiStandIn`: a loopback HTTP server answering ``/hub/api`` while the stand-in hub is "running".

Both the sshd test rig and ``tljh-wizard demo`` build their tree with :func:`create_tree`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any

TLJH_VERSION = "2.0.0"
HUB_VERSION = "5.2.1"
USER_PYTHON = "3.12.7"
# The sandbox is not tied to any real channel: records name a mirror under a reserved example domain.
CHANNEL = "https://mirror.example.org/conda-forge/linux-64"

# (name, version, build, build_number) as Miniforge installs them into TLJH's user environment.
CONDA_PACKAGES = [
    ("python", USER_PYTHON, "hc5c86c4_0_cpython", 0),
    ("pip", "24.2", "pyh8b19718_1", 1),
    ("setuptools", "75.1.0", "pyhd8ed1ab_0", 0),
    ("wheel", "0.44.0", "pyhd8ed1ab_0", 0),
    ("conda", "24.9.2", "py312h7900ff3_0", 0),
    ("mamba", "1.5.10", "py312h9460a1c_0", 0),
    ("openssl", "3.3.2", "hb9d3cd8_0", 0),
    ("ca-certificates", "2024.8.30", "hbcca054_0", 0),
    ("libffi", "3.4.2", "h7f98852_5", 5),
    ("libzlib", "1.3.1", "h4ab18f5_1", 1),
    ("ncurses", "6.5", "he02047a_1", 1),
    ("readline", "8.2", "h8228510_1", 1),
    ("sqlite", "3.46.1", "h9eae976_0", 0),
    ("tk", "8.6.13", "noxft_h4845f30_101", 101),
    ("xz", "5.2.6", "h166bdaf_0", 0),
]
# Installed by TLJH with pip into the user environment.
PIP_PACKAGES = [
    ("jupyterhub", HUB_VERSION),
    ("jupyterlab", "4.2.5"),
    ("notebook", "7.2.2"),
    ("jupyter_server", "2.14.2"),
    ("jupyterlab_widgets", "3.0.13"),
    ("nbgitpuller", "1.2.1"),
]

PRISTINE_CONFIG = "users:\n  admin:\n  - admin\n"


def standin_dir(prefix: str | os.PathLike[str]) -> Path:
    return Path(prefix) / "hub" / "standin"


def _record(name: str, version: str, build: str, number: int) -> dict[str, Any]:
    fn = f"{name}-{version}-{build}.conda"
    digest = hashlib.sha256(fn.encode()).hexdigest()
    return {
        "name": name,
        "version": version,
        "build": build,
        "build_number": number,
        "channel": CHANNEL,
        "subdir": "linux-64" if not build.startswith("pyh") else "noarch",
        "fn": fn,
        "url": f"{CHANNEL}/{fn}",
        "md5": hashlib.md5(fn.encode()).hexdigest(),
        "sha256": digest,
        "size": int(digest[:5], 16),
        "depends": [] if name == "python" else [f"python >={USER_PYTHON[:4]}"],
        "license": "BSD-3-Clause",
        "timestamp": 1727000000000,
        "files": [],
        "paths_data": {"paths": [], "paths_version": 1},
        "requested_spec": name if name in ("python", "pip", "conda", "mamba") else "",
    }


def _write(path: Path, data: str | bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    os.chmod(path, mode)


def create_tree(prefix: str | os.PathLike[str], python: str | None = None, hub_env: dict[str, Any] | None = None) -> Path:
    """Build a pristine TLJH-shaped tree at ``prefix`` (removing what was there) and return it.

    ``python`` is the interpreter the ``tljh-config`` stand-in runs with (default: this one); it must be able to
    import this package. ``hub_env`` (a dict, possibly empty, of the ports to keep): also build real hub and user
    environments (``wizard.hub.hubenv.build``), so ``PREFIX/hub/bin/python`` imports JupyterHub, the authenticators,
    the idle culler and the ``tljh`` stand-in.
    """
    root = Path(prefix)
    if (root / "hub" / "standin" / "services.json").exists():
        from wizard.hub import services

        services.stop_all(root)  # a real hub of the old tree must not outlive it
    if hub_env is not None:
        from wizard.hub import hubenv

        hubenv.set_aside(root)
    for part in ("config", "state", "user", "hub"):
        shutil.rmtree(root / part, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)

    config = root / "config"
    config.mkdir(mode=0o700)
    os.chmod(config, 0o700)
    _write(config / "config.yaml", PRISTINE_CONFIG, 0o600)
    (config / "jupyterhub_config.d").mkdir(mode=0o755)

    state = root / "state"
    state.mkdir(mode=0o700)
    os.chmod(state, 0o700)
    _write(state / "jupyterhub_cookie_secret", hashlib.sha256(str(root).encode()).hexdigest() + "\n", 0o600)
    if hub_env is None:  # a real hub environment gets a database made by JupyterHub itself
        db = sqlite3.connect(state / "jupyterhub.sqlite")
        with db:
            db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT UNIQUE, admin BOOLEAN)")
            db.execute("INSERT INTO users (name, admin) VALUES ('admin', 1)")
            db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
            db.execute("INSERT INTO alembic_version VALUES ('4621fec11365')")
        db.close()
        os.chmod(state / "jupyterhub.sqlite", 0o600)
    _write(state / "traefik.toml", '[entryPoints.http]\naddress = ":80"\n', 0o600)
    (state / "rules").mkdir(mode=0o700)
    _write(state / "rules" / "rules.toml", "", 0o600)

    user = root / "user"
    meta = user / "conda-meta"
    meta.mkdir(parents=True)
    history = ["==> 2024-10-21 12:00:00 <==", f"# cmd: {user}/bin/conda install --yes python={USER_PYTHON} pip"]
    for name, version, build, number in CONDA_PACKAGES:
        _write(meta / f"{name}-{version}-{build}.json", json.dumps(_record(name, version, build, number), indent=2))
        history.append(f"+conda-forge/linux-64::{name}-{version}-{build}")
    _write(meta / "history", "\n".join(history) + "\n")
    site = user / "lib" / f"python{USER_PYTHON.rsplit('.', 1)[0]}" / "site-packages"
    for name, version in PIP_PACKAGES:
        info = site / f"{name}-{version}.dist-info"
        _write(info / "METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        _write(info / "INSTALLER", "pip\n")
    (user / "bin").mkdir()

    hub = root / "hub"
    hub_site = hub / "lib" / "python3.12" / "site-packages"
    _write(
        hub_site / f"the_littlest_jupyterhub-{TLJH_VERSION}.dist-info" / "METADATA",
        f"Metadata-Version: 2.1\nName: the-littlest-jupyterhub\nVersion: {TLJH_VERSION}\n",
    )
    interpreter = python or sys.executable
    _write(
        hub / "bin" / "tljh-config",
        f"#!{interpreter}\n# Stand-in for TLJH's tljh-config (see wizard/hub/sandbox.py).\n"
        "import sys\nfrom wizard.hub.sandbox import tljh_config_main\nsys.exit(tljh_config_main(sys.argv[1:]))\n",
        0o755,
    )
    standin = standin_dir(root)
    standin.mkdir(parents=True)
    _write(standin / "hub-status", "running\n")
    _write(standin / "behaviour.json", "{}\n")
    if hub_env is not None:
        from wizard.hub import hubenv

        hubenv.build(root, ports=hub_env)
    return root


def reloads(prefix: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The reloads the stand-in recorded, oldest first."""
    log = standin_dir(prefix) / "reloads.log"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def script_reloads(prefix: str | os.PathLike[str], **outcomes: list[str]) -> None:
    """Script the next reload outcomes, e.g. ``script_reloads(p, hub=["fail"])``: "ok", "fail", "hang" or
    "fail-quoting" (fails, quoting the whole config.yaml it read on stderr)."""
    _write(standin_dir(prefix) / "behaviour.json", json.dumps(outcomes))


# --- the tljh-config stand-in -------------------------------------------------------------------------------------


def _parse_value(text: str) -> int | float | bool | str:
    """TLJH's ``parse_value``: int, then float, then true/false, else the string itself."""
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def _validate(config: Any) -> str | None:
    """Validate with TLJH's schema (the 2.0.0 one a fresh install gets); return the error message or None."""
    # jsonschema imports the optional rfc3987_syntax at load time, which builds a grammar (~2 s). Format keywords
    # are not enforced by tljh-config either, so the stand-in does without it.
    # (None in sys.modules makes its import raise ImportError, the import system's own rule; typeshed allows only modules)
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    from importlib.resources import files

    import jsonschema

    schema = json.loads((files("wizard") / "data" / "tljh" / "config-schema-2.0.0.json").read_text())
    try:
        jsonschema.validate(config or {}, schema)
    except jsonschema.ValidationError as exc:
        return f"{'.'.join(str(p) for p in exc.absolute_path) or 'config'}: {exc.message}"
    return None


def _next_outcome(standin: Path, component: str) -> str:
    path = standin / "behaviour.json"
    try:
        script = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        script = {}
    queue = script.get(component) or []
    if not queue:
        return "ok"
    outcome = str(queue.pop(0))
    path.write_text(json.dumps(script))
    return outcome


def _reload(prefix: Path, component: str) -> int:
    standin = standin_dir(prefix)
    config_bytes = (prefix / "config" / "config.yaml").read_bytes()
    outcome = _next_outcome(standin, component)
    with open(standin / "reloads.log", "a") as log:
        log.write(json.dumps({
            "component": component, "outcome": outcome, "time": time.time(),
            "config_sha256": hashlib.sha256(config_bytes).hexdigest(),
        }) + "\n")
    from wizard.hub import services

    if outcome == "ok" and services.real_mode(prefix):
        return _reload_real(prefix, component)
    from wizard import yamlio

    error = _validate(yamlio.loads(config_bytes.decode("utf-8")))
    if component == "hub":
        (standin / "hub-status").write_text("stopped\n")
    if outcome == "hang":
        while True:  # what TLJH's own reload does when the hub never answers: wait forever
            time.sleep(60)
    if outcome == "fail-quoting":  # a failing service whose error output quotes the config it read, secrets too
        print(f"Failed to reload {component}: bad config {json.dumps(yamlio.loads(config_bytes.decode()))}",
              file=sys.stderr)
        return 1
    if outcome == "fail" or error:
        print(f"Failed to reload {component}: {error or 'service exited with status 1'}", file=sys.stderr)
        return 1
    if component == "hub":
        (standin / "hub-status").write_text("running\n")
        print("Hub reload with new configuration complete")
    else:
        print("Proxy reload with new configuration complete")
    return 0


def _reload_real(prefix: Path, component: str) -> int:
    """TLJH's ``reload_component`` (the-littlest-jupyterhub 2.0.0, ``tljh/config.py``) on a tree with a real hub, through
    the systemctl stand-in as TLJH goes through systemctl (``tljh/systemd.py``): ``systemctl restart UNIT`` (a failing
    restart fails the reload, as ``restart_service``'s ``check=True`` does), then ``systemctl is-active UNIT`` until
    it says active (``check_service_active``), then, for the hub, ``GET /hub/api`` until it answers 200
    (``check_hub_ready``). One difference, on purpose: TLJH polls forever (its unit has ``Restart=always``, so a hub
    that cannot start is restarted in a loop and the reload never returns); here ``is-active`` saying ``failed`` -- also
    asked once a second between the ``/hub/api`` polls -- ends the reload with the unit's log tail, exit status 1."""
    import subprocess

    from wizard.hub import services

    unit = "jupyterhub" if component == "hub" else "traefik"
    systemctl = str(services.standin(prefix) / "systemctl")

    def is_active() -> str:
        done = subprocess.run([systemctl, "is-active", unit], capture_output=True, text=True)
        return done.stdout.strip() or "unknown"

    def failed() -> int:
        print(f"Failed to reload {component}: {unit}.service failed:\n{services.log_tail(prefix, unit)}",
              file=sys.stderr)
        return 1

    restart = subprocess.run([systemctl, "restart", unit], capture_output=True, text=True)
    if restart.returncode != 0:
        print(f"Failed to reload {component}: {restart.stderr.strip()}", file=sys.stderr)
        return 1
    while (state := is_active()) != "active":
        if state == "failed":
            return failed()
        time.sleep(0.1)
    if component == "hub":
        url, asked = services.hub_api_url(prefix), time.monotonic()
        while not services.hub_ready(url):
            if time.monotonic() - asked >= 1.0:  # TLJH's pace for systemctl; /hub/api is polled more often
                if is_active() == "failed":
                    return failed()
                asked = time.monotonic()
            time.sleep(0.2)
        print("Hub reload with new configuration complete")
    else:
        print("Proxy reload with new configuration complete")
    return 0


def _edit(prefix: Path, action: str, key: str, value: str = "") -> int:
    import fcntl

    from wizard import yamlio
    from wizard.files import atomic_write

    path = prefix / "config" / "config.yaml"
    with open(prefix / "config" / "config.yaml.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        config = yamlio.loads(path.read_text(encoding="utf-8"), str(path), round_trip=True) if path.exists() else None
        if config is None:
            config = yamlio.loads("{}", round_trip=True)
        *parents, leaf = key.split(".")
        node = config
        for part in parents:
            node = node.setdefault(part, {}) if action != "unset" else node.get(part, {})
        if action == "set":
            node[leaf] = _parse_value(value)
        elif action == "unset":
            if leaf not in node:
                print(f"{key} is not set", file=sys.stderr)
                return 1
            del node[leaf]
        elif action == "add-item":
            node.setdefault(leaf, []).append(_parse_value(value))
        elif action == "remove-item":
            items = node.get(leaf, [])
            if _parse_value(value) not in items:
                print(f"{value} is not in {key}", file=sys.stderr)
                return 1
            items.remove(_parse_value(value))
        error = _validate(config)
        if error:
            print(f"Invalid configuration: {error}", file=sys.stderr)
            return 1
        atomic_write(path, yamlio.dump(config, round_trip=True), mode=0o600)
    return 0


def tljh_config_main(argv: list[str]) -> int:
    """Entry point of the stand-in; the prefix is where the script is installed (``PREFIX/hub/bin``)."""
    prefix = Path(sys.argv[0]).resolve().parents[2]
    usage = ("usage: tljh-config {set KEY VALUE|unset KEY|add-item KEY VALUE|remove-item KEY VALUE|show|"
             "reload [hub|proxy]}")
    if not argv:
        print(usage, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "show" and not rest:
        sys.stdout.write((prefix / "config" / "config.yaml").read_text(encoding="utf-8"))
        return 0
    if command == "reload" and len(rest) <= 1 and (rest or ["hub"])[0] in ("hub", "proxy"):
        return _reload(prefix, (rest or ["hub"])[0])
    if command in ("set", "add-item", "remove-item") and len(rest) == 2:
        return _edit(prefix, command, rest[0], rest[1])
    if command == "unset" and len(rest) == 1:
        return _edit(prefix, command, rest[0])
    print(usage, file=sys.stderr)
    return 2


# --- the hub API stand-in -----------------------------------------------------------------------------------------


class HubApiStandIn:
    """Answers ``GET .../hub/api`` on a loopback port with 200 while the stand-in hub runs, 503 while it is stopped."""

    def __init__(self, prefix: str | os.PathLike[str], host: str = "127.0.0.1"):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        status_file = standin_dir(prefix) / "hub-status"

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                running = status_file.exists() and status_file.read_text().strip() == "running"
                ok = self.path.rstrip("/").endswith("/hub/api") and running
                body = json.dumps({"version": HUB_VERSION} if ok else {"status": 503}).encode()
                self.send_response(200 if ok else (503 if not running else 404))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_address[1]}/hub/api"
        self._thread = threading.Thread(target=self._server.serve_forever, name="hub-api-standin", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
