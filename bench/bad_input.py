"""Hostile input files against ``tljh-wizard apply --dry-run``: each must end in exit status 2 with one line naming
the problem, within 1 s and 100 MB.

Inputs (each first seen crashing or exhausting memory):
- ``deep-flow``: an answers file nesting 1,000 flow sequences (2 KB; was RecursionError, and seconds in the scanner)
- ``deep-block``: the same depth as indented mappings
- ``list-key``: a mapping key that is a list (``x: {? [[a]] : 1}``; was TypeError)
- ``alias-bomb``: nine levels of nine aliases under ``skip:`` (about 500 bytes standing for 3.8e8 values; was
  MemoryError after 3 GB)
- ``key-dev-zero``: ``connection.key_file: /dev/zero`` (was MemoryError)
- ``answers-dev-zero`` / ``answers-fifo``: the answers file itself a device or a FIFO (a FIFO blocked forever)
- ``largest``: the largest answers file accepted (48 KB of user names), to show the bound's own cost

Each input runs in a fresh process (``python -m wizard apply FILE --dry-run``). Reported per input: the process's
wall time, the time the wizard spent on the input itself (from importing the answers module to the exit, measured
inside the process after the interpreter and the wizard's modules are loaded), and the process's peak resident
memory (``getrusage``'s ``ru_maxrss``, interpreter included). Last line: one JSON object with the worst case's seconds and peak MB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT_SECONDS, LIMIT_MB = 1.0, 100.0

# Runs the CLI in-process after the interpreter and the wizard's modules are loaded, so the time printed is the
# input's own cost (loading, validating, refusing), not Python's start-up.
_RUNNER = r"""
import sys, time
from wizard import cli
import wizard.answers, wizard.yamlio, wizard.hub.apply_cli, wizard.hub.ssh  # loaded before the clock starts
start = time.perf_counter()
try:
    code = cli.main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
import resource
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
sys.stderr.write(f"\nBENCH-SECONDS {time.perf_counter() - start:.4f} {peak}\n")
sys.exit(code)
"""


# Complete answers (a secrets file gives the client secret) whose key file is a device: the key is the only problem.
COMPLETE = """connection: {host: hub.example.edu, user: ubuntu, key_file: /dev/zero}
authenticator: {type: github, client_id: Iv1.abc, allowed_organizations: [example-org], admin_users: [alice]}
domain: {name: hub.example.edu, reserved_ipv4: 203.0.113.10, ip_reserved_confirmed: true}
https: {mode: letsencrypt, email: admin@example.edu}
limits: {memory: 2G, cpu: 1}
skip: [environment, backups]
"""


def inputs(directory: Path) -> dict[str, Path]:
    def answers(name: str, text: str) -> Path:
        path = directory / f"{name}.yaml"
        path.write_text(text)
        return path

    header = "version: 1\n"
    bomb = "skip: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]\n" for level in range(1, 9))
    fifo = directory / "fifo.yaml"
    os.mkfifo(fifo)
    return {
        "deep-flow": answers("deep-flow", header + "skip: " + "[" * 1000 + "]" * 1000 + "\n"),
        "deep-block": answers("deep-block", header + "skip:\n" + "- " * 1000 + "x\n"),
        "list-key": answers("list-key", header + "x: {? [[a]] : 1}\n"),
        "alias-bomb": answers("alias-bomb", header + bomb),
        "key-dev-zero": answers("key-dev-zero", header + COMPLETE),
        "answers-dev-zero": Path("/dev/zero"),
        "answers-fifo": fifo,
        "largest": answers("largest", header + "authenticator:\n  type: github\n  allowed_users:\n"
                           + "".join(f"  - user{i:05d}\n" for i in range(48 * 1024 // 16 - 20))),
    }


def run(path: Path, state: Path) -> dict:
    env = dict(os.environ, TLJH_WIZARD_STATE_DIR=str(state), PYTHONPATH=str(ROOT))
    start = time.perf_counter()
    secrets = state.parent / "secrets.yaml"
    if not secrets.exists():
        secrets.write_text("version: 1\nauthenticator: {client_secret: bench-secret}\n")
        secrets.chmod(0o600)
    process = subprocess.Popen([sys.executable, "-c", _RUNNER, "apply", str(path), "--secrets", str(secrets),
                                "--dry-run"], env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    out, err = process.communicate(timeout=60)
    wall = time.perf_counter() - start
    text = err.decode("utf-8", "replace")
    figures = text.rsplit("BENCH-SECONDS ", 1)[1].split()[:2] if "BENCH-SECONDS" in text else [wall, 0]
    seconds, peak_kb = float(figures[0]), int(figures[1])
    message = [line for line in text.splitlines() if line.strip() and not line.startswith("BENCH-SECONDS")]
    return {"exit": process.returncode, "seconds": round(seconds, 4), "process_seconds": round(wall, 3),
            "peak_mb": round(peak_kb / 1024, 1), "lines": len(message) + len(out.decode().splitlines()),
            "message": (message or [""])[0][:160]}


def main() -> None:
    with tempfile.TemporaryDirectory() as temp:
        directory = Path(temp)
        results = {}
        for name, path in inputs(directory).items():
            results[name] = run(path, directory / "state")
            row = results[name]
            print(f"{name:17} exit {row['exit']}  {row['seconds']:.3f} s (process {row['process_seconds']:.2f} s)  "
                  f"{row['peak_mb']:6.1f} MB  {row['message']}")
    refused = {k: v for k, v in results.items() if k != "largest"}
    # The verdict is on the hostile inputs; the largest accepted file is reported beside it (its cost is the YAML
    # parser's on a legitimate file, bounded by the 48 KB limit).
    worst_seconds = max(refused.values(), key=lambda r: r["seconds"])
    worst_mb = max(refused.values(), key=lambda r: r["peak_mb"])
    ok = (all(r["exit"] == 2 and r["lines"] == 1 for r in refused.values())
          and worst_seconds["seconds"] < LIMIT_SECONDS and worst_mb["peak_mb"] < LIMIT_MB)
    print(json.dumps({"bench": "bad_input", "inputs": len(results), "worst_seconds": worst_seconds["seconds"],
                      "worst_seconds_input": next(k for k, v in results.items() if v is worst_seconds),
                      "worst_peak_mb": worst_mb["peak_mb"],
                      "worst_peak_mb_input": next(k for k, v in results.items() if v is worst_mb),
                      "largest_accepted_seconds": results["largest"]["seconds"],
                      "largest_accepted_peak_mb": results["largest"]["peak_mb"],
                      "all_exit_2_one_line": all(r["exit"] == 2 and r["lines"] == 1 for r in refused.values()),
                      "limits": {"seconds": LIMIT_SECONDS, "mb": LIMIT_MB}, "ok": ok}))


if __name__ == "__main__":
    main()
