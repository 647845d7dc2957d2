"""STAND-IN of systemd for sandbox trees with a real hub: ``systemctl start|stop|restart|is-active jupyterhub|traefik``.

On a TLJH server systemd runs two units (the-littlest-jupyterhub 2.0.0, ``tljh/systemd-units/``): ``jupyterhub``
(``PREFIX/hub/bin/python -m jupyterhub -f .../tljh/jupyterhub_config.py --upgrade-db``, working directory
``PREFIX/state``, ``TLJH_INSTALL_PREFIX`` set) and ``traefik``, the proxy; ``tljh-config reload hub|proxy`` restarts
one (``tljh/systemd.py``: ``systemctl restart NAME``) and waits for ``systemctl is-active NAME`` and the hub's
``/hub/api`` (``tljh/config.py``: ``reload_component``). systemd cannot run in a sandbox, so this module plays it:

- each unit runs under a small supervisor process (``python -m wizard.hub.services supervise PREFIX UNIT``), started
  in a session of its own so it outlives the SSH session that asked for it; its PIDs are in
  ``hub/standin/UNIT.pid`` and the unit's output in ``hub/standin/UNIT.log`` (the stand-in of the journal);
- ``jupyterhub`` runs as TLJH's unit runs it (command, working directory, environment) plus
  ``CONFIGPROXY_AUTH_TOKEN`` from ``state/configurable-http-proxy.secret`` (0600);
- ``traefik`` runs configurable-http-proxy on the sandbox's ``http_port`` with its API on ``proxy_api_port``
  (Traefik itself does not run here; TLJH's own older releases used CHP the same way);
- differences from systemd, on purpose: a unit whose process exits is ``failed`` and stays so (TLJH's units have
  ``Restart=always``, which would restart a crashing hub in a loop), and ``stop`` ends the unit's main process only,
  as TLJH's per-user units keep single-user servers alive across hub restarts (``cleanup_servers = False``);
- a supervisor whose owner (``owner_pid`` in ``services.json``: the test run, or the demo) has gone stops its unit,
  so no hub outlives the run that made it. :func:`stop_all` ends the units and every process still running from
  the tree (single-user servers, kernels, the idle culler): anything whose command line names the prefix.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

UNITS = ("jupyterhub", "traefik")
STOP_SECONDS = 15.0


class ServiceError(Exception):
    """A unit could not be started or stopped; the message is for the operator."""


def standin(prefix: str | os.PathLike[str]) -> Path:
    return Path(prefix) / "hub" / "standin"


def services_config(prefix: str | os.PathLike[str]) -> dict[str, Any]:
    return _json_object(standin(prefix) / "services.json")


def _json_object(path: Path) -> dict[str, Any]:
    """A JSON object the stand-in wrote; ``ValueError`` when the file holds anything else."""
    loaded = json.loads(path.read_text())
    if not isinstance(loaded, dict):
        raise ValueError(f"{path}: not a JSON object")
    return loaded


def token_file(prefix: str | os.PathLike[str]) -> Path:
    return Path(prefix) / "state" / "configurable-http-proxy.secret"


def hub_config_file(prefix: str | os.PathLike[str]) -> Path:
    """TLJH's ``jupyterhub_config.py`` inside the hub environment (the stand-in's copy)."""
    found = sorted((Path(prefix) / "hub").glob("lib/python*/site-packages/tljh/jupyterhub_config.py"))
    if not found:
        raise ServiceError(f"{prefix}/hub has no tljh package: not a tree with a real hub environment")
    return found[0]


def _token(prefix: Path) -> str:
    text = token_file(prefix).read_text()
    return text.strip().partition("=")[2]


def unit_command(prefix: str | os.PathLike[str], unit: str) -> tuple[list[str], Path, dict[str, str]]:
    """(argv, working directory, environment) of ``unit`` as TLJH's unit file gives them (proxy: CHP)."""
    root = Path(prefix)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "TLJH_INSTALL_PREFIX": str(root),
           "CONFIGPROXY_AUTH_TOKEN": _token(root), "HOME": str(root / "state")}
    if unit == "jupyterhub":
        argv = [str(root / "hub" / "bin" / "python"), "-m", "jupyterhub", "-f", str(hub_config_file(root)),
                "--upgrade-db"]
        return argv, root / "state", env
    if unit == "traefik":
        services = services_config(root)
        if not services.get("chp"):
            raise ServiceError("configurable-http-proxy is not installed (tests/run.sh installs it into .venv/chp)")
        ip, hub = services["ip"], f"http://{services['ip']}:{services['hub_port']}"
        argv = [*services["chp"], "--ip", ip, "--port", str(services["http_port"]), "--api-ip", ip,
                "--api-port", str(services["proxy_api_port"]), "--default-target", hub,
                "--error-target", f"{hub}/hub/error", "--log-level", "warn"]
        return argv, root / "state", env
    raise ServiceError(f"unknown unit {unit!r} (known: {', '.join(UNITS)})")


