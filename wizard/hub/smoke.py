"""The smoke test: a temporary user's server starts and runs one cell in the user environment's default kernel.

Steps (one remote command, run as root with the hub environment's Python, which has tornado for the kernel's
websocket), each reported as a :class:`~wizard.diagnosis.Diagnosis`:

- ``smoke.user``: ``POST /hub/api/users/tljh-wizard-smoke`` creates the temporary user (one left over by an
  interrupted run is stopped and deleted first);
- ``smoke.spawn``: ``POST .../server`` starts its server; ``GET /hub/api/users/NAME`` is polled until the server is
  ready (or the spawn failed: then the tail of the spawn log is attached — ``journalctl -u jupyter-NAME`` on a TLJH
  server, the hub's log on a sandbox);
- ``smoke.kernel``: through the proxy, ``POST /user/NAME/api/kernels`` starts the server's default kernel and
  ``import sys; print(sys.version)`` runs over the kernel's websocket (Jupyter messaging protocol 5: an
  ``execute_request`` on the shell channel, its ``stream`` output and ``execute_reply``). A broken user environment
  fails here (or at the spawn) with the kernel's own error;
- ``smoke.cleanup``: the kernel and the server are stopped and the user deleted; on a TLJH server the system user
  ``jupyter-NAME`` its spawner created is removed with its home (``userdel --remove``); on a sandbox, whose
  local-process spawner (``wizard/hub/standin_tljh``) has no system users, the home it made
  (``PREFIX/standin-homes/NAME``) is removed. Always runs.

What a smoke test leaves on the hub: lines in the hub's log (the journal, or the sandbox's
``hub/standin/jupyterhub.log``) and activity times in the hub's database (the credential's token, the hub's own).
No user, server, token or OAuth client of the temporary user stays in the database, no process runs, no home stays.

The credential (least privilege): a JupyterHub service ``tljh-wizard-smoke-test`` whose role holds only scopes
filtered to the one user it may touch — ``admin:users!user=tljh-wizard-smoke`` (create), ``delete:users!user=...``,
``servers!user=...`` (start/stop, read its state) and ``access:servers!user=...`` (talk to its server). Its token
is random (256 bits), kept root-only on the hub in ``state/tljh-wizard/smoke-token`` (0600) and in the session's
secret store; the hub reads it at start through ``config/jupyterhub_config.d/tljh-wizard-smoke.py`` (TLJH loads
that directory last; the file holds no secret). It reaches the smoke script on standard input, never a command line
or a log. Installing it is an action of the reviewed plan (the hub must restart to know it); removing it is
deleting those two files and ``tljh-config reload hub`` (:func:`remove_argv` is that removal as one command).
"""

from __future__ import annotations

import json
import secrets
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from wizard.diagnosis import Diagnosis, Status

if TYPE_CHECKING:
    from wizard.hub.target import HubTarget
    from wizard.session import Session

USER = "tljh-wizard-smoke"
SERVICE = "tljh-wizard-smoke-test"  # not the user's name: JupyterHub refuses a deletion of "yourself"
SCOPES = [f"admin:users!user={USER}", f"delete:users!user={USER}", f"servers!user={USER}",
          f"access:servers!user={USER}"]
SECRET_NAME = "smoke-token"
CELL = "import sys; print(sys.version)"

_CONFIG_SNIPPET = f'''\
# Written by tljh-wizard: the credential of its smoke test (`tljh-wizard check --smoke`, and the end of an apply).
# A JupyterHub service whose token may only create, start, use, stop and delete the user "{USER}".
# The token is in state/tljh-wizard/smoke-token (root only). To remove the credential, delete both files and run
# `tljh-config reload hub`.
import os

_smoke_token = os.path.join(os.environ.get("TLJH_INSTALL_PREFIX", "/opt/tljh"), "state", "tljh-wizard",
                            "smoke-token")
if os.path.exists(_smoke_token):
    with open(_smoke_token) as _stream:
        c.JupyterHub.services.append({{"name": "{SERVICE}", "api_token": _stream.read().strip()}})
    c.JupyterHub.load_roles.append({{
        "name": "{SERVICE}",
        "description": "tljh-wizard's smoke test: one temporary user, nothing else",
        "scopes": {json.dumps(SCOPES)},
        "services": ["{SERVICE}"],
    }})
'''


