"""The backups step: where ``/home`` lives (and what can snapshot it), and a bundle of TLJH's ``config/`` and
``state/`` (hub database, cookie secret, acme.json, ...; not the user environment, which the freeze covers).

A bundle is pulled as ONE tar stream over the session's connection, hashed while it is written, and stored 0600
with a ``sha256sum``-style file beside it. Restoring verifies the hash first, unpacks on the hub into a temp
directory next to the prefix and swaps each directory in with a rename, so a failed restore leaves the hub as it was.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from wizard.diagnosis import Diagnosis, Status
from wizard.hub.target import CommandFailed, HubTarget

if TYPE_CHECKING:
    from wizard.hub.facts import HostFacts


PARTS = ("config", "state")
SNAPSHOT_GUIDANCE = {
    "digitalocean": "DigitalOcean: enable Droplet backups, or snapshot the Droplet (and any Volume holding /home) "
                    "from the control panel or `doctl compute droplet-action snapshot`.",
    "aws": "AWS: snapshot the EBS volumes (or use AWS Backup / Data Lifecycle Manager for a schedule).",
    "gcp": "Google Cloud: create a snapshot schedule for the persistent disk holding /home.",
    "azure": "Azure: enable Azure Backup for the VM, or snapshot its managed disks.",
    "hetzner": "Hetzner: enable server backups, or take snapshots (Volumes need their own copies).",
}
GENERIC_GUIDANCE = "Use your provider's disk snapshots on a schedule; test a restore once."

# Restore on the hub. $1 prefix. The bundle arrives on stdin. Both parts are unpacked and checked before anything is
# swapped; if a swap fails (or the script is stopped), every part already swapped gets its old directory back.
_RESTORE_SCRIPT = r"""set -eu
cd -- "$1"
tmp=$(mktemp -d .tljh-wizard-restore.XXXXXXXX)
swapped=""
undo() {
  for part in $swapped; do
    rm -rf -- "$part"
    if [ -e ".$part.before-restore" ]; then mv -- ".$part.before-restore" "$part"; fi
  done
  rm -rf -- "$tmp"
}
trap undo EXIT
trap 'exit 143' TERM INT HUP
cat > "$tmp/bundle.tar.gz"
size=$(wc -c < "$tmp/bundle.tar.gz")
sum=$(sha256sum < "$tmp/bundle.tar.gz")
sum=${sum%% *}
if [ "$size" != "$2" ] || [ "$sum" != "$3" ]; then
  echo "tljh-wizard-short: $size $sum" >&2
  exit 65
fi
mkdir -- "$tmp/x"
tar -xzf "$tmp/bundle.tar.gz" -C "$tmp/x" --same-owner --same-permissions
rm -f -- "$tmp/bundle.tar.gz"
for part in config state; do
  [ -d "$tmp/x/$part" ] || { echo "the bundle has no $part/ directory" >&2; exit 3; }
done
for part in config state; do
  rm -rf -- ".$part.before-restore"
  if [ -e "$part" ]; then mv -- "$part" ".$part.before-restore"; fi
  swapped="$swapped $part"
  mv -- "$tmp/x/$part" "$part"
done
trap - EXIT TERM INT HUP
rm -rf -- "$tmp"
for part in config state; do rm -rf -- ".$part.before-restore"; done
sync
"""


def home_report(facts: HostFacts) -> Diagnosis:
    """Where /home lives and whether its filesystem can snapshot, with the provider's snapshot guidance."""
    home = facts.home_mount or {}
    device, fstype = home.get("device", "unknown"), home.get("fstype", "unknown")
    snapshots = ("zfs" if fstype == "zfs" else "btrfs" if fstype == "btrfs"
                 else "lvm" if device.startswith("/dev/mapper/") else None)
    guidance = SNAPSHOT_GUIDANCE.get(facts.provider, GENERIC_GUIDANCE)
    where = f"/home is on {device} ({fstype}, mounted at {home.get('mount_point', '?')})"
    data = {"device": device, "fstype": fstype, "same_device_as_root": facts.home_on_root_device,
            "snapshots": snapshots, "provider": facts.provider}
    if facts.home_on_root_device:
        return Diagnosis("backups.home", Status.WARNING,
                         f"{where}, on the same disk as the system",
                         "Users' files share the root disk: a full disk stops the hub, and rebuilding the VM loses "
                         "them unless the whole disk is snapshotted."
                         + (f" The filesystem can take {snapshots} snapshots." if snapshots else ""),
                         f"{guidance} Consider moving /home to a separate volume.", data)
    return Diagnosis("backups.home", Status.OK, f"{where}, a separate device",
                     "Snapshots of that device capture every user's files."
                     + (f" The filesystem can take {snapshots} snapshots." if snapshots else ""), guidance, data)


