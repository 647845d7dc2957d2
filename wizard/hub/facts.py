"""Host facts in one round trip: a stdlib-only Python script runs on the hub (as root) and answers with one JSON
document — OS, TLJH version, RAM, CPUs, disks, the mount holding /home, config.yaml, the user environment, and the
public IP from cloud metadata (probed concurrently with short timeouts; "unknown" when no provider answers).

The metadata base URL is a parameter (``metadata_base``) so tests point it at a loopback server or an unused
loopback port; nothing else in the project should change it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from wizard.hub.target import CommandFailed, HubTarget

METADATA_BASE = "http://169.254.169.254"
METADATA_TIMEOUT = 1.0
UNKNOWN = "unknown"

# Runs on the hub with the system python3 (TLJH requires one), stdlib only. argv: prefix, metadata base, timeout.
_SCRIPT = r'''
import concurrent.futures, glob, json, os, sys, urllib.request
prefix, base, timeout = sys.argv[1], sys.argv[2].rstrip("/"), float(sys.argv[3])

def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None

def os_release():
    fields = {}
    for line in (read("/etc/os-release") or "").splitlines():
        key, _, value = line.partition("=")
        if key:
            fields[key] = value.strip().strip('"')
    return {"name": fields.get("PRETTY_NAME", "unknown"), "id": fields.get("ID", ""),
            "version_id": fields.get("VERSION_ID", "")}

def dist_version(pattern):
    for meta in sorted(glob.glob(pattern)):
        for line in (read(meta) or "").splitlines():
            if line.startswith("Version:"):
                return line.split(":", 1)[1].strip()
    return None

def meminfo():
    values = {}
    for line in (read("/proc/meminfo") or "").splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[key] = int(parts[0]) * 1024
    return {"total": values.get("MemTotal"), "available": values.get("MemAvailable")}

def disk(path):
    try:
        stat = os.statvfs(path)
    except OSError:
        return None
    return {"path": path, "total": stat.f_blocks * stat.f_frsize, "free": stat.f_bavail * stat.f_frsize}

def mount_of(path):
    real, best = os.path.realpath(path), None
    for line in (read("/proc/self/mounts") or "").splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1].replace("\\040", " ")
        if real == point or real.startswith(point.rstrip("/") + "/") or point == "/":
            if best is None or len(point) >= len(best["mount_point"]):
                best = {"device": parts[0], "mount_point": point, "fstype": parts[2]}
    return best

def user_environment():
    meta = os.path.join(prefix, "user", "conda-meta")
    records = glob.glob(os.path.join(meta, "*.json"))
    python = None
    for record in records:
        if os.path.basename(record).startswith("python-") and os.path.basename(record)[7:8].isdigit():
            try:
                python = json.loads(read(record) or "{}").get("version")
            except ValueError:
                pass
    pip = 0
    for info in glob.glob(os.path.join(prefix, "user", "lib", "python3*", "site-packages", "*.dist-info")):
        if (read(os.path.join(info, "INSTALLER")) or "").strip() == "pip":
            pip += 1
    return {"exists": os.path.isdir(meta), "python": python, "conda_packages": len(records), "pip_packages": pip}

def fetch(path, headers=None, method="GET"):
    request = urllib.request.Request(base + path, headers=headers or {}, method=method)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read().decode().strip()

def digitalocean():
    info = {"provider": "digitalocean", "public_ip": fetch("/metadata/v1/interfaces/public/0/ipv4/address")}
    try:
        if fetch("/metadata/v1/reserved_ip/ipv4/active") == "true":
            info["reserved_ip"] = fetch("/metadata/v1/reserved_ip/ipv4/ip_address")
        else:
            info["reserved_ip"] = None
    except Exception:
        pass
    return info

def gcp():
    return {"provider": "gcp", "public_ip": fetch(
        "/computeMetadata/v1/instance/network-interfaces/0/access-configs/0/external-ip",
        {"Metadata-Flavor": "Google"})}

def aws():
    token = fetch("/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "60"}, "PUT")
    return {"provider": "aws", "public_ip": fetch("/latest/meta-data/public-ipv4", {"X-aws-ec2-metadata-token": token})}

def azure():
    return {"provider": "azure", "public_ip": fetch(
        "/metadata/instance/network/interface/0/ipv4/ipAddress/0/publicIpAddress?api-version=2021-02-01&format=text",
        {"Metadata": "true"})}

def hetzner():
    return {"provider": "hetzner", "public_ip": fetch("/hetzner/v1/metadata/public-ipv4")}

def cloud():
    probes = [digitalocean, gcp, aws, azure, hetzner]
    with concurrent.futures.ThreadPoolExecutor(len(probes)) as pool:
        futures = [pool.submit(probe) for probe in probes]
        for future in futures:
            try:
                found = future.result()
            except Exception:
                continue
            if found.get("public_ip"):
                return found
    return None

config_path = os.path.join(prefix, "config", "config.yaml")
facts = {
    "os": os_release(),
    "tljh_version": dist_version(os.path.join(prefix, "hub", "lib", "python3*", "site-packages",
                                              "the_littlest_jupyterhub-*.dist-info", "METADATA")),
    "memory": meminfo(),
    "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
    "disks": {"root": disk("/"), "home": disk("/home"), "prefix": disk(prefix)},
    "home_mount": mount_of("/home"),
    "root_mount": mount_of("/"),
    "home_on_root_device": os.stat("/home").st_dev == os.stat("/").st_dev if os.path.exists("/home") else None,
    "config_text": read(config_path),
    "user_environment": user_environment(),
    "cloud": cloud(),
}
json.dump(facts, sys.stdout)
'''


@dataclass
class HostFacts:
    os: dict[str, Any]
    tljh_version: str | None
    memory: dict[str, Any]
    cpus: int | None
    disks: dict[str, Any]
    home_mount: dict[str, Any] | None
    root_mount: dict[str, Any] | None
    home_on_root_device: bool | None
    config_text: str | None
    user_environment: dict[str, Any]
    cloud: dict[str, Any] | None
    config: Any = field(default=None)  # config.yaml parsed (None when missing or not valid YAML)
    config_error: str | None = None

    @property
    def public_ip(self) -> str:
        return (self.cloud or {}).get("public_ip") or UNKNOWN

    @property
    def provider(self) -> str:
        return (self.cloud or {}).get("provider") or UNKNOWN

    @property
    def reserved_ip(self) -> str | None:
        """The provider's reserved (static) IP when the metadata can tell (DigitalOcean); else None."""
        return (self.cloud or {}).get("reserved_ip")

    @property
    def ram_bytes(self) -> int | None:
        return self.memory.get("total")

    def summary(self) -> list[str]:
        gib = 1024 ** 3

        def size(value: object) -> str:
            return f"{value / gib:.1f} GiB" if isinstance(value, int) else UNKNOWN

        env = self.user_environment
        home = self.home_mount or {}
        return [
            f"OS: {self.os.get('name', UNKNOWN)}",
            f"TLJH: {self.tljh_version or 'not found'}",
            f"RAM: {size(self.ram_bytes)}; CPUs: {self.cpus or UNKNOWN}",
            *(f"Free on {d['path']}: {size(d['free'])} of {size(d['total'])}" for d in self.disks.values() if d),
            f"/home: {home.get('device', UNKNOWN)} ({home.get('fstype', UNKNOWN)}), "
            + ("same device as /" if self.home_on_root_device else "separate device"),
            f"User environment: Python {env.get('python') or UNKNOWN}, {env.get('conda_packages', 0)} conda and "
            f"{env.get('pip_packages', 0)} pip packages",
            f"Public IP: {self.public_ip}" + (f" ({self.provider})" if self.cloud else ""),
        ]


def gather(target: HubTarget, metadata_base: str = METADATA_BASE, metadata_timeout: float = METADATA_TIMEOUT,
           timeout: float = 30.0) -> HostFacts:
    """Collect the facts with one command on the hub (as root: config.yaml is 0600)."""
    from wizard import yamlio
    from wizard.fields import ValidationError

    result = target.run(["python3", "-c", _SCRIPT, str(target.prefix), metadata_base, f"{metadata_timeout:g}"],
                        sudo=True, timeout=timeout)
    if not result.ok:
        raise CommandFailed(result)
    data = json.loads(result.stdout)
    facts = HostFacts(**data)
    if facts.config_text is not None:
        try:
            facts.config = yamlio.loads(facts.config_text, "config.yaml") or {}
        except ValidationError as exc:
            facts.config_error = str(exc)
    return facts
