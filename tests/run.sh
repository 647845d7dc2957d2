#!/usr/bin/env bash
# Runs the whole test suite, installing first whatever is missing:
#   - Debian packages for the real servers the tests use (OpenSSH sshd, sudo, BIND 9, Pebble, tmux) and iproute2,
#     with which the DNS tests give loopback the extra addresses their nameservers listen on;
#   - a virtual environment in .venv with the project and its test extra (JupyterHub, the authenticators, the idle
#     culler, jupyter_server and ipykernel for the rig's real hub);
#   - configurable-http-proxy 4 from npm in .venv/chp (the rig's real hub stands it in for Traefik).
# Before pytest: ruff, mypy and the import contract (pyproject.toml has their settings).
# Extra arguments go to pytest, e.g. `bash tests/run.sh -k dns -x`.
# The tests run in parallel on every core (pytest-xdist, `-n auto --dist worksteal`; each worker starts its own rig
# servers on free ports in private temp dirs). TLJH_WIZARD_TEST_WORKERS=N sets the number of workers; passing -n
# yourself, `-p no:xdist`, --pdb or --trace runs pytest as given (`bash tests/run.sh -n 0 tests/test_x.py`: one process).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for pair in /usr/sbin/sshd:openssh-server /usr/bin/sudo:sudo /usr/sbin/named:bind9 /usr/bin/dig:bind9-dnsutils \
            /usr/bin/pebble:pebble /usr/bin/tmux:tmux /usr/sbin/ip:iproute2 /usr/bin/npm:npm; do
    [ -x "${pair%%:*}" ] || missing+=("${pair##*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "tests/run.sh: installing ${missing[*]}" >&2
    # Package scripts must not start the services: the tests start their own on loopback.
    [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; }
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
[ -x .venv/chp/node_modules/.bin/configurable-http-proxy ] ||
    npm install --prefix .venv/chp --no-audit --no-fund --loglevel=error configurable-http-proxy@4 >/dev/null
.venv/bin/python -m ruff check --quiet wizard screens tests bench
# Type contract on the engine and layering contract (wizard/ never imports screens/ or Textual): pyproject.toml.
.venv/bin/python -m mypy
.venv/bin/lint-imports --no-logo >/dev/null || .venv/bin/lint-imports --no-logo --no-cache
parallel=(-n "${TLJH_WIZARD_TEST_WORKERS:-auto}" --dist worksteal)
for arg in "$@"; do
    case "$arg" in
        -n | -n[0-9]* | --numprocesses* | no:xdist | --pdb | --trace) parallel=() ;;
    esac
done
exec .venv/bin/python -m pytest "${parallel[@]}" "$@"
