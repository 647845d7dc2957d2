"""Freeze user environments of 50, 500 and 2,000 packages over SSH (the sshd rig on loopback) and measure it.

Each environment is a venv with realistic conda-meta records (files, paths_data, hashes) plus pip-only packages
installed by pip from local wheels. A freeze = gather (one command streaming every record) + the atomic write of
the snapshot on the hub + the local copy. The connection is opened before timing (it is the session's, shared by
every step). Each size is frozen 5 times; the median is reported.

Target: the same number of round trips (at most 3) for every size, and 2,000 packages in under 2 seconds.
Last line of output: one JSON object.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SIZES = [50, 500, 2000]
REPEATS = 5


def main() -> int:
    from tests.rig.sshd import running_sshd
    from wizard.environment import sample
    from wizard.environment.snapshot import freeze_hub
    from wizard.hub.ssh import SSHTarget

    workdir = Path(tempfile.mkdtemp(prefix="tljh-wizard-bench-freeze-"))
    workdir.chmod(0o700)
    prefix = workdir / "opt-tljh"
    round_trips, seconds, sizes_kb = [], [], []
    try:
        with running_sshd(workdir, prefix) as hub:
            for size in SIZES:
                shutil.rmtree(prefix / "user")
                pip_only = sample.PIP_ONLY
                sample.create_user_environment(prefix / "user", conda_count=size - len(pip_only),
                                               pip_packages=pip_only, wheel_dir=workdir / "wheels")
                target = SSHTarget(hub.host, port=hub.port, user=hub.admin.name, key_file=str(hub.client_key),
                                   allow_agent=False, look_for_keys=False, known_hosts_files=[hub.known_hosts],
                                   prefix=str(prefix))
                with target:
                    target.connect()
                    times, trips_each = [], []
                    for attempt in range(REPEATS):
                        before = target.round_trips
                        start = time.perf_counter()
                        snapshot, environment = freeze_hub(target, workdir / f"local-{size}", now=1764000000 + attempt)
                        times.append(time.perf_counter() - start)
                        trips_each.append(target.round_trips - before)
                        found = len(snapshot.conda) + len(snapshot.pip)
                        if found != size or environment.problems:
                            raise SystemExit(f"freeze of {size} packages found {found}: {environment.problems}")
                    assert target.connections == 1
                round_trips.append(max(trips_each))
                seconds.append(round(statistics.median(times), 3))
                sizes_kb.append(round(len(snapshot.to_bytes()) / 1024))
                print(f"{size:5} packages: {round_trips[-1]} round trips, "
                      f"median {seconds[-1]:.3f} s (min {min(times):.3f}, max {max(times):.3f}), "
                      f"snapshot {sizes_kb[-1]} KB", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps({"bench": "freeze", "packages": SIZES, "round_trips": round_trips, "seconds": seconds,
                      "snapshot_kb": sizes_kb}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