def snippet_path(prefix: str | PurePosixPath) -> PurePosixPath:
    return PurePosixPath(str(prefix)) / "config" / "jupyterhub_config.d" / "tljh-wizard-smoke.py"


def token_path(prefix: str | PurePosixPath) -> PurePosixPath:
    return PurePosixPath(str(prefix)) / "state" / "tljh-wizard" / "smoke-token"


def describe(prefix: str | PurePosixPath) -> str:
    """The credential as the reviewed plan names it."""
    return (f"install the smoke test's credential: JupyterHub service {SERVICE}, scoped to the user {USER} only "
            f"({snippet_path(prefix)}; token in {token_path(prefix)}, 0600)")


def installed(target: HubTarget) -> bool:
    """Whether the hub holds both credential files. One round trip."""
    result = target.run(["test", "-s", str(token_path(target.prefix)), "-a", "-e", str(snippet_path(target.prefix))],
                        sudo=True, timeout=30)
    return result.ok


def install(target: HubTarget, session: Session) -> str:
    """Write the credential on the hub (the token from the session's store, or a new one kept there). Two round
    trips (the token, then the hub config snippet), both atomic and 0600; the token travels over SFTP/stdin."""
    stored = session.read_secret(SECRET_NAME) if session is not None else None
    token = stored.decode().strip() if stored else ""
    if not token:
        token = secrets.token_hex(32)
        if session is not None:
            session.write_secret(SECRET_NAME, token)
    target.run(["install", "-d", "-m", "700", str(token_path(target.prefix).parent)], sudo=True, check=True)
    target.write_file(token_path(target.prefix), (token + "\n").encode(), mode=0o600)
    target.write_file(snippet_path(target.prefix), _CONFIG_SNIPPET.encode(), mode=0o600)
    return token


def remove_argv(prefix: str | PurePosixPath) -> list[str]:
    """One command (run as root) removing the credential files; follow it with ``tljh-config reload hub``."""
    return ["rm", "-f", "--", str(snippet_path(prefix)), str(token_path(prefix))]


# Runs on the hub as root: `sh -c WRAPPER smoke PREFIX PARAMS`, the token on stdin. The light sandbox stand-in has no
# hub to test; elsewhere the hub environment's Python runs the steps.
_WRAPPER = r'''set -u
standin="$1/hub/standin"
if [ -e "$standin/hub-status" ] && [ ! -e "$standin/real-hub" ]; then
  echo '{"light": true, "steps": []}'; exit 0
fi
for python in "$1/hub/bin/python3" "$1/hub/bin/python"; do
  [ -x "$python" ] && exec "$python" -c "$3" "$1" "$2"
done
echo "no Python in $1/hub/bin" >&2; exit 3
'''

