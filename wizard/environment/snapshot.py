"""Freeze: an exact, checksummed snapshot of the user environment.

A snapshot holds the explicit conda lock (``# platform:``, ``@EXPLICIT``, one ``URL#sha256`` line per package, md5
where a record has no sha256, credentials stripped), pip pins for the pip-only packages, the conda revision (number
and date, so a restore can tell whether that revision still exists) and metadata (time, TLJH version, host). It is
one JSON document whose ``checksum`` covers everything else; a snapshot that fails its checksum is refused.

Snapshots are kept in two places: on the hub under TLJH's state dir (root-only) and locally in the session dir.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wizard.environment.summary import CondaPackage, Environment, PipPackage

if TYPE_CHECKING:
    from wizard.hub.target import HubTarget


FORMAT = 1
_ID = re.compile(r"^\d{8}T\d{6}Z(-\d{1,3})?$")


class SnapshotError(Exception):
    """A snapshot is missing, unreadable, or fails its checksum."""


def check_id(snapshot_id: str) -> str:
    if not isinstance(snapshot_id, str) or not _ID.match(snapshot_id):
        raise SnapshotError(f"{str(snapshot_id)[:40]!r} is not a snapshot id (expected e.g. 20261125T180500Z)")
    return snapshot_id


def new_id(now: float, taken: AbstractSet[str] = frozenset()) -> str:
    """A sortable UTC timestamp id, suffixed when one already exists for that second."""
    base = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    candidate, counter = base, 1
    while candidate in taken:
        candidate, counter = f"{base}-{counter}", counter + 1
    return candidate


@dataclass
class Snapshot:
    id: str
    created: float
    host: str
    tljh_version: str | None
    prefix: str
    platform: str
    python: str | None
    conda_revision: int | None
    conda_revision_date: str
    conda: list[CondaPackage]
    pip: list[PipPackage]
    unlocked: list[str] = field(default_factory=list)  # conda packages whose record has no URL or hash
    problems: list[str] = field(default_factory=list)  # what could not be read when freezing

    @property
    def created_text(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.created))

    def explicit_lock(self) -> str:
        """The conda explicit file, as ``conda list --explicit --sha256`` writes it (``conda create --file``)."""
        lines = [
            f"# Snapshot {self.id} of {self.prefix}/user on {self.host}, {self.created_text}",
            "# This file may be used to create an environment using:",
            "# $ conda create --name <env> --file <this file>",
            f"# platform: {self.platform}",
        ]
        lines += [f"# not locked (no URL or hash recorded): {name}" for name in self.unlocked]
        lines.append("@EXPLICIT")
        lines += [package.lock_line for package in self.conda if package.lock_line]
        return "\n".join(lines) + "\n"

    def requirements(self) -> str:
        """pip pins of the pip-only packages (``pip install --no-deps -r``)."""
        lines = [f"# pip-only packages of {self.prefix}/user, snapshot {self.id}"]
        lines += [package.requirement for package in self.pip]
        return "\n".join(lines) + "\n"

    def body(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "id": self.id,
            "created": self.created,
            "host": self.host,
            "tljh_version": self.tljh_version,
            "prefix": self.prefix,
            "platform": self.platform,
            "python": self.python,
            "conda_revision": self.conda_revision,
            "conda_revision_date": self.conda_revision_date,
            "conda": [package.to_json() for package in self.conda],
            "pip": [package.to_json() for package in self.pip],
            "unlocked": list(self.unlocked),
            "problems": list(self.problems),
            "explicit": self.explicit_lock(),
            "requirements": self.requirements(),
        }

    def to_bytes(self) -> bytes:
        body = self.body()
        body["checksum"] = "sha256:" + _digest(body)
        return (json.dumps(body, indent=1, sort_keys=True) + "\n").encode("utf-8")

    @property
    def checksum(self) -> str:
        return "sha256:" + _digest(self.body())

    @classmethod
    def from_bytes(cls, data: bytes, where: str = "snapshot") -> "Snapshot":
        try:
            body = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise SnapshotError(f"{where}: not a snapshot ({str(exc)[:80]})") from None
        if not isinstance(body, dict) or body.get("format") != FORMAT:
            raise SnapshotError(f"{where}: not a snapshot of format {FORMAT}")
        claimed = body.pop("checksum", None)
        if claimed != "sha256:" + _digest(body):
            raise SnapshotError(f"{where}: checksum mismatch: the snapshot was changed or damaged")
        try:
            snapshot = cls(
                id=check_id(body["id"]), created=float(body["created"]), host=str(body["host"]),
                tljh_version=body.get("tljh_version"), prefix=str(body["prefix"]), platform=str(body["platform"]),
                python=body.get("python"), conda_revision=body.get("conda_revision"),
                conda_revision_date=str(body.get("conda_revision_date") or ""),
                conda=[CondaPackage.from_json(item) for item in body["conda"]],
                pip=[PipPackage.from_json(item) for item in body["pip"]],
                unlocked=list(body.get("unlocked") or []), problems=list(body.get("problems") or []),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SnapshotError(f"{where}: incomplete snapshot ({exc})") from None
        return snapshot


def _digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()


def freeze(environment: Environment, host: str, now: float | None = None, taken: AbstractSet[str] = frozenset()) -> Snapshot:
    """The snapshot of ``environment`` (as gathered by ``summary``)."""
    created = float(time.time() if now is None else now)
    conda = sorted(environment.conda.values(), key=lambda package: package.name)
    pip = sorted(environment.pip.values(), key=lambda package: package.key)
    revision = environment.revisions[-1] if environment.revisions else None
    return Snapshot(
        id=new_id(created, taken), created=created, host=host, tljh_version=environment.tljh_version,
        prefix=environment.prefix, platform=environment.platform, python=environment.python,
        conda_revision=revision.number if revision else None, conda_revision_date=revision.date if revision else "",
        conda=conda, pip=pip, unlocked=[package.name for package in conda if not package.lock_line],
        problems=[problem.summary for problem in environment.problems],
    )


# ---------------------------------------------------------------------------------------------------------------
# Local store: SESSION_DIR/environment/ID.json (+ ID.explicit.txt and ID.requirements.txt for use with conda/pip).


def save_local(directory: Path, snapshot: Snapshot, data: bytes | None = None) -> Path:
    """Keep ``snapshot`` (``data``: its ``to_bytes()``, when already serialised) in ``directory``."""
    from wizard.files import atomic_write, private_dir

    private_dir(directory)
    path = atomic_write(directory / f"{snapshot.id}.json", data or snapshot.to_bytes())
    atomic_write(directory / f"{snapshot.id}.explicit.txt", snapshot.explicit_lock())
    atomic_write(directory / f"{snapshot.id}.requirements.txt", snapshot.requirements())
    return path


def load_local(directory: Path, snapshot_id: str) -> Snapshot:
    path = directory / f"{check_id(snapshot_id)}.json"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SnapshotError(f"no local snapshot {snapshot_id} in {directory}") from None
    return Snapshot.from_bytes(data, str(path))


def local_ids(directory: Path) -> list[str]:
    if not directory.is_dir():
        return []
    return sorted(path.stem for path in directory.glob("*.json") if _ID.match(path.stem))


# ---------------------------------------------------------------------------------------------------------------
# On the hub: PREFIX/state/tljh-wizard/environment/ID.json, root-only (0700 directories, 0600 files).

_LIST_SCRIPT = r"""set -u
cd -- "$1" 2>/dev/null || exit 0
set -- *.json
[ -e "$1" ] || exit 0
tar -cf - -- "$@" | gzip -1
"""


def hub_dir(prefix: object) -> str:
    return f"{str(prefix).rstrip('/')}/state/tljh-wizard/environment"


def freeze_hub(target: HubTarget, local_dir: Path, host: str | None = None,
               now: float | None = None) -> tuple[Snapshot, Environment]:
    """Freeze the hub's environment, store the snapshot on the hub and locally; (snapshot, environment).

    Two round trips whatever the number of packages: the gather (which also creates the hub's snapshot directory)
    and the atomic write.
    """
    from wizard.environment.summary import gather

    directory = hub_dir(target.prefix)
    environment = gather(target, ensure_dir=directory)
    snapshot = freeze(environment, host or target.name, now, taken=set(local_ids(local_dir)))
    data = snapshot.to_bytes()
    target.write_file(f"{directory}/{snapshot.id}.json", data, mode=0o600, sudo=True)
    save_local(local_dir, snapshot, data)
    return snapshot, environment


def hub_snapshots(target: HubTarget) -> tuple[list[Snapshot], list[str]]:
    """Every snapshot stored on the hub (one round trip), and a message for each that fails its checksum."""
    import io
    import tarfile

    from wizard.environment.summary import gunzip_complete

    argv = ["sh", "-c", _LIST_SCRIPT, "tljh-wizard-env-list", hub_dir(target.prefix)]
    result = target.run(argv, sudo=True, timeout=300, check=True)
    if not result.stdout:
        return [], []
    tar = gunzip_complete(result.stdout, "the snapshot listing from the hub")
    snapshots, errors = [], []
    with tarfile.open(fileobj=io.BytesIO(tar), mode="r:") as archive:
        for member in archive:
            handle = archive.extractfile(member) if member.isfile() else None
            if handle is None:
                continue
            try:
                snapshots.append(Snapshot.from_bytes(handle.read(), f"hub:{member.name}"))
            except SnapshotError as exc:
                errors.append(str(exc))
    return sorted(snapshots, key=lambda s: s.id), errors


def load_hub(target: HubTarget, snapshot_id: str) -> Snapshot:
    path = f"{hub_dir(target.prefix)}/{check_id(snapshot_id)}.json"
    for attempt in (1, 2):  # a read cut short fails its checksum: read once more (see summary.gather)
        try:
            data = target.read_file(path, sudo=True)
        except FileNotFoundError:
            raise SnapshotError(f"no snapshot {snapshot_id} on the hub") from None
        try:
            return Snapshot.from_bytes(data, f"hub:{path}")
        except SnapshotError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def find_snapshot(target: HubTarget, local_dir: Path, snapshot_id: str) -> Snapshot:
    """A snapshot by id: the local copy when it is intact, else the hub's (then kept locally too)."""
    try:
        return load_local(local_dir, snapshot_id)
    except SnapshotError as local_error:
        if target is None:
            raise
        try:
            snapshot = load_hub(target, snapshot_id)
        except SnapshotError as hub_error:
            raise SnapshotError(f"{local_error}; {hub_error}") from None
    save_local(local_dir, snapshot)
    return snapshot
