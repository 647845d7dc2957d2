"""Certificate issuance, side by side on one Pebble: the wizard (DNS-01 through BIND) vs certbot (HTTP-01).

One BIND (zone ``bench.test.``, TSIG updates; the names have A records to 127.0.0.1 for HTTP-01) and one Pebble
resolving through it, both started from the test rig's classes. Both clients get the same two names, reuse their
ACME account (a warm-up run of each creates it, not timed), and alternate — the order flips every round — for
``RUNS`` timed issuances each:

- wizard: ``AcmeDnsIssuer.issue`` in this process, as the wizard runs it (signed TXT update, wait until the zone's
  nameserver serves it, answer, poll with back-off, finalize, fetch the chain, remove the TXT records);
- certbot: ``certbot certonly --standalone --force-renewal`` as a person would run it (wall time of the command).

Target: wizard median <= 0.25 x certbot median. Last line of output: one JSON object.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The project root replaces this script's directory on the path: this file is named like the `acme` library.
sys.path[0] = str(Path(__file__).resolve().parents[1])

RUNS = 5
ZONE = "bench.test."
NAMES = ["hub.bench.test", "www.bench.test"]
KEY = "bench-key."


def ensure_certbot() -> str:
    """certbot from the distribution (installed here if missing, like the test runner installs its servers)."""
    found = shutil.which("certbot")
    if found:
        return found
    print("bench/acme.py: installing certbot", file=sys.stderr)
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "certbot"], check=True,
                   env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"), stdout=subprocess.DEVNULL)
    return shutil.which("certbot") or "/usr/bin/certbot"


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> int:
    from tests.rig.bind import BindServer, new_tsig_secret, zone_text
    from tests.rig.pebble import PebbleServer
    from wizard.https.acme_dns import AcmeDirectory, AcmeDnsIssuer, DirectoryStore
    from wizard.https.dnsupdate import Rfc2136

    certbot = ensure_certbot()
    workdir = Path(tempfile.mkdtemp(prefix="tljh-wizard-bench-acme-"))
    workdir.chmod(0o700)
    secret = new_tsig_secret()
    records = "\n".join(f"{name}. IN A 127.0.0.1" for name in NAMES)
    bind = BindServer(workdir / "bind", {ZONE: zone_text(ZONE, {f"ns.{ZONE}": ["127.0.0.1"]}, records)},
                      keys={KEY: secret})
    with bind, PebbleServer(workdir / "pebble", f"127.0.0.1:{bind.port}") as pebble:
        directory = AcmeDirectory(pebble.directory_url, production=False, ca_bundle=str(pebble.ca_cert_path))
        issuer = AcmeDnsIssuer(directory, DirectoryStore(workdir / "wizard-store"),
                               Rfc2136("127.0.0.1", bind.port, ZONE, KEY, secret), email="admin@bench.test",
                               tos_agreed=True, nameserver_port=bind.port)
        certbot_dir = workdir / "certbot"
        certbot_argv = [
            certbot, "certonly", "--standalone", "--non-interactive", "--agree-tos", "-m", "admin@bench.test",
            "--server", pebble.directory_url, "--http-01-port", str(pebble.http_port), "--http-01-address",
            "127.0.0.1", "--config-dir", str(certbot_dir / "config"), "--work-dir", str(certbot_dir / "work"),
            "--logs-dir", str(certbot_dir / "logs"), "--cert-name", "bench", "--force-renewal",
            "--key-type", "ecdsa", *[arg for name in NAMES for arg in ("-d", name)],
        ]
        certbot_env = dict(os.environ, REQUESTS_CA_BUNDLE=str(pebble.ca_cert_path))
        live = certbot_dir / "config" / "live" / "bench" / "fullchain.pem"

        def run_wizard() -> float:
            start = time.perf_counter()
            issued = issuer.issue(NAMES)
            elapsed = time.perf_counter() - start
            assert b"BEGIN CERTIFICATE" in issued.fullchain_pem
            return elapsed

        def run_certbot() -> float:
            before = live.read_bytes() if live.exists() else b""
            start = time.perf_counter()
            done = subprocess.run(certbot_argv, env=certbot_env, capture_output=True, text=True)
            elapsed = time.perf_counter() - start
            if done.returncode != 0:
                raise SystemExit(f"certbot failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
            assert live.read_bytes() != before, "certbot did not issue a new certificate"
            return elapsed

        # Warm-up (not timed): each client registers its account once, as in real use.
        run_wizard()
        run_certbot()
        wizard_times, certbot_times = [], []
        for round_number in range(RUNS):
            order = (("wizard", run_wizard), ("certbot", run_certbot))
            for name, run in order if round_number % 2 == 0 else reversed(order):
                seconds = run()
                (wizard_times if name == "wizard" else certbot_times).append(seconds)
                print(f"round {round_number + 1} {name:8} {seconds:.3f} s", file=sys.stderr)
    shutil.rmtree(workdir, ignore_errors=True)

    wizard_median = statistics.median(wizard_times)
    certbot_median = statistics.median(certbot_times)
    print(f"wizard  runs: {', '.join(f'{t:.3f}' for t in wizard_times)} s; median {wizard_median:.3f} s")
    print(f"certbot runs: {', '.join(f'{t:.3f}' for t in certbot_times)} s; median {certbot_median:.3f} s")
    print(json.dumps({"bench": "acme", "wizard_seconds": round(wizard_median, 4),
                      "certbot_seconds": round(certbot_median, 4),
                      "ratio": round(wizard_median / certbot_median, 4)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