_SCRIPT = r'''
import asyncio, json, os, re, shutil, subprocess, sys, time, uuid
from urllib.parse import quote, urlsplit
from tornado.httpclient import AsyncHTTPClient, HTTPRequest, HTTPClientError
from tornado.websocket import websocket_connect

prefix, params = sys.argv[1], json.loads(sys.argv[2])
token = sys.stdin.readline().strip()
user, base, timeout = params["user"], params["base"], float(params["timeout"])
api = base + "/hub/api"
headers = {"Authorization": "token " + token, "Content-Type": "application/json"}
steps = []
report = {"light": False, "steps": steps}
client = AsyncHTTPClient()

def step(ident, ok, summary, details=""):
    steps.append([ident, "ok" if ok else "error", summary, details[-3000:]])

async def call(method, url, body=None, ok=(200, 201, 202, 204)):
    request = HTTPRequest(url, method=method, headers=headers, request_timeout=30, allow_nonstandard_methods=True,
                          body=None if body is None and method in ("GET", "DELETE") else json.dumps(body or {}))
    try:
        response = await client.fetch(request, raise_error=False)
    except Exception as exc:
        raise RuntimeError("%s %s: %s" % (method, url.replace(base, ""), exc))
    if response.code not in ok:
        text = (response.body or b"").decode("utf-8", "replace")[:300]
        raise RuntimeError("%s %s: HTTP %d %s" % (method, url.replace(base, ""), response.code, text))
    return response.code, json.loads(response.body) if response.body else None

LOG = os.path.join(prefix, "hub", "standin", "jupyterhub.log")
KEY = re.compile(r"Error|Exception|Traceback|No module|exited|failed|denied", re.I)

def log_offset():
    try:
        return os.path.getsize(LOG)
    except OSError:
        return 0

def spawn_log(offset=0):
    """What the spawn wrote (since ``offset`` of the sandbox's hub log, or the server's journal on TLJH): the lines
    naming an error first (a single-user server's traceback is buried in the hub's own lines), else the tail."""
    lines = []
    if os.path.exists(LOG):
        with open(LOG, "rb") as handle:
            handle.seek(offset)
            lines = handle.read().decode("utf-8", "replace").splitlines()
    else:
        for unit in ("jupyter-" + user, "jupyterhub"):
            try:
                done = subprocess.run(["journalctl", "-u", unit, "-n", "60", "--no-pager", "-o", "cat"],
                                      capture_output=True, text=True, timeout=20)
            except (OSError, subprocess.SubprocessError):
                continue
            if done.stdout.strip() and "No entries" not in done.stdout:
                lines = done.stdout.splitlines()
                break
    key = [line for line in lines if KEY.search(line)]
    return "\n".join(key[-12:] if key else lines[-25:])

async def user_model():
    code, model = await call("GET", "%s/users/%s" % (api, quote(user)), ok=(200, 404))
    return model if code == 200 else None

async def stop_and_delete():
    model = await user_model()
    if model is None:
        return
    if (model.get("servers") or {}).get(""):
        await call("DELETE", "%s/users/%s/server" % (api, quote(user)), ok=(202, 204, 400, 404))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = await user_model()
            if model is None or not (model.get("servers") or {}).get(""):
                break
            await asyncio.sleep(0.25)
    for attempt in range(40):
        code, _ = await call("DELETE", "%s/users/%s" % (api, quote(user)), ok=(204, 400, 404))
        if code != 400:
            return
        await asyncio.sleep(0.25)  # the server is still stopping

async def run_cell(server):
    code, kernel = await call("POST", server + "api/kernels", {})
    kernel_id = kernel["id"]
    try:
        url = server.replace("http", "ws", 1) + "api/kernels/%s/channels" % kernel_id
        socket = await asyncio.wait_for(websocket_connect(HTTPRequest(url, headers=headers)), 30)
        msg_id = uuid.uuid4().hex
        socket.write_message(json.dumps({
            "header": {"msg_id": msg_id, "username": user, "session": uuid.uuid4().hex, "msg_type": "execute_request",
                       "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": params["cell"], "silent": False, "store_history": False, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}))
        output, reply, deadline = [], None, time.monotonic() + timeout
        while reply is None or not output and reply.get("status") == "ok":
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError("the kernel did not answer within %g s" % timeout)
            message = await asyncio.wait_for(socket.read_message(), left)
            if message is None:
                raise RuntimeError("the kernel's websocket closed")
            message = json.loads(message)
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = message["header"]["msg_type"]
            if kind == "stream":
                output.append(message["content"]["text"])
            elif kind == "error":
                output.append("\n".join(message["content"].get("traceback") or [message["content"].get("evalue", "")]))
            elif kind == "execute_reply":
                reply = message["content"]
        socket.close()
        return reply, "".join(output)
    finally:
        await call("DELETE", server + "api/kernels/" + kernel_id, ok=(204, 404))

async def main():
    try:
        await stop_and_delete()  # a user left by an interrupted run
        await call("POST", "%s/users/%s" % (api, quote(user)), {})
        step("smoke.user", True, "temporary user %s created through the hub API" % user)
    except Exception as exc:
        step("smoke.user", False, "could not create the temporary user %s: %s" % (user, exc))
        return
    offset = log_offset()
    try:
        started = time.monotonic()
        await call("POST", "%s/users/%s/server" % (api, quote(user)), {})
        deadline = time.monotonic() + timeout
        while True:
            model = await user_model()
            server = ((model or {}).get("servers") or {}).get("")
            if server and server.get("ready"):
                break
            if not server or not server.get("pending") and not server.get("ready"):
                raise RuntimeError("the server stopped while starting")
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start within %g s" % timeout)
            await asyncio.sleep(0.2)
        report["spawn_seconds"] = round(time.monotonic() - started, 3)
        step("smoke.spawn", True, "the server of %s started in %.1f s" % (user, report["spawn_seconds"]))
        path = server.get("url") or "/user/%s/" % quote(user)
        try:
            reply, output = await run_cell("%s://%s" % urlsplit(base)[:2] + path)
        except Exception as exc:
            step("smoke.kernel", False, "the default kernel did not run the cell: %s" % exc, spawn_log(offset))
        else:
            if reply.get("status") == "ok" and output.strip():
                step("smoke.kernel", True, "one cell ran in the default kernel: Python " + output.strip().split()[0],
                     output.strip())
            else:
                step("smoke.kernel", False, "the cell failed in the default kernel: %s" % (
                    reply.get("ename") or reply.get("status")), output + "\n" + spawn_log(offset))
    except Exception as exc:
        step("smoke.spawn", False, "the server of %s did not start: %s" % (user, exc), spawn_log(offset))
    finally:
        problems = []
        try:
            await stop_and_delete()
            if await user_model() is not None:
                problems.append("the user is still there")
        except Exception as exc:
            problems.append(str(exc))
        system_user, removed = "jupyter-" + user, ""
        if subprocess.run(["getent", "passwd", system_user], capture_output=True).returncode == 0:
            done = subprocess.run(["userdel", "--remove", system_user], capture_output=True, text=True)
            if done.returncode not in (0, 12):  # 12: the home could not be removed (reported below)
                problems.append("userdel %s: %s" % (system_user, done.stderr.strip()[-200:]))
            removed = ", system user %s and its home removed" % system_user
        if os.path.exists(os.path.join("/home", system_user)):
            problems.append("/home/%s is still there" % system_user)
        home = os.path.join(prefix, "standin-homes", user)  # the sandbox's spawner: jupyter-NAME's home stand-in
        if os.path.isdir(os.path.join(prefix, "hub", "standin")) and os.path.lexists(home):
            shutil.rmtree(home, ignore_errors=True)
            if os.path.lexists(home):
                problems.append("%s is still there" % home)
            else:
                removed = ", its home removed"
        if problems:
            step("smoke.cleanup", False, "cleanup incomplete: " + "; ".join(problems))
        else:
            step("smoke.cleanup", True, "server stopped, user %s deleted%s" % (user, removed))

asyncio.run(main())
print(json.dumps(report))
'''


