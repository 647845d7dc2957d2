"""Local files written safely: atomically (temp, fsync, rename) and private (0600 files, 0700 directories)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def private_dir(path: str | os.PathLike, tighten: bool = True) -> Path:
    """Create ``path`` (and parents) as 0700; ``tighten`` also makes an existing one 0700.

    Pass ``tighten=False`` for a folder the operator may have chosen (the state root): it may be shared, and its
    mode is theirs; what the wizard creates inside it is private anyway.
    """
    directory = Path(path)
    existed = directory.is_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    if tighten or not existed:
        os.chmod(directory, 0o700)
    return directory


def atomic_write(path: str | os.PathLike, data: bytes | str, mode: int = 0o600) -> Path:
    """Write ``data`` to ``path`` so a reader sees either the old or the new file, never a partial one.

    The temp file is created with ``mode`` from the start (no window where a secret is world-readable), fsynced,
    renamed over the target, and the directory is fsynced so the rename survives a crash.
    """
    target = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return target
