"""Per-user limits, idle culling and the sizing calculator (step 5).

Validators follow ``wizard.fields`` conventions: they take what a person types or what YAML gives, return the
normalised value and raise only ``ValidationError``. Memory uses TLJH's own units (JupyterHub's ByteSpecification:
``K``/``M``/``G``/``T``, binary multiples, an optional decimal fraction such as ``1.5G``).

The sizing calculator follows TLJH's resource-estimation guide: RAM = concurrent users x per-user memory + 128 MB,
CPU = concurrent users x per-user CPU + 20% of one CPU (hub and proxy), disk = total users x per-user disk + 2 GB,
held against the VM's real RAM, CPUs and disk.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from wizard.diagnosis import Diagnosis, Status
from wizard.fields import ValidationError

KIB = 1024
MIB = 1024**2
GIB = 1024**3
TIB = 1024**4
UNITS = {"K": KIB, "M": MIB, "G": GIB, "T": TIB}

# A Jupyter server with a kernel does not start in less; below this a limit is a typo (``512K`` for ``512M``).
MIN_MEMORY = 32 * MIB
MAX_MEMORY = 1024 * TIB
MAX_CPU = 1024

HUB_MEMORY = 128 * MIB  # TLJH's guide: memory of the hub, proxy and system on top of the users'
HUB_CPU = 0.2  # "+ 20%": a fifth of one CPU for the hub and proxy
SYSTEM_DISK = 2 * GIB  # TLJH's guide: the OS, TLJH and the user environment
SINGLE_USER_RAM_SHARE = 0.9  # one user's limit above this share of the VM's RAM starves the hub: an error

_MEMORY = re.compile(r"(?P<number>\d+(?:\.\d+)?|\.\d+)\s*(?P<unit>[KMGTkmgt])")
_MEMORY_FORM = "a number and a unit K, M, G or T (binary multiples), e.g. 512M, 2G or 1.5G"


def parse_memory(text: Any) -> int:
    """Bytes of a TLJH memory value (``"1.5G"`` -> 1610612736), computed as TLJH does: int(number x unit)."""
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ValidationError(f"expected a memory size: {_MEMORY_FORM}")
    token = str(text).strip()
    if isinstance(text, (int, float)) or re.fullmatch(r"[+-]?\d+(\.\d*)?|[+-]?\.\d+", token):
        raise ValidationError(f"{token[:40]!r} has no unit; TLJH expects {_MEMORY_FORM}")
    if token.startswith("-"):
        raise ValidationError(f"{token[:40]!r} is negative; a size must be more than 0: {_MEMORY_FORM}")
    kube = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGTkmgt])i[Bb]?", token)
    if kube:
        suggestion = f"{kube.group(1)}{kube.group(2).upper()}"
        raise ValidationError(
            f"{token!r} is the Kubernetes form; TLJH writes binary units without 'i': use {suggestion!r} ({_MEMORY_FORM})"
        )
    decimal = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGTkmgt])[Bb]", token)
    if decimal:
        suggestion = f"{decimal.group(1)}{decimal.group(2).upper()}"
        raise ValidationError(f"{token!r}: TLJH's units have no 'B'; use {suggestion!r} ({_MEMORY_FORM})")
    match = _MEMORY.fullmatch(token)
    if not match or len(match.group("number")) > 24:
        raise ValidationError(f"{token[:40]!r} is not a memory size; expected {_MEMORY_FORM}")
    return int(float(match.group("number")) * UNITS[match.group("unit").upper()])


def format_memory(size: int) -> str:
    """The shortest TLJH memory string whose value is exactly ``size`` bytes (``parse_memory`` inverts it)."""
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise ValidationError(f"expected a positive number of bytes, got {size!r}"[:80])
    if size > 2**53:  # TLJH computes with floating point: beyond this not every byte count is representable
        raise ValidationError("more bytes than a memory limit can express exactly")
    candidates = []
    for unit, multiple in UNITS.items():
        if size % multiple == 0:
            candidates.append(f"{size // multiple}{unit}")
            continue
        text = _short_decimal(size / multiple)
        if text is not None and int(float(text) * multiple) == size:
            candidates.append(f"{text}{unit}")
    # "512M" rather than "0.5G"; otherwise the shortest, so "1.5G" rather than "1536M".
    return min(candidates, key=lambda c: (float(c[:-1]) < 1, len(c), -UNITS[c[-1]]))


def _short_decimal(value: float) -> str | None:
    """``value`` as a plain decimal (never exponent notation), trailing zeros removed; None when too long."""
    text = repr(value)
    if "e" in text or "E" in text:
        text = f"{value:.20f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return text if len(text) <= 32 else None


def memory_limit(raw: Any) -> str:
    """A per-user memory limit as TLJH writes it: ``"2G"``, ``"512M"``, ``"1.5G"`` (normalised spelling)."""
    size = parse_memory(raw)
    token = str(raw).strip()
    if size <= 0:
        raise ValidationError(f"{token[:40]!r} is zero; a size must be more than 0: {_MEMORY_FORM}")
    if size < MIN_MEMORY:
        raise ValidationError(
            f"{token[:40]!r} is {size} bytes, too little for a Jupyter server; at least 32M (did you mean M rather "
            f"than K?), e.g. 512M or 2G"
        )
    if size > MAX_MEMORY:
        raise ValidationError(f"{token[:40]!r} is more than any VM has; e.g. 512M, 2G or 64G")
    match = _MEMORY.fullmatch(token)
    assert match is not None  # parse_memory accepted it
    number = match.group("number")
    if "." in number:
        number = number.rstrip("0").rstrip(".")
    number = number.lstrip("0") or "0"
    number = ("0" + number) if number.startswith(".") else number
    return f"{number}{match.group('unit').upper()}"


def cpu_limit(raw: Any) -> int | float:
    """CPUs per user: a positive number (``0.5``, ``1``, ``2``); whole numbers come back as ``int``."""
    if isinstance(raw, bool):
        raise ValidationError("expected a number of CPUs such as 0.5, 1 or 2, not true/false")
    if isinstance(raw, str):
        token = raw.strip()
        if not re.fullmatch(r"[+-]?(\d{1,6}(\.\d{0,6})?|\.\d{1,6})", token):
            raise ValidationError(f"expected a number of CPUs such as 0.5, 1 or 2, got {token[:40]!r}")
        value = float(token)
    elif isinstance(raw, (int, float)) and math.isfinite(raw):
        value = round(float(raw), 6)  # as precise as the text form accepts, so the value shown back is accepted
    else:
        raise ValidationError(f"expected a number of CPUs such as 0.5, 1 or 2, got {raw!r}"[:80])
    if value <= 0:
        raise ValidationError(f"CPUs per user must be more than 0, got {value:g}; e.g. 0.5, 1 or 2")
    if value > MAX_CPU:
        raise ValidationError(f"at most {MAX_CPU} CPUs per user, got {value:g}")
    return int(value) if value.is_integer() else value


def _version_tuple(version: str) -> tuple[int, ...] | None:
    match = re.match(r"\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?", str(version or ""))
    if not match:
        return None
    return tuple(int(part or 0) for part in match.groups())


def tljh_accepts_fractional_cpu(tljh_version: str) -> bool:
    """TLJH 2.0.0 and earlier declare ``limits.cpu`` as an integer; later versions accept any number.

    An unknown version is treated as 2.0.0: a whole number works everywhere.
    """
    parsed = _version_tuple(tljh_version)
    if parsed is None:
        return False
    # A development build after 2.0.0 (e.g. "2.0.1.dev0" or "2.1.0") carries the relaxed schema.
    if parsed > (2, 0, 0):
        return True
    return parsed == (2, 0, 0) and bool(re.search(r"dev|\+", str(tljh_version)))


def nearest_whole_cpu(value: float) -> int:
    """The nearest whole number of CPUs, at least 1 (halves round up: more room, not less)."""
    return max(1, math.floor(value + 0.5))


def cpu_for_tljh(value: Any, tljh_version: str) -> int | float:
    """A CPU limit the hub's TLJH accepts: on 2.0.0 a whole number (its schema rejects ``0.5``)."""
    cpus = cpu_limit(value)
    if isinstance(cpus, int) or tljh_accepts_fractional_cpu(tljh_version):
        return cpus
    nearest = nearest_whole_cpu(cpus)
    shown = tljh_version or "unknown (assumed 2.0.0)"
    raise ValidationError(
        f"TLJH {shown} accepts only whole CPUs for limits.cpu (its schema rejects {cpus:g}); use {nearest}"
    )