def run(target: HubTarget, config_text: str, token: str, timeout: float = 180.0) -> tuple[list[Diagnosis], dict[str, Any]]:
    """Run the smoke test against the hub now running ``config_text``. Returns the diagnoses (ids ``smoke.*``;
    an error's ``details`` carry the spawn log tail) and the raw report (``spawn_seconds``)."""
    from wizard.hub.apply import hub_api_url
    from wizard.hub.target import HubError

    api = hub_api_url(target, config_text)
    params = {"user": USER, "base": api[: -len("/hub/api")], "timeout": timeout, "cell": CELL}
    result = target.run(["sh", "-c", _WRAPPER, "smoke", str(target.prefix), json.dumps(params), _SCRIPT],
                        stdin=(token + "\n").encode(), sudo=True, timeout=3 * timeout + 60)
    try:
        report = json.loads(result.text.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise HubError("the smoke test could not run on the hub: "
                       + result.stderr.decode("utf-8", "replace").strip()[-500:]) from None
    if report.get("light"):
        return [Diagnosis("smoke", Status.SKIPPED, "the sandbox's light hub stand-in cannot start servers: "
                          "no smoke test")], report
    diagnoses = [Diagnosis(ident, Status(status), summary, details,
                           _FIXES.get(ident, "").format(prefix=target.prefix) if status == "error" else "")
                 for ident, status, summary, details in report["steps"]]
    return diagnoses, report


_FIXES = {
    "smoke.user": "check that the hub loaded the smoke credential (config/jupyterhub_config.d/tljh-wizard-smoke.py)",
    "smoke.spawn": "the spawn log's tail is this finding's details (`tljh-wizard check --details` prints them); a "
                   "broken user environment ({prefix}/user) is the usual cause: restore a known-good snapshot "
                   "(tljh-wizard env restore)",
    "smoke.kernel": "the user environment cannot run its default kernel: restore a known-good snapshot "
                    "(tljh-wizard env restore)",
    "smoke.cleanup": "remove the temporary user by hand (hub admin page, userdel jupyter-tljh-wizard-smoke)",
}
