"""Apply a full answers file of 5 and of 40 settings to the sshd rig: the wizard vs the documented manual route.

- wizard: connect, read config.yaml, plan, back up, write atomically, reload (proxy when https changed) and hub,
  check /hub/api — ``wizard.hub.apply`` over one SSH connection.
- manual: what TLJH's docs tell an operator to do — one ``ssh HOST sudo tljh-config set KEY VALUE`` (``add-item``
  for each list item) per setting, then ``sudo tljh-config reload proxy`` (when https changed) and ``reload hub``,
  each through the OpenSSH client. The settings are the rendered config's values that differ from TLJH's defaults,
  so both routes end with the same settings (checked after every run).

The hub is the test rig's sshd with the ``tljh-config`` stand-in (it validates with TLJH's schema on every change,
like the real one). Each route runs ``REPEATS`` times per size, alternating which goes first, on a fresh tree; the
median is reported. Target: the wizard's round trips are the same for 5 and 40 settings, and its time for 40
settings is at most a quarter of the manual route's.

Then the same rig with its hub made REAL (JupyterHub behind configurable-http-proxy, ``tests/rig/sshd.py``
``make_real``), ``REPEATS`` times each: ``hub_restart_seconds``, a bare ``ssh HOST sudo tljh-config reload hub``;
``apply_seconds``, the wizard's whole apply of the 5-setting answers including the verification (API, login page,
idle culler) but not the smoke test; ``manual_seconds``, the documented ``tljh-config set`` route for the same
change (each run starts from the pristine config.yaml, restored untimed). Targets: ``apply_seconds <= 1.3 *
hub_restart_seconds`` and ``<= 0.5 * manual_seconds``. Last line of output: one JSON object.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPEATS = 3
DOMAIN = {"name": "hub.example.edu", "reserved_ipv4": "203.0.113.10", "ip_reserved_confirmed": True}


def answer_documents(hub) -> dict[int, tuple[dict, dict]]:
    """Two complete answers files whose TLJH settings number 5 and 40."""
    connection = {"host": hub.host, "port": hub.port, "user": hub.admin.name, "key_file": str(hub.client_key),
                  "host_key": hub.host_key_fingerprint, "tljh_prefix": str(hub.prefix)}
    small = {"version": 1, "connection": connection, "domain": DOMAIN, "https": {"mode": "none"},
             "authenticator": {"type": "native"},  # type, password length, no import, approval on, allow_all
             "limits": {"cull_timeout": 600, "cull_every": 60}}  # TLJH's defaults: no setting
    large = {"version": 1, "connection": connection, "domain": DOMAIN,
             "authenticator": {"type": "github", "client_id": "bench-client-id",
                               "allowed_organizations": ["example-org", "example-org:staff"],
                               "admin_users": ["alice", "bob"],
                               "allowed_users": [f"student{i:02d}" for i in range(20)]},
             "https": {"mode": "letsencrypt", "email": "admin@example.edu", "extra_domains": ["www.hub.example.edu"]},
             "limits": {"memory": "2G", "cpu": 2, "cull_timeout": 3600, "cull_every": 300, "cull_max_age": 86400,
                        "cull_users": True}}
    secret = {"version": 1, "authenticator": {"client_secret": "bench-client-secret"}}
    return {5: (small, None), 40: (large, secret)}


def manual_commands(rendered: dict) -> list[list[str]]:
    """The tljh-config commands an operator types for ``rendered``: every value that differs from TLJH's default."""
    from wizard.tljh.config import defaults

    def default_of(key: str):
        node = defaults()
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return object()
            node = node[part]
        return node

    def leaves(data: dict, prefix: str = ""):
        for key, value in data.items():
            if isinstance(value, dict):
                yield from leaves(value, f"{prefix}{key}.")
            else:
                yield f"{prefix}{key}", value

    def text(value) -> str:
        return str(value).lower() if isinstance(value, bool) else str(value)

    commands = []
    for key, value in leaves(rendered):
        if value == default_of(key):
            continue
        if isinstance(value, list):
            commands += [["add-item", key, text(item)] for item in value]
        else:
            commands.append(["set", key, text(value)])
    return commands


def settings_match(hub, commands: list[list[str]]) -> bool:
    """Every setting the manual route makes holds in the hub's config.yaml."""
    from wizard import yamlio
    from wizard.hub.sandbox import _parse_value

    config = yamlio.loads((hub.prefix / "config" / "config.yaml").read_text())
    for action, key, value in commands:
        node = config
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        wanted = _parse_value(value)
        if (action == "set" and node != wanted) or (action == "add-item" and wanted not in (node or [])):
            return False
    return True


def wizard_route(hub, answers) -> tuple[float, int]:
    from wizard.hub import apply
    from wizard.hub.ssh import SSHTarget
    from wizard.session import Session

    start = time.perf_counter()
    target = SSHTarget(hub.host, port=hub.port, user=hub.admin.name, key_file=str(hub.client_key),
                       allow_agent=False, look_for_keys=False, known_hosts_files=[hub.known_hosts],
                       pinned_host_key=hub.host_key_fingerprint, prefix=str(hub.prefix))
    target.hub_api_url = hub.hub_api_url
    with target, Session.open(target.name) as session:
        _plan, result = apply.apply(target, answers, session)
        if not result.ok:
            raise SystemExit(f"wizard apply failed: {result.summary()}")
        trips = target.round_trips
    return time.perf_counter() - start, trips