@dataclass
class Bundle:
    path: Path
    sha256: str

    @property
    def checksum_path(self) -> Path:
        return checksum_path(self.path)


def checksum_path(bundle: Path) -> Path:
    return bundle.with_name(bundle.name + ".sha256")


class _HashingFile:
    """A file sink that hashes what it writes."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle, self.digest, self.size = handle, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.handle.write(data)


def pull(target: HubTarget, directory: str | os.PathLike[str], label: str | None = None,
         timeout: float = 600.0) -> Bundle:
    """Pull config/ and state/ as one tar.gz stream into ``directory`` (created 0700 when missing; an existing folder,
    which the operator may have named with ``-o``, keeps its mode); the bundle and its .sha256 are 0600."""
    from wizard.files import atomic_write, private_dir

    folder = Path(directory)
    if not folder.is_dir():
        private_dir(folder)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in (label or target.name))
    final = folder / f"tljh-backup-{safe}-{stamp}.tar.gz"
    partial = folder / f".{final.name}.partial"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            sink = _HashingFile(handle)
            result = target.run(["tar", "-C", str(target.prefix), "-czf", "-", "--", *PARTS], sudo=True,
                                timeout=timeout, stdout_to=sink)
            if not result.ok:
                raise CommandFailed(result)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, final)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    digest = sink.digest.hexdigest()
    atomic_write(checksum_path(final), f"{digest}  {final.name}\n", mode=0o600)
    return Bundle(final, digest)


def verify(bundle: str | os.PathLike[str]) -> str:
    """Check a bundle against its .sha256 file; returns the digest or raises ``ValueError`` naming the problem."""
    path = Path(bundle)
    recorded_file = checksum_path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such bundle file")
    if not recorded_file.exists():
        raise ValueError(f"{recorded_file} is missing: cannot verify {path.name}")
    recorded = (recorded_file.read_text(errors="replace").split() or [""])[0]
    if not re.fullmatch(r"[0-9a-f]{64}", recorded):
        raise ValueError(f"{recorded_file} holds no sha256 digest: cannot verify {path.name}")
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    if digest.hexdigest() != recorded:
        raise ValueError(f"{path.name} does not match its sha256 (recorded {recorded}, actual "
                         f"{digest.hexdigest()}): the bundle is damaged")
    return recorded


def restore(target: HubTarget, bundle: str | os.PathLike[str], timeout: float = 600.0) -> None:
    """Put a verified bundle's config/ and state/ back on the hub (one round trip). The hub checks the size and
    sha256 of what it received before anything is unpacked or swapped (``TransferIncomplete`` otherwise)."""
    from wizard.hub.target import INCOMPLETE_STATUS, TransferIncomplete

    digest = verify(bundle)
    size = os.path.getsize(bundle)
    with open(bundle, "rb") as handle:
        result = target.run(["sh", "-c", _RESTORE_SCRIPT, "restore-backup", str(target.prefix), str(size), digest],
                            stdin=handle, sudo=True, timeout=timeout)
    if result.exit_status == INCOMPLETE_STATUS and b"tljh-wizard-short: " in result.stderr:
        received = result.stderr.split(b"tljh-wizard-short: ", 1)[1].split()[0]
        raise TransferIncomplete(str(bundle), int(received), size)
    result.check()