# ---------------------------------------------------------------------------------------------------------------
# Idle culling. TLJH's code defaults (timeout 600 s, every 60 s) disagree with its docs, so the wizard always writes
# the values explicitly.

_DURATION = re.compile(r"(\d{1,9})\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?|d|days?)?", re.IGNORECASE)
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DAY = 86400


def parse_duration(raw: Any) -> int:
    """Seconds from ``600``, ``"600"``, ``"10m"``, ``"1h"``, ``"2d"``."""
    if isinstance(raw, bool):
        raise ValidationError("expected a duration such as 600 (seconds), 10m, 1h or 2d, not true/false")
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, int):
        if raw < 0:
            raise ValidationError(f"a duration cannot be negative, got {raw}")
        return raw
    if not isinstance(raw, str):
        raise ValidationError(f"expected a duration such as 600 (seconds), 10m, 1h or 2d, got {raw!r}"[:80])
    token = raw.strip()
    if token.startswith("-"):
        raise ValidationError(f"a duration cannot be negative, got {token[:40]!r}")
    match = _DURATION.fullmatch(token)
    if not match:
        raise ValidationError(f"expected a duration such as 600 (seconds), 10m, 1h or 2d, got {token[:40]!r}")
    unit = (match.group(2) or "s")[0].lower()
    return int(match.group(1)) * _DURATION_UNITS[unit]


