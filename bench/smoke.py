"""The smoke test against a bare spawn, on the rig's real JupyterHub (sshd rig, CHP, the tljh stand-in).

- ``smoke_seconds``: ``wizard.hub.smoke.run`` over SSH — create the temporary user, start its server, run one cell
  in the default kernel, stop the server, delete the user (the wizard's whole smoke test, one round trip).
- ``bare_spawn_seconds``: the same server started and stopped through the hub's REST API from this machine, with no
  wizard, no SSH, no kernel and no user creation (``POST /hub/api/users/NAME/server``, poll until ready,
  ``DELETE``, poll until gone).

Each is run ``REPEATS`` times, alternating which goes first; medians are reported. Target: ``smoke_seconds <= 1.5 *
bare_spawn_seconds``. Last line of output: one JSON object.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPEATS = 3


def api(base: str, token: str, method: str, path: str):
    request = urllib.request.Request(f"{base}/hub/api{path}", method=method, data=b"{}" if method == "POST" else None,
                                     headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            body = response.read()
            return response.status, json.loads(body) if body else None
    except urllib.error.HTTPError as exc:
        return exc.code, None


def server_of(base: str, token: str, name: str) -> dict | None:
    _, model = api(base, token, "GET", f"/users/{name}")
    return ((model or {}).get("servers") or {}).get("")


def bare_spawn(base: str, token: str, name: str) -> float:
    start = time.perf_counter()
    api(base, token, "POST", f"/users/{name}/server")
    while not (server_of(base, token, name) or {}).get("ready"):
        if time.perf_counter() - start > 180:
            raise SystemExit("the bare spawn did not become ready within 180 s")
        time.sleep(0.1)
    api(base, token, "DELETE", f"/users/{name}/server")
    while server_of(base, token, name):
        time.sleep(0.1)
    return time.perf_counter() - start


def main() -> int:
    from tests.rig.sshd import make_real, running_sshd
    from wizard.hub import apply, services, smoke
    from wizard.hub.ssh import SSHTarget

    workdir = Path(tempfile.mkdtemp(prefix="tljh-wizard-bench-smoke-"))
    workdir.chmod(0o700)
    os.environ["TLJH_WIZARD_STATE_DIR"] = str(workdir / "state")
    smoke_times, bare_times = [], []
    try:
        with running_sshd(workdir, workdir / "opt-tljh") as rig:
            hub = make_real(rig)

            class Store:  # the session's secret store, for the credential
                token = None

                def read_secret(self, name):
                    return self.token

                def write_secret(self, name, value):
                    self.token = value

            store = Store()
            target = SSHTarget(hub.host, port=hub.port, user=hub.admin.name, key_file=str(hub.client_key),
                               allow_agent=False, look_for_keys=False, known_hosts_files=[hub.known_hosts],
                               prefix=str(hub.prefix))
            target.hub_api_url = hub.hub_api_url
            with target:
                token = smoke.install(target, store)
                services.restart(hub.prefix, "jupyterhub")  # the hub learns the credential at start
                services.wait_for_hub(hub.prefix, timeout=180)
                config_text = apply.read_config(target)
                base = hub.hub_api_url[: -len("/hub/api")]
                api(base, token, "POST", f"/users/{smoke.USER}")  # the bare route's user exists beforehand
                for attempt in range(REPEATS * 2):
                    if attempt % 2 == 0:
                        api(base, token, "POST", f"/users/{smoke.USER}")
                        bare_times.append(bare_spawn(base, token, smoke.USER))
                    else:
                        start = time.perf_counter()
                        diagnoses, _ = smoke.run(target, config_text, token)
                        smoke_times.append(time.perf_counter() - start)
                        failed = [d for d in diagnoses if d.status.value == "error"]
                        if failed:
                            raise SystemExit(f"smoke test failed: {failed[0].id}: {failed[0].summary}")
                    print(f"run {attempt + 1}: {'bare spawn' if attempt % 2 == 0 else 'smoke test'} "
                          f"{(bare_times if attempt % 2 == 0 else smoke_times)[-1]:.2f} s", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    smoke_seconds, bare_seconds = statistics.median(smoke_times), statistics.median(bare_times)
    ratio = smoke_seconds / bare_seconds
    print(f"smoke test median {smoke_seconds:.2f} s; bare spawn median {bare_seconds:.2f} s; ratio {ratio:.2f} "
          f"(target <= 1.5)")
    print(json.dumps({"bench": "smoke", "smoke_seconds": round(smoke_seconds, 3),
                      "bare_spawn_seconds": round(bare_seconds, 3), "ratio": round(ratio, 3),
                      "target_ratio": 1.5, "runs": REPEATS}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