def manual_route(hub, commands: list[list[str]], https_changed: bool) -> tuple[float, int]:
    tool = f"{hub.prefix}/hub/bin/tljh-config"
    steps = [[tool, *command] for command in commands]
    steps += [[tool, "reload", "proxy"]] if https_changed else []
    steps += [[tool, "reload", "hub"]]
    start = time.perf_counter()
    for step in steps:
        done = subprocess.run(hub.ssh_argv(hub.admin.name, shlex.join(["sudo", *step])), capture_output=True,
                              text=True, timeout=120)
        if done.returncode != 0:
            raise SystemExit(f"manual step {step[1:]} failed: {done.stderr}")
    return time.perf_counter() - start, len(steps)


def real_hub_figures(rig, public, secret) -> dict:
    """Restart, wizard apply and manual route on the rig's real hub (see the module docstring)."""
    from tests.rig.sshd import make_real
    from wizard.answers import Answers
    from wizard.hub.sandbox import PRISTINE_CONFIG
    from wizard.tljh import config as tljh_config

    hub = make_real(rig)
    answers = Answers.from_documents(public, secret)
    answers.require_complete()
    commands = manual_commands(tljh_config.render(answers))
    tool = f"{hub.prefix}/hub/bin/tljh-config"

    def pristine():
        (hub.prefix / "config" / "config.yaml").write_text(PRISTINE_CONFIG)
        subprocess.run([tool, "reload", "hub"], check=True, capture_output=True, timeout=300)
        shutil.rmtree(Path(os.environ["TLJH_WIZARD_STATE_DIR"]), ignore_errors=True)

    restart, applied, manual = [], [], []
    for attempt in range(REPEATS):
        start = time.perf_counter()
        done = subprocess.run(hub.ssh_argv(hub.admin.name, shlex.join(["sudo", tool, "reload", "hub"])),
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise SystemExit(f"tljh-config reload hub failed: {done.stderr}")
        restart.append(time.perf_counter() - start)
        for route in (("wizard", "manual") if attempt % 2 == 0 else ("manual", "wizard")):
            pristine()
            if route == "wizard":
                applied.append(wizard_route(hub, answers)[0])
            else:
                manual.append(manual_route(hub, commands, False)[0])
            if not settings_match(hub, commands):
                raise SystemExit(f"{route} route on the real hub did not end with every setting")
        print(f"real hub run {attempt + 1}: restart {restart[-1]:.2f} s, wizard apply {applied[-1]:.2f} s, "
              f"manual {manual[-1]:.2f} s", flush=True)
    figures = {"hub_restart_seconds": round(statistics.median(restart), 3),
               "apply_seconds": round(statistics.median(applied), 3),
               "manual_seconds": round(statistics.median(manual), 3)}
    figures["apply_over_restart"] = round(figures["apply_seconds"] / figures["hub_restart_seconds"], 3)
    figures["apply_over_manual"] = round(figures["apply_seconds"] / figures["manual_seconds"], 3)
    print(f"real hub: restart {figures['hub_restart_seconds']:.2f} s, apply {figures['apply_seconds']:.2f} s "
          f"({figures['apply_over_restart']:.2f}x restart, target <= 1.3), manual {figures['manual_seconds']:.2f} s "
          f"({figures['apply_over_manual']:.2f}x, target <= 0.5)")
    return figures


def main() -> int:
    from tests.rig.sshd import running_sshd
    from wizard.answers import Answers
    from wizard.hub.sandbox import create_tree
    from wizard.tljh import config as tljh_config

    workdir = Path(tempfile.mkdtemp(prefix="tljh-wizard-bench-apply-"))
    workdir.chmod(0o700)
    os.environ["TLJH_WIZARD_STATE_DIR"] = str(workdir / "state")
    sizes, trips, manual_trips, seconds, manual_seconds = [], [], [], [], []
    try:
        with running_sshd(workdir, workdir / "opt-tljh") as hub:
            for size, (public, secret) in answer_documents(hub).items():
                answers = Answers.from_documents(public, secret)
                answers.require_complete()
                rendered = tljh_config.render(answers)
                commands = manual_commands(rendered)
                if len(commands) != size:
                    raise SystemExit(f"the {size}-setting answers make {len(commands)} settings")
                https_changed = "https" in rendered and rendered["https"].get("enabled", False)
                times = {"wizard": [], "manual": []}
                trip_counts = {"wizard": set(), "manual": set()}
                for attempt in range(REPEATS * 2):
                    route = "wizard" if (attempt + size) % 2 == 0 else "manual"
                    create_tree(hub.prefix, python=hub.python)
                    shutil.rmtree(workdir / "state", ignore_errors=True)
                    if route == "wizard":
                        elapsed, count = wizard_route(hub, answers)
                    else:
                        elapsed, count = manual_route(hub, commands, https_changed)
                    if not settings_match(hub, commands):
                        raise SystemExit(f"{route} route with {size} settings did not end with every setting")
                    times[route].append(elapsed)
                    trip_counts[route].add(count)
                sizes.append(size)
                trips.append(max(trip_counts["wizard"]))
                manual_trips.append(max(trip_counts["manual"]))
                seconds.append(round(statistics.median(times["wizard"]), 3))
                manual_seconds.append(round(statistics.median(times["manual"]), 3))
                print(f"{size:3} settings: wizard {trips[-1]} round trips, median {seconds[-1]:.3f} s "
                      f"({', '.join(f'{t:.3f}' for t in times['wizard'])}); manual {manual_trips[-1]} round trips, "
                      f"median {manual_seconds[-1]:.3f} s ({', '.join(f'{t:.3f}' for t in times['manual'])})",
                      flush=True)
            real = real_hub_figures(hub, *answer_documents(hub)[5])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps({"bench": "apply", "settings": sizes, "round_trips": trips, "manual_round_trips": manual_trips,
                      "seconds": seconds, "manual_seconds": manual_seconds, "real_hub": real}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