def _in_range(seconds: int, low: int, high: int, what: str) -> int:
    if not low <= seconds <= high:
        raise ValidationError(
            f"{what} must be between {_human_duration(low)} and {_human_duration(high)}, got {_human_duration(seconds)}"
        )
    return seconds


def _human_duration(seconds: int) -> str:
    for unit, size in (("d", DAY), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def cull_timeout(raw: Any) -> int:
    """Seconds of inactivity before a user's server is stopped: 5 minutes to 30 days."""
    return _in_range(parse_duration(raw), 300, 30 * DAY, "the idle timeout")


def cull_every(raw: Any) -> int:
    """Seconds between culler runs: 10 seconds to 1 day."""
    return _in_range(parse_duration(raw), 10, DAY, "the culling interval")


def cull_max_age(raw: Any) -> int:
    """Maximum server age in seconds, 0 meaning no maximum; otherwise 1 hour to 365 days."""
    seconds = parse_duration(raw)
    if seconds == 0:
        return 0
    return _in_range(seconds, 3600, 365 * DAY, "the maximum server age (0 for none)")


def check_culling(timeout: int, every: int, max_age: int) -> list[Diagnosis]:
    """Cross-field checks of validated culling values: the culler must run more often than the timeout."""
    out = []
    if every > timeout:
        out.append(Diagnosis(
            "limits.cull.every", Status.WARNING,
            f"the culler runs every {_human_duration(every)}, less often than the {_human_duration(timeout)} timeout",
            fix=f"set services.cull.every to at most {_human_duration(max(10, timeout // 2))}",
        ))
    if max_age and max_age < timeout:
        out.append(Diagnosis(
            "limits.cull.max_age", Status.WARNING,
            f"servers are stopped after {_human_duration(max_age)} even when busy, before the idle timeout",
            fix="raise services.cull.max_age above the timeout, or set it to 0",
        ))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Sizing calculator.

# Typical cloud shapes: RAM per vCPU is 2, 4 or 8 GB; sizes double.
_VM_CPUS = (1, 2, 4, 8, 16, 32, 48, 64, 96, 128, 192)
_VM_RAM_GB = (1, 2, 4, 8, 16, 32, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048)


@dataclass(frozen=True)
class SizingInputs:
    total_users: int
    active_share: float  # share of users with a running server at the busiest time, 0 < share <= 1
    memory_per_user: int  # bytes
    cpu_per_user: float
    disk_per_user: int  # bytes
    headroom: float = 0.3  # extra capacity on top of the estimate for the suggested VM, 0 <= headroom <= 2


@dataclass(frozen=True)
class HostFacts:
    """The VM as measured on the hub; a fact left None is not checked."""

    ram: int | None = None  # bytes
    cpus: float | None = None
    disk: int | None = None  # bytes free+used on the mount holding /home

    @classmethod
    def from_hub(cls, facts: Any) -> "HostFacts":
        """From the hub's gathered facts (``wizard.hub.facts.HostFacts``): total RAM, CPUs, the disk of /home."""
        if facts is None:
            return cls()
        memory = getattr(facts, "memory", None) or {}
        disks = getattr(facts, "disks", None) or {}
        home = disks.get("home") or disks.get("root") or {}
        return cls(ram=memory.get("total"), cpus=getattr(facts, "cpus", None), disk=home.get("total"))


@dataclass
class Sizing:
    concurrent_users: int
    ram: int  # bytes required
    cpus: float
    disk: int  # bytes required
    suggested_cpus: int
    suggested_ram: int  # bytes
    suggested_disk: int  # bytes
    diagnoses: list[Diagnosis] = field(default_factory=list)

    @property
    def suggestion(self) -> str:
        return (
            f"{self.suggested_cpus} vCPU, {format_gb(self.suggested_ram)} RAM, {format_gb(self.suggested_disk)} disk"
        )


def format_gb(size: int) -> str:
    """Bytes as GB (binary) for people: ``50.125 GB``, ``2 GB``."""
    value = size / GIB
    return f"{value:.3f}".rstrip("0").rstrip(".") + " GB"


def _percentage(raw: Any, field: str, example: str) -> float:
    """A fraction from what a person types, a percentage with its sign (``"30%"`` -> 0.3), or from what an answers
    file holds, a number that is the fraction itself (``0.3``, as the wizard writes it). A typed number without
    ``%`` is refused, never guessed: ``"2"`` could mean 2% or 200%. Rounded to 0.0001 percentage points, so the
    text shown back (``percentage_text``) reads as the same value."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise ValidationError(f"expected the {field} as a percentage such as {example}")
    if isinstance(raw, str):
        token = raw.strip()
        if not token.endswith("%"):
            raise ValidationError(f"write the {field} as a percentage with %, e.g. {example} (got {token[:40]!r})")
        try:
            value = float(token[:-1].strip()) / 100
        except ValueError:
            raise ValidationError(f"expected the {field} as a percentage such as {example}, got {token[:40]!r}") \
                from None
    else:  # an answers file's number: the fraction itself
        value = float(raw)
    if not math.isfinite(value):
        raise ValidationError(f"expected the {field} as a percentage such as {example}, got {str(raw)[:40]!r}")
    return round(value * 100, 4) / 100


def percentage_text(value: float) -> str:
    """A fraction as the percentage a person types: 0.3 -> ``"30%"``, 1.5 -> ``"150%"``, 0.125 -> ``"12.5%"``."""
    percent = round(float(value) * 100, 4)
    text = str(int(percent)) if percent.is_integer() else format(percent, "f").rstrip("0").rstrip(".")
    return f"{text}%"


def active_share(raw: Any) -> float:
    """The share of users active at once, as a fraction: ``"50%"`` (typed) or ``0.5`` (an answers file) -> 0.5;
    more than 0% and at most 100%. A typed ``"50"`` is refused (``_percentage``)."""
    value = _percentage(raw, "active share", "50%")
    if not 0 < value <= 1:
        raise ValidationError(f"the active share must be more than 0% and at most 100%, got {percentage_text(value)}")
    return value


def headroom(raw: Any) -> float:
    """Spare capacity for the suggested VM, as a fraction: ``"30%"`` (typed) or ``0.3`` (an answers file) -> 0.3;
    0% to 200%. A typed ``"3"`` is refused (``_percentage``)."""
    value = _percentage(raw, "headroom", "30%")
    if not 0 <= value <= 2:
        raise ValidationError(f"the headroom must be between 0% and 200%, got {percentage_text(value)}")
    return value


active_share.format = percentage_text  # type: ignore[attr-defined]  # what Field.format shows back
headroom.format = percentage_text  # type: ignore[attr-defined]


def concurrent_users(total_users: int, share: float) -> int:
    """Users with a running server at once, rounded up (a fraction of a user still needs a whole server)."""
    return max(1, math.ceil(round(total_users * share, 9))) if total_users > 0 else 0


def _at_least(sizes: tuple[int, ...], wanted: float) -> int | None:
    return next((size for size in sizes if size >= wanted), None)


def size_hub(inputs: SizingInputs, host: HostFacts | None = None) -> Sizing:
    """Required RAM, CPU and disk for ``inputs``, checked against ``host``, with a suggested VM shape."""
    if inputs.total_users <= 0:
        raise ValidationError("expected at least one user")
    concurrent = concurrent_users(inputs.total_users, inputs.active_share)
    ram = concurrent * inputs.memory_per_user + HUB_MEMORY
    cpus = round(concurrent * inputs.cpu_per_user + HUB_CPU, 6)
    disk = inputs.total_users * inputs.disk_per_user + SYSTEM_DISK

    grow = 1 + inputs.headroom
    want_ram_gb = ram * grow / GIB
    want_cpus = cpus * grow
    suggested_ram_gb = _at_least(_VM_RAM_GB, want_ram_gb) or math.ceil(want_ram_gb)
    suggested_cpus = _at_least(_VM_CPUS, want_cpus) or math.ceil(want_cpus)
    suggested_disk = math.ceil(disk * grow / (10 * GIB)) * 10 * GIB
    sizing = Sizing(
        concurrent_users=concurrent, ram=ram, cpus=cpus, disk=disk,
        suggested_cpus=suggested_cpus, suggested_ram=int(suggested_ram_gb * GIB), suggested_disk=suggested_disk,
    )
    sizing.diagnoses = _check_against_host(inputs, sizing, host or HostFacts())
    return sizing


def _check_against_host(inputs: SizingInputs, sizing: Sizing, host: HostFacts) -> list[Diagnosis]:
    out: list[Diagnosis] = []
    suggestion = f"a VM of about {sizing.suggestion}"
    if host.ram is None:
        out.append(Diagnosis("limits.ram", Status.SKIPPED, "the VM's memory is unknown; RAM not checked"))
    elif inputs.memory_per_user > SINGLE_USER_RAM_SHARE * host.ram:
        out.append(Diagnosis(
            "limits.ram", Status.ERROR,
            f"one user's limit ({format_memory(inputs.memory_per_user)}) exceeds 90% of the VM's "
            f"{format_gb(host.ram)} RAM: one busy user can starve the hub",
            fix=f"lower the memory limit to at most {format_memory(_round_down_mib(SINGLE_USER_RAM_SHARE * host.ram))}, "
                f"or use {suggestion}",
            data={"limit": inputs.memory_per_user, "host_ram": host.ram},
        ))
    else:
        out.append(_needed(
            "limits.ram", sizing.ram, host.ram, "host_ram",
            f"{format_gb(sizing.ram)} RAM needed of {format_gb(host.ram)}",
            f"{sizing.concurrent_users} concurrent users need {format_gb(sizing.ram)} RAM; the VM has "
            f"{format_gb(host.ram)}",
            details="Users whose servers start past that point are killed when they reach memory the VM lacks.",
            fix=f"lower the memory limit or the expected active share, or use {suggestion}"))
    if host.cpus is None:
        out.append(Diagnosis("limits.cpu", Status.SKIPPED, "the VM's CPU count is unknown; CPU not checked"))
    else:
        out.append(_needed(
            "limits.cpu", sizing.cpus, host.cpus, "host_cpus", f"{sizing.cpus:g} CPUs needed of {host.cpus:g}",
            f"{sizing.concurrent_users} concurrent users need {sizing.cpus:g} CPUs; the VM has {host.cpus:g}",
            details="CPU limits are shares: the hub stays up but everyone slows down.",
            fix=f"lower the CPU limit, or use {suggestion}"))
    if host.disk is None:
        out.append(Diagnosis("limits.disk", Status.SKIPPED, "the disk holding /home is unknown; disk not checked"))
    else:
        out.append(_needed(
            "limits.disk", sizing.disk, host.disk, "host_disk",
            f"{format_gb(sizing.disk)} disk needed of {format_gb(host.disk)}",
            f"{inputs.total_users} users need {format_gb(sizing.disk)} of disk; the disk holding /home has "
            f"{format_gb(host.disk)}",
            fix=f"grow the volume holding /home to at least {format_gb(sizing.suggested_disk)}"))
    return out


def _needed(check: str, required: float, available: float, host_key: str, fits: str, short: str, *,
            details: str = "", fix: str) -> Diagnosis:
    """``check`` for one resource: OK (``fits``) when ``required`` is at most what the VM has, else a WARNING
    (``short``); data ``{"required": ..., host_key: available}``."""
    data = {"required": required, host_key: available}
    if required > available:
        return Diagnosis(check, Status.WARNING, short, details=details, fix=fix, data=data)
    return Diagnosis(check, Status.OK, fits, data=data)


def _round_down_mib(size: float) -> int:
    return max(MIB, int(size) // MIB * MIB)
