"""Everything the doctor needs from the hub, in ONE round trip: a stdlib-only Python script runs there as root and
answers with one JSON document.

What it gathers (each source a command, or a file named in ``Sources`` instead — hosts without journald keep their
logs elsewhere, and the test rig points every source at files of its own):

- ``listeners``: who listens on TCP (``ss -ltnp``), for the ports 80/443 finding;
- ``disks``: free space of ``/``, ``/home`` and the TLJH prefix (``os.statvfs``), with the device of each;
- ``kernel_log``: kernel messages about OOM kills since ``since`` (``journalctl -k``, else ``/var/log/kern.log``);
- ``meminfo``/``swaps``: RAM and swap (``/proc``); ``units``: the running ``jupyter-*`` units (``systemctl``);
- ``apt_simulation``: what ``apt-get -s dist-upgrade`` would install (read-only; as of the hub's last ``apt update``);
- ``apt_config``: ``apt-config dump`` (``APT::Periodic::Unattended-Upgrade``) and whether unattended-upgrades is
  installed; ``reboot_required``: ``/var/run/reboot-required`` and its ``.pkgs``;
- ``sshd``: sshd's effective settings (``sshd -T``, optionally ``-f FILE``);
- ``auth_log``: sshd's messages since ``since`` (``journalctl -t sshd -t sshd-session``, else ``/var/log/auth.log``);
- ``config.yaml`` and, for ``check --bundle``, the last N lines of the hub's, the proxy's and the users' units logs.

The script filters on the hub (only OOM lines, only sshd failures, only ``Inst`` lines travel) and runs its sources
concurrently; parsing happens here, where it is tested without a hub. Nothing on the hub is written.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from wizard.hub.target import CommandFailed, HubTarget

# Runs on the hub with the system python3 (TLJH requires one), stdlib only. argv[1]: the options as JSON.
_SCRIPT = r'''
import concurrent.futures, glob, json, os, re, subprocess, sys, time
o = json.loads(sys.argv[1])
since = float(o["since"])

def read(path, limit=4000000):
    try:
        with open(path, "rb") as handle:
            return handle.read(limit).decode("utf-8", "replace")
    except OSError:
        return None

def run(argv, timeout=30):
    try:
        done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    except FileNotFoundError:
        return {"status": 127, "out": "", "err": argv[0] + ": not found"}
    except subprocess.TimeoutExpired:
        return {"status": 124, "out": "", "err": "timed out after %ss" % timeout}
    return {"status": done.returncode, "out": done.stdout.decode("utf-8", "replace"),
            "err": done.stderr.decode("utf-8", "replace")[-400:]}

def text_of(name, argv, fallbacks=(), timeout=30):
    """A source's text: the file the options name, else the command, else the first readable fallback file."""
    path = o["files"].get(name)
    if path:
        text = read(path)
        return {"source": path, "text": text, "error": None if text is not None else "cannot read " + path}
    if argv:
        done = run(argv, timeout)
        if done["status"] == 0:
            return {"source": " ".join(argv[:3]), "text": done["out"], "error": None}
    else:
        done = None
    for fallback in fallbacks:
        text = read(fallback)
        if text is not None:
            return {"source": fallback, "text": text, "error": None}
    return {"source": argv[0] if argv else None, "text": None,
            "error": (done["err"].strip().splitlines() or ["exit status %s" % done["status"]])[-1] if done
            else "no source"}

def filtered(found, pattern, keep=4000):
    if found["text"] is not None:
        wanted = re.compile(pattern, re.I)
        lines = [line for line in found["text"].splitlines() if wanted.search(line)]
        found["text"] = "\n".join(lines[-keep:])
    return found

stamp = "@%d" % int(since)

def listeners():
    return text_of("listeners", ["ss", "-ltnp"])

def kernel_log():
    return filtered(text_of("kernel_log", ["journalctl", "-k", "-q", "--no-pager", "-o", "short-iso", "--since",
                                           stamp], ["/var/log/kern.log"]), r"oom|out of memory")