# --- state ---------------------------------------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie is not running: an orphan may wait a while for init to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _pids(prefix: Path, unit: str) -> dict[str, Any] | None:
    try:
        return _json_object(standin(prefix) / f"{unit}.pid")
    except (OSError, ValueError):
        return None


def state(prefix: str | os.PathLike[str], unit: str) -> str:
    """``active``, ``inactive`` or ``failed`` (as ``systemctl is-active`` prints them)."""
    root = Path(prefix)
    pids = _pids(root, unit)
    if pids and _alive(pids["supervisor"]) and _alive(pids["main"]):
        return "active"
    try:
        return str(_json_object(standin(root) / f"{unit}.status").get("state", "inactive"))
    except (OSError, ValueError):
        return "inactive"


def main_pid(prefix: str | os.PathLike[str], unit: str) -> int | None:
    pids = _pids(Path(prefix), unit)
    return pids["main"] if pids and state(prefix, unit) == "active" else None


def log_tail(prefix: str | os.PathLike[str], unit: str, lines: int = 20) -> str:
    """The last ``lines`` lines the unit wrote (the stand-in of ``journalctl -u UNIT -n LINES``)."""
    try:
        text = (standin(prefix) / f"{unit}.log").read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# --- start / stop ----------------------------------------------------------------------------------------------------


def start(prefix: str | os.PathLike[str], unit: str) -> None:
    """Start ``unit`` if it is not active (returns once its process runs, as systemd does for ``Type=simple``)."""
    root = Path(prefix)
    if state(root, unit) == "active":
        return
    unit_command(root, unit)  # refuse early (unknown unit, no CHP) with a clear message
    (standin(root) / f"{unit}.status").unlink(missing_ok=True)
    (standin(root) / f"{unit}.pid").unlink(missing_ok=True)
    python = services_config(root).get("supervisor_python") or sys.executable
    with open(standin(root) / f"{unit}.log", "ab") as log:
        subprocess.Popen([python, "-m", "wizard.hub.services", "supervise", str(root), unit],
                         stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                         env={**os.environ, "PYTHONPATH": _importable_from()}, cwd="/")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if _pids(root, unit) or state(root, unit) == "failed":
            return
        time.sleep(0.02)
    raise ServiceError(f"{unit}: the supervisor did not start within 30 s:\n{log_tail(root, unit)}")


def _importable_from() -> str:
    """The directory holding the ``wizard`` package, so the supervisor imports this very module."""
    return str(Path(__file__).resolve().parents[2])


def stop(prefix: str | os.PathLike[str], unit: str) -> None:
    """Stop ``unit``: SIGTERM to its supervisor, which ends the main process (SIGKILL after 10 s) and exits."""
    root = Path(prefix)
    pids = _pids(root, unit)
    if not pids:
        return
    for pid in (pids["supervisor"],):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + STOP_SECONDS
    while time.monotonic() < deadline and (_alive(pids["supervisor"]) or _alive(pids["main"])):
        time.sleep(0.02)
    for pid in (pids["main"], pids["supervisor"]):
        if _alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    (standin(root) / f"{unit}.pid").unlink(missing_ok=True)


def restart(prefix: str | os.PathLike[str], unit: str) -> None:
    stop(prefix, unit)
    start(prefix, unit)


def tree_processes(prefix: str | os.PathLike[str]) -> list[int]:
    """PIDs of every process whose command line names the tree (servers, kernels, culler, units), except this one."""
    marker = str(Path(prefix)).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def stop_all(prefix: str | os.PathLike[str]) -> None:
    """Stop both units, then end every process still running from the tree (TERM, then KILL after 5 s)."""
    root = Path(prefix)
    if not standin(root).is_dir():
        return
    for unit in UNITS:
        stop(root, unit)
    left = [pid for pid in tree_processes(root) if _alive(pid)]
    for pid in left:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_alive(pid) for pid in left):
        time.sleep(0.05)
    for pid in left:
        if _alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# --- the real hub of a sandbox ---------------------------------------------------------------------------------------


def real_mode(prefix: str | os.PathLike[str]) -> bool:
    """True once :func:`bring_up` made the tree's hub real: ``tljh-config reload`` then restarts the real units."""
    return (standin(prefix) / "real-hub").exists()


