"""Local files written safely: atomically (temp, fsync, rename) and private (0600 files, 0700 directories)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def private_dir(path: str | os.PathLike[str], tighten: bool = True) -> Path:
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


def atomic_write(path: str | os.PathLike[str], data: bytes | str, mode: int = 0o600) -> Path:
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


MAX_INPUT_BYTES = 1 << 20  # answers, secrets, config.yaml and certificate files are a few KB; 1 MiB is generous
MAX_KEY_BYTES = 64 << 10  # an SSH private key (RSA 16384 in OpenSSH format is ~13 KB)


class InputFileError(ValueError):
    """A file given to the wizard that it will not read: missing, not a regular file, or too large. ``str()`` is
    one line naming the file."""


def read_small(path: str | os.PathLike[str], limit: int = MAX_INPUT_BYTES, what: str = "file") -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes. Devices (``/dev/zero``), FIFOs (opened without
    blocking), directories and larger files are refused before anything big is read: ``InputFileError``."""
    import stat

    shown = str(path)
    try:
        fd = os.open(Path(path).expanduser(), os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise InputFileError(f"{shown}: no such {what}") from None
    except OSError as exc:
        raise InputFileError(f"{shown}: cannot read the {what} ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = ("a directory" if stat.S_ISDIR(info.st_mode) else "a device" if stat.S_ISCHR(info.st_mode)
                    or stat.S_ISBLK(info.st_mode) else "a pipe" if stat.S_ISFIFO(info.st_mode) else "not a file")
            raise InputFileError(f"{shown}: is {kind}, not a regular {what}")
        if info.st_size > limit:
            raise InputFileError(f"{shown}: {info.st_size} bytes, more than the {limit // 1024} KB a {what} may have")
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(65536, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:  # grew while being read
                raise InputFileError(f"{shown}: more than the {limit // 1024} KB a {what} may have")
        return b"".join(chunks)
    except OSError as exc:
        raise InputFileError(f"{shown}: cannot read the {what} ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
