"""Drift between two package sets: what was added, removed, or changed version (or build) since a snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from wizard.environment.snapshot import Snapshot
from wizard.environment.summary import CondaPackage, Environment, PipPackage

Package = CondaPackage | PipPackage


@dataclass(frozen=True)
class Change:
    kind: str  # "added", "removed", "changed"
    manager: str  # "conda" or "pip"
    name: str
    old: str = ""  # version (conda: version=build) before
    new: str = ""  # ... after

    def render(self) -> str:
        if self.kind == "added":
            return f"+ {self.name} {self.new} ({self.manager})"
        if self.kind == "removed":
            return f"- {self.name} {self.old} ({self.manager})"
        return f"~ {self.name} {self.old} -> {self.new} ({self.manager})"


@dataclass
class PackageSet:
    """The packages a diff compares: from a snapshot or from the live environment."""

    label: str
    conda: dict[str, CondaPackage]
    pip: dict[str, PipPackage]

    @classmethod
    def of_snapshot(cls, snapshot: Snapshot) -> "PackageSet":
        return cls(f"snapshot {snapshot.id}", {p.name: p for p in snapshot.conda}, {p.key: p for p in snapshot.pip})

    @classmethod
    def of_environment(cls, environment: Environment, label: str = "live environment") -> "PackageSet":
        return cls(label, dict(environment.conda), dict(environment.pip))


def _conda_version(package: CondaPackage) -> str:
    return f"{package.version}={package.build}"


def diff(old: PackageSet, new: PackageSet) -> list[Change]:
    """Changes from ``old`` to ``new``, conda first, each group sorted by name."""
    changes = _compare("conda", old.conda, new.conda, _conda_version, lambda p: p.name)
    changes += _compare("pip", old.pip, new.pip, lambda p: p.version, lambda p: p.name)
    return changes


def _compare(manager: str, old: Mapping[str, Package], new: Mapping[str, Package],
             version: Callable[[Any], str], display: Callable[[Any], str]) -> list[Change]:
    out = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before is None:
            out.append(Change("added", manager, display(after), new=version(after)))
        elif after is None:
            out.append(Change("removed", manager, display(before), old=version(before)))
        elif version(before) != version(after):
            out.append(Change("changed", manager, display(after), old=version(before), new=version(after)))
    return out


def render(changes: Iterable[Change], old: PackageSet, new: PackageSet) -> str:
    changes = list(changes)
    head = f"from {old.label} to {new.label}: "
    if not changes:
        return head + "no differences\n"
    counts = {kind: sum(1 for c in changes if c.kind == kind) for kind in ("added", "removed", "changed")}
    head += ", ".join(f"{count} {kind}" for kind, count in counts.items() if count)
    return head + "\n" + "\n".join(change.render() for change in changes) + "\n"