def hub_api_url(prefix: str | os.PathLike[str]) -> str:
    """The real hub's ``/hub/api`` through the proxy, where TLJH's reload looks (``base_url`` from config.yaml)."""
    services = services_config(prefix)
    base = "/"
    try:
        from wizard import yamlio

        data = yamlio.loads((Path(prefix) / "config" / "config.yaml").read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("base_url"):
            base = str(data["base_url"])
    except Exception:  # an unreadable or invalid file (yamlio raises its own errors): TLJH's default base_url
        base = "/"
    return f"http://{services['ip']}:{services['http_port']}{base.rstrip('/')}/hub/api"


def hub_ready(url: str) -> bool:
    """TLJH's ``check_hub_ready``: ``GET url`` answers 200."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_for_hub(prefix: str | os.PathLike[str], timeout: float | None = None, pause: float = 0.2) -> None:
    """As ``tljh-config reload hub`` waits: the unit active, then ``/hub/api`` answering. Unlike TLJH (which waits
    forever), a unit that failed ends the wait at once with its log tail, and ``timeout`` (seconds) bounds it."""
    deadline = None if timeout is None else time.monotonic() + timeout
    url = hub_api_url(prefix)
    while True:
        current = state(prefix, "jupyterhub")
        if current == "failed":
            raise ServiceError(f"jupyterhub.service failed:\n{log_tail(prefix, 'jupyterhub')}")
        if current == "active" and hub_ready(url):
            return
        if deadline is not None and time.monotonic() > deadline:
            raise ServiceError(f"the hub did not answer {url} within {timeout:g} s:\n{log_tail(prefix, 'jupyterhub')}")
        time.sleep(pause)


def bring_up(prefix: str | os.PathLike[str], timeout: float = 120.0, hub: bool = True) -> str:
    """Make the tree's hub real: start the proxy and the hub, wait until ``/hub/api`` answers; returns its URL.
    ``hub=False``: start the proxy only; the hub starts at the first ``tljh-config reload hub``."""
    (standin(prefix) / "real-hub").write_text("configurable-http-proxy + jupyterhub (wizard.hub.services)\n")
    start(prefix, "traefik")
    if hub:
        start(prefix, "jupyterhub")
        wait_for_hub(prefix, timeout)
    return hub_api_url(prefix)


# --- the supervisor ----------------------------------------------------------------------------------------------------


def supervise(prefix: str, unit: str) -> int:
    """Run ``unit`` until it exits, a SIGTERM arrives, or the owner process is gone."""
    root = Path(prefix)
    argv, cwd, env = unit_command(root, unit)
    owner = services_config(root).get("owner_pid")
    child = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL)
    pid_path = standin(root) / f"{unit}.pid"
    tmp = pid_path.with_name(pid_path.name + ".tmp")
    tmp.write_text(json.dumps({"supervisor": os.getpid(), "main": child.pid}))
    os.replace(tmp, pid_path)
    stopping: list[bool] = []

    def stop_unit(*_: object) -> None:
        """``systemctl stop``: SIGTERM to the main process at once, as systemd sends it; the loop below gives the
        process 10 s before SIGKILL."""
        stopping.append(True)
        if child.returncode is None:
            child.terminate()

    signal.signal(signal.SIGTERM, stop_unit)
    while True:
        try:
            code = child.wait(timeout=0.5)
            break
        except subprocess.TimeoutExpired:
            pass
        if stopping or (owner and not _alive(owner)):
            child.terminate()
            try:
                code = child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                code = child.wait()
            if not stopping:  # the owner is gone: take the rest of the tree with us
                stop_others = [pid for pid in tree_processes(root) if pid != child.pid]
                for pid in stop_others:
                    try:
                        os.kill(pid, signal.SIGTERM)
                    except ProcessLookupError:
                        pass
            break
    result = "inactive" if stopping else "failed"
    (standin(root) / f"{unit}.status").write_text(json.dumps({"state": result, "exit_status": code}))
    print(f"{unit}: main process exited with status {code} ({result})", flush=True)
    return 0


# --- the systemctl command line ------------------------------------------------------------------------------------


def systemctl_main(argv: list[str], prefix: str | os.PathLike[str]) -> int:
    """``systemctl start|stop|restart|is-active UNIT``; ``is-active`` prints the state and exits 0 only if active."""
    if len(argv) != 2 or argv[0] not in ("start", "stop", "restart", "is-active") or \
            argv[1].removesuffix(".service") not in UNITS:
        print("usage: systemctl {start|stop|restart|is-active} {jupyterhub|traefik}", file=sys.stderr)
        return 2
    command, unit = argv[0], argv[1].removesuffix(".service")
    if command == "is-active":
        current = state(prefix, unit)
        print(current)
        return 0 if current == "active" else 3
    try:
        {"start": start, "stop": stop, "restart": restart}[command](prefix, unit)
    except ServiceError as exc:
        print(f"Job for {unit}.service failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "supervise":
        sys.exit(supervise(sys.argv[2], sys.argv[3]))
    print("usage: python -m wizard.hub.services supervise PREFIX UNIT", file=sys.stderr)
    sys.exit(2)