def auth_log():
    return filtered(text_of("auth_log", ["journalctl", "-q", "--no-pager", "-o", "short-iso", "--since", stamp,
                                         "-t", "sshd", "-t", "sshd-session"], ["/var/log/auth.log", "/var/log/secure"]),
                    r"failed|invalid user|authentication failure")

def apt_simulation():
    if not o["files"].get("apt_simulation") and not os.path.exists("/usr/bin/apt-get"):
        return {"source": None, "text": None, "error": "not a Debian/Ubuntu host (no apt-get)"}
    return filtered(text_of("apt_simulation", ["apt-get", "-s", "-o", "Debug::NoLocking=1", "dist-upgrade"],
                            timeout=60), r"^Inst ")

def apt_config():
    found = text_of("apt_config", ["apt-config", "dump"])
    found = filtered(found, r"^APT::Periodic::")
    found["installed"] = bool(glob.glob(o["unattended_binary"]))
    return found

def sshd():
    argv = [o["sshd_binary"], "-T"] + (["-f", o["sshd_config"]] if o.get("sshd_config") else [])
    return text_of("sshd", argv, timeout=15)

def units():
    return text_of("units", ["systemctl", "list-units", "--type=service", "--state=running", "--plain",
                             "--no-legend", "--no-pager", "jupyter-*"], timeout=15)

def reboot_required():
    path = o["reboot_required"]
    return {"source": path, "required": os.path.exists(path), "packages": read(path + ".pkgs")}

def disks():
    out = {}
    for name, path in o["disks"].items():
        try:
            stat = os.statvfs(path)
            out[name] = {"path": path, "total": stat.f_blocks * stat.f_frsize, "free": stat.f_bavail * stat.f_frsize,
                         "device": os.stat(path).st_dev}
        except OSError as exc:
            out[name] = {"path": path, "error": exc.strerror or str(exc)}
    return out

def logs():
    out = {}
    lines = int(o["log_lines"])
    if lines <= 0:
        return out
    for name, unit in (("hub", "jupyterhub"), ("proxy", "traefik"), ("spawn", "jupyter-*")):
        path = o["files"].get("log_" + name)
        if path:
            text = read(path)
            out[name] = "\n".join(text.splitlines()[-lines:]) if text is not None else "(cannot read %s)" % path
        else:
            done = run(["journalctl", "-q", "--no-pager", "-o", "short-iso", "-n", str(lines), "-u", unit])
            out[name] = done["out"] if done["status"] == 0 else "(journalctl: %s)" % done["err"].strip()
    return out

def host():
    release = {}
    for line in (read("/etc/os-release") or "").splitlines():
        key, _, value = line.partition("=")
        if key:
            release[key] = value.strip().strip('"')
    version = None
    for meta in glob.glob(os.path.join(o["prefix"], "hub", "lib", "python3*", "site-packages",
                                       "the_littlest_jupyterhub-*.dist-info", "METADATA")):
        for line in (read(meta) or "").splitlines():
            if line.startswith("Version:"):
                version = line.split(":", 1)[1].strip()
    return {"os": release.get("PRETTY_NAME"), "kernel": os.uname().release, "tljh_version": version,
            "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "user_env_packages": len(glob.glob(os.path.join(o["prefix"], "user", "conda-meta", "*.json")))}

jobs = {"listeners": listeners, "kernel_log": kernel_log, "auth_log": auth_log, "apt_simulation": apt_simulation,
        "apt_config": apt_config, "sshd": sshd, "units": units, "reboot_required": reboot_required, "disks": disks,
        "logs": logs, "host": host}
if o.get("only"):
    jobs = {name: job for name, job in jobs.items() if name in o["only"]}
with concurrent.futures.ThreadPoolExecutor(len(jobs)) as pool:
    futures = {name: pool.submit(job) for name, job in jobs.items()}
facts = {name: future.result() for name, future in futures.items()}
facts["meminfo"] = text_of("meminfo", None, ["/proc/meminfo"])
facts["swaps"] = text_of("swaps", None, ["/proc/swaps"])
facts["config_text"] = read(os.path.join(o["prefix"], "config", "config.yaml"))
facts["now"] = time.time()
json.dump(facts, sys.stdout)
'''

#: The source names ``Sources.files`` may point at a file instead of the command (see the module docstring).
FILE_SOURCES = ("listeners", "kernel_log", "auth_log", "apt_simulation", "apt_config", "sshd", "units", "meminfo",
                "swaps", "log_hub", "log_proxy", "log_spawn")


@dataclass
class Sources:
    """Where the hub-side facts come from. ``files``: a source name (``FILE_SOURCES``) -> a file on the hub read
    instead of running the command. ``disks``: name -> path whose filesystem is measured (``prefix`` defaults to
    the TLJH prefix). ``since``: how far back the logs are read, in hours."""

    files: dict[str, str] = field(default_factory=dict)
    ports: tuple[int, ...] = (80, 443)
    disks: dict[str, str] = field(default_factory=lambda: {"root": "/", "home": "/home"})
    since_hours: float = 24.0
    reboot_required: str = "/var/run/reboot-required"
    sshd_binary: str = "/usr/sbin/sshd"
    sshd_config: str | None = None
    unattended_binary: str = "/usr/bin/unattended-upgrade"
    log_lines: int = 0  # > 0: also the last N lines of the hub's, proxy's and users' logs (check --bundle)
    only: tuple[str, ...] | None = None  # gather only these sources (e.g. ("listeners",) for the HTTPS step)

    KEYS = ("files", "ports", "disks", "since_hours", "reboot_required", "sshd_binary", "sshd_config",
            "unattended_binary")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], origin: str = "sources") -> "Sources":
        """From a YAML/JSON mapping (``check --probe-sources FILE``); unknown keys and bad values are one-line
        ``ValidationError``s naming the key."""
        from wizard.fields import ValidationError

        if not isinstance(data, Mapping):
            raise ValidationError(f"{origin}: expected a mapping of source settings")
        unknown = sorted(set(data) - set(cls.KEYS))
        if unknown:
            raise ValidationError(f"{origin}: unknown key {unknown[0]!r} (known: {', '.join(cls.KEYS)})")
        out = cls()
        files = data.get("files") or {}
        if not isinstance(files, Mapping) or any(key not in FILE_SOURCES or not isinstance(value, str)
                                                 for key, value in files.items()):
            raise ValidationError(f"{origin}: files maps a source ({', '.join(FILE_SOURCES)}) to a path")
        out.files = dict(files)
        if "ports" in data:
            ports = data["ports"]
            if not isinstance(ports, list) or not ports or not all(
                    isinstance(p, int) and not isinstance(p, bool) and 0 < p < 65536 for p in ports):
                raise ValidationError(f"{origin}: ports is a list of TCP ports, e.g. [80, 443]")
            out.ports = tuple(ports)
        if "disks" in data:
            disks = data["disks"]
            if not isinstance(disks, Mapping) or not all(isinstance(v, str) and v.startswith("/")
                                                         for v in disks.values()):
                raise ValidationError(f"{origin}: disks maps a name to an absolute path")
            out.disks = {str(k): v for k, v in disks.items()}
        if "since_hours" in data:
            value = data["since_hours"]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 24 * 366:
                raise ValidationError(f"{origin}: since_hours is a number of hours (0 < hours <= 8784)")
            out.since_hours = float(value)
        for key in ("reboot_required", "sshd_binary", "sshd_config", "unattended_binary"):
            if key in data:
                if not isinstance(data[key], str) or not data[key].startswith("/"):
                    raise ValidationError(f"{origin}: {key} is an absolute path on the hub")
                setattr(out, key, data[key])
        return out


@dataclass
class Listener:
    address: str
    port: int
    programs: list[tuple[str, int | None]]  # (name, pid); empty when ss could not tell (no root)


@dataclass
class HubFacts:
    """The raw answer of the script (``raw``) and what parsing it gives."""

    raw: dict[str, Any]
    ports: tuple[int, ...]
    now: float

    @property
    def config_text(self) -> str | None:
        return self.raw.get("config_text")

    def source(self, name: str) -> dict[str, Any]:
        value = self.raw.get(name)
        return value if isinstance(value, dict) else {"text": None, "error": "missing from the hub's answer"}

    def to_json(self) -> dict[str, Any]:
        """The facts for a support bundle: everything but config.yaml (bundled apart, masked) and the logs."""
        return {key: value for key, value in self.raw.items() if key not in ("config_text", "logs")}


def gather(target: HubTarget, sources: Sources | None = None, *, now: float | None = None,
           timeout: float = 90.0) -> HubFacts:
    """Run the script on the hub (one round trip, as root: ss names processes and sshd -T reads host keys only as
    root). Raises ``CommandFailed`` when the script itself fails (no python3 on the hub)."""
    import time

    sources = sources or Sources()
    moment = time.time() if now is None else now
    disks = dict(sources.disks)
    disks.setdefault("prefix", str(target.prefix))
    options = {"since": moment - sources.since_hours * 3600, "files": sources.files, "disks": disks,
               "prefix": str(target.prefix), "reboot_required": sources.reboot_required,
               "sshd_binary": sources.sshd_binary, "sshd_config": sources.sshd_config,
               "unattended_binary": sources.unattended_binary, "log_lines": sources.log_lines,
               "only": list(sources.only) if sources.only else None}
    result = target.run(["python3", "-c", _SCRIPT, json.dumps(options)], sudo=True, timeout=timeout)
    if not result.ok:
        raise CommandFailed(result)
    raw = json.loads(result.stdout)
    return HubFacts(raw, tuple(sources.ports), float(raw.get("now") or moment))


# ---------------------------------------------------------------------------------------------------------------
# parsers (each takes the text of one source)

_USERS = re.compile(r'\("([^"]+)",pid=(\d+)')


def parse_listeners(text: str) -> list[Listener]:
    """``ss -ltnp`` output (iproute2): ``State Recv-Q Send-Q Local:Port Peer:Port [users:(("name",pid=N,fd=M),...)]``.
    The header line, if any, is skipped; IPv6 addresses keep their brackets (``[::]:443``, ``*:80``)."""
    out = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4 or fields[0] != "LISTEN":
            continue
        local = fields[3]
        address, _, port = local.rpartition(":")
        if not port.isdigit():
            continue
        programs = [(name, int(pid)) for name, pid in _USERS.findall(line)]
        seen: set[tuple[str, int]] = set()
        unique: list[tuple[str, int | None]] = []
        for program in programs:
            if program not in seen:
                seen.add(program)
                unique.append(program)
        out.append(Listener(address, int(port), unique))
    return out


def parse_key_values(text: str) -> dict[str, str]:
    """``sshd -T`` output: ``keyword value`` lines, keywords lower-case; the first occurrence wins."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if key and key.lower() not in out:
            out[key.lower()] = value.strip()
    return out


def parse_apt_periodic(text: str) -> dict[str, str]:
    """``apt-config dump`` lines ``APT::Periodic::Unattended-Upgrade "1";`` -> {"Unattended-Upgrade": "1"}."""
    out = {}
    for match in re.finditer(r'^APT::Periodic::([\w-]+)\s+"([^"]*)";', text, re.M):
        out[match.group(1)] = match.group(2)
    return out


@dataclass
class Upgrade:
    package: str
    new_version: str
    origin: str

    @property
    def security(self) -> bool:
        return "security" in self.origin.lower()


_INST = re.compile(r"^Inst (\S+)(?: \[[^\]]*\])? \((\S+) (.*?)\)")


def parse_apt_simulation(text: str) -> list[Upgrade]:
    """``apt-get -s`` lines ``Inst PKG [OLD] (NEW ORIGIN:RELEASE [ARCH])``; an origin naming ``-security``
    (``Debian-Security:12/stable-security``, ``Ubuntu:22.04/jammy-security``) is a security update."""
    out = []
    for line in text.splitlines():
        match = _INST.match(line)
        if match:
            out.append(Upgrade(match.group(1), match.group(2), match.group(3)))
    return out


def parse_meminfo(text: str) -> dict[str, int]:
    """``/proc/meminfo`` -> bytes by field (``MemTotal``, ``SwapTotal``, ...)."""
    out = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            out[key.strip()] = int(parts[0]) * (1024 if parts[1:2] == ["kB"] else 1)
    return out


def parse_swaps(text: str) -> list[dict[str, Any]]:
    """``/proc/swaps``: ``Filename Type Size Used Priority`` (sizes in KiB) after a header line."""
    out = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 4 and fields[2].isdigit():
            out.append({"name": fields[0], "type": fields[1], "size": int(fields[2]) * 1024,
                        "used": int(fields[3]) * 1024})
    return out


_ISO = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[.,]\d+)?(?:[+-]\d\d:?\d\d|Z)?)\s")


def line_time(line: str) -> float | None:
    """The time of a ``journalctl -o short-iso`` (or rsyslog high-precision) line, as a UNIX time; None if the line
    carries no ISO time (traditional syslog lines): such lines are kept."""
    match = _ISO.match(line)
    if not match:
        return None
    stamp = match.group(1).replace(",", ".").replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", stamp):
        stamp = stamp[:-2] + ":" + stamp[-2:]
    try:
        moment = _dt.datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.timezone.utc)
    return moment.timestamp()


def recent(text: str, since: float) -> list[str]:
    """The lines of ``text`` at or after ``since`` (lines without a time are kept)."""
    out = []
    for line in text.splitlines():
        moment = line_time(line)
        if moment is None or moment >= since:
            out.append(line)
    return out


@dataclass
class OomKill:
    unit: str  # jupyter-alice.service
    user: str  # alice (TLJH's unit is ``jupyter-{USERNAME}``: tljh/jupyterhub_config.py unit_name_template)
    process: str
    line: str


_OOM_UNIT = re.compile(r"oom-kill:.*?task_memcg=\S*?/(jupyter-[^/,\s]+?)(?:\.service)?[,/\s]")
_OOM_KILLED = re.compile(r"(?:Memory cgroup out of memory|Out of memory): Killed process \d+ \(([^)]*)\)")


def parse_oom_kills(lines: list[str]) -> list[OomKill]:
    """The kernel's OOM killer in a ``jupyter-*`` unit's cgroup. Linux (mm/oom_kill.c, ``dump_oom_victim``/
    ``__oom_kill_process``) logs one summary line per kill, ``oom-kill:constraint=...,oom_memcg=...,
    task_memcg=/system.slice/jupyter-alice.service,task=python3,pid=...,uid=...``, then ``Memory cgroup out of
    memory: Killed process PID (python3) ...``. Each summary line naming a jupyter-* unit is one kill."""
    out = []
    for line in lines:
        match = _OOM_UNIT.search(line + " ")
        if not match:
            continue
        unit = match.group(1)
        unit = unit if unit.endswith(".service") else unit + ".service"
        task = re.search(r"[,:]task=([^,\s]+)", line)
        out.append(OomKill(unit, unit[len("jupyter-"):-len(".service")], task.group(1) if task else "?", line))
    return out


_SSH_FAILURE = re.compile(r"(Failed (?:password|publickey|keyboard-interactive/pam|none) for (?:invalid user )?"
                          r"(\S+) from (\S+)|Invalid user (\S*) from (\S+))")


def parse_failed_logins(lines: list[str]) -> list[tuple[str, str]]:
    """(user, source address) of each failed SSH login in sshd's messages: ``Failed password for [invalid user] U
    from IP``, ``Failed publickey for U from IP``, ``Invalid user U from IP`` (OpenSSH auth.c ``auth_log``,
    auth2.c ``input_userauth_request``). The ``Invalid user`` line and its ``Failed ... for invalid user`` twin are
    one attempt: the twin is not counted again."""
    out = []
    for line in lines:
        match = _SSH_FAILURE.search(line)
        if not match:
            continue
        if match.group(2) is not None:
            if "for invalid user" in line:
                continue  # already counted from its "Invalid user" line
            out.append((match.group(2), match.group(3)))
        else:
            out.append((match.group(4), match.group(5)))
    return out


def running_units(text: str) -> list[str]:
    """``systemctl list-units --plain --no-legend 'jupyter-*'``: the first field of each line."""
    return [line.split()[0] for line in text.splitlines() if line.split() and line.split()[0].startswith("jupyter-")]


def as_dict(value: Any) -> Any:
    return asdict(value)
