"""What is installed in the hub's user environment, read in one remote command.

The command streams, as one gzipped tar, every ``conda-meta/*.json`` record, ``conda-meta/history``, and the
``*.dist-info`` / ``*.egg-info`` entries of ``site-packages`` (with their ``INSTALLER`` and ``direct_url.json``);
everything else is worked out here. It runs only ``find``, ``tar`` and ``gzip``, so it costs one round trip whatever
the number of packages, and it still works when conda (or the environment's Python) is broken.
"""

from __future__ import annotations

import io
import json
import re
import zlib
from dataclasses import Field, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Iterable, Mapping, Self
from urllib.parse import urlsplit, urlunsplit

from wizard.diagnosis import Diagnosis, Status

if TYPE_CHECKING:
    from wizard.hub.target import HubTarget


STREAM_HEADER = b"tljh-wizard-env 1 "
# conda's platform names for ``uname -m``, used when no record names a platform-specific subdir.
_PLATFORMS = {"x86_64": "linux-64", "aarch64": "linux-aarch64", "arm64": "linux-aarch64", "ppc64le": "linux-ppc64le",
              "s390x": "linux-s390x", "i686": "linux-32"}
_SITE = re.compile(r"^lib/python(\d+\.\d+)/site-packages/([^/]+)(?:/(.+))?$")
_REVISION = re.compile(r"^==>\s*(.*?)\s*<==\s*$")
_HEX = re.compile(r"^[0-9a-f]+$")
_CONDA_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")
_PIP_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
_TOKEN = re.compile(r"^[A-Za-z0-9_.+!*][A-Za-z0-9_.+!*-]*$")  # a version or build string


# $1: the TLJH prefix; $2: a directory to create root-only first ("" for none: a freeze passes its snapshot dir,
# so the write that follows needs no extra round trip). Paths in the stream are relative to the prefix.
_GATHER_SCRIPT = r"""set -u
cd -- "$1" || exit 3
if [ -n "${2:-}" ]; then (umask 077 && mkdir -p -- "$2" && chmod 700 -- "$2") || exit 4; fi
printf 'tljh-wizard-env 1 %s\n' "$(uname -m)"
{
  find user/conda-meta -maxdepth 1 -type f \( -name '*.json' -o -name history \) -print0
  find user/lib/python*/site-packages -mindepth 1 -maxdepth 2 \( -name '*.dist-info' -o -name '*.egg-info' \
    -o -path '*.dist-info/INSTALLER' -o -path '*.dist-info/direct_url.json' \) -print0
  find hub/lib/python*/site-packages -mindepth 1 -maxdepth 1 -name 'the_littlest_jupyterhub-*' -print0
} 2>/dev/null | tar --null --no-recursion -T - -cf - | gzip -1
"""


def gather_argv(prefix: str, ensure_dir: str = "") -> list[str]:
    """The one command, run on the hub as root, that streams the environment's metadata (header line + tar.gz)."""
    return ["sh", "-c", _GATHER_SCRIPT, "tljh-wizard-env", str(prefix), ensure_dir]


def gather(target: HubTarget, ensure_dir: str = "") -> "Environment":
    """The hub's user environment, in one round trip through ``target`` (a ``wizard.hub.target.HubTarget``).

    A stream that ends before gzip's end marker is an error (``StreamTruncated``), never a shorter environment.
    """
    result = target.run(gather_argv(str(target.prefix), ensure_dir), sudo=True, timeout=300)
    if result.exit_status == 3:
        raise StreamError(f"{target.prefix} does not exist on the hub: is TLJH installed there?")
    if result.exit_status == 4:
        raise StreamError(f"cannot create {ensure_dir} on the hub: "
                          + result.stderr.decode("utf-8", "replace").strip()[-200:])
    try:
        return environment_from_stream(str(target.prefix), result.stdout)
    except StreamTruncated:
        raise  # kept as is: the hub's stderr says nothing about a stream cut short on the way
    except StreamError as exc:
        detail = result.stderr.decode("utf-8", "replace").strip()[-200:]
        raise StreamError(f"{exc}{': ' + detail if detail else ''}") from None


def canonical_name(name: str) -> str:
    """PEP 503 normalised project name: ``Jupyter_Server`` -> ``jupyter-server``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def strip_credentials(url: str) -> str:
    """``url`` without user:password, conda tokens (``/t/TOKEN/``), query or fragment."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    path = re.sub(r"^/t/[^/]+(?=/)", "", parts.path)
    return urlunsplit((parts.scheme, netloc, path, "", ""))


class _Record:
    """A package record in a snapshot's JSON: its fields, empty ones left out; unknown keys ignored when read."""

    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]  # every record is a dataclass

    def to_json(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if value not in ("", None)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})


@dataclass(frozen=True)
class CondaPackage(_Record):
    name: str
    version: str
    build: str
    build_number: int = 0
    channel: str = ""
    subdir: str = ""
    fn: str = ""
    url: str = ""
    md5: str = ""
    sha256: str = ""

    @property
    def spec(self) -> str:
        return f"{self.name}={self.version}={self.build}"

    @property
    def download_url(self) -> str:
        """The package's URL ('' when the record names neither url nor channel+fn); credentials were stripped when
        the record was read."""
        if self.url:
            return self.url
        if self.channel and self.fn and "://" in self.channel:
            channel = self.channel.rstrip("/")
            return f"{channel}/{self.fn}" if channel.endswith("/" + self.subdir) else f"{channel}/{self.subdir}/{self.fn}"
        return ""

    @property
    def lock_line(self) -> str:
        """``URL#sha256`` (``#md5`` when the record has no sha256); '' when the package cannot be locked."""
        url = self.download_url
        digest = self.sha256 or self.md5
        return f"{url}#{digest}" if url and digest else ""


@dataclass(frozen=True)
class PipPackage(_Record):
    name: str
    version: str
    installer: str = ""
    direct_url: str = ""  # where it was installed from, when not an index (credentials stripped)

    @property
    def key(self) -> str:
        return canonical_name(self.name)

    @property
    def pin(self) -> str:
        return f"{self.name}=={self.version}"

    @property
    def requirement(self) -> str:
        """What reinstalls it: the direct URL it came from when that is reachable from elsewhere, else the pin."""
        if self.direct_url.startswith(("https://", "http://", "git+")):
            return f"{self.name} @ {self.direct_url}"
        return self.pin


@dataclass(frozen=True)
class Revision:
    number: int
    date: str
    command: str = ""


@dataclass
class Environment:
    """The user environment as found on the hub. ``problems`` lists what could not be read (never fatal)."""

    prefix: str
    platform: str
    python: str | None
    conda: dict[str, CondaPackage]
    pip: dict[str, PipPackage]
    revisions: list[Revision]
    tljh_version: str | None = None
    problems: list[Diagnosis] = field(default_factory=list)

    @property
    def revision(self) -> int | None:
        return self.revisions[-1].number if self.revisions else None

    def summary_lines(self) -> list[str]:
        lines = [
            f"environment {self.prefix}/user ({self.platform})",
            f"python {self.python or 'not found'}",
            f"{len(self.conda)} conda packages, {len(self.pip)} pip-only packages",
            f"conda revision {self.revision if self.revision is not None else 'unknown (no history)'}",
        ]
        lines += [f"problem: {problem.summary}" for problem in self.problems]
        return lines


class StreamError(Exception):
    """The hub's answer is not an environment stream (the command failed or the prefix is wrong)."""


class StreamTruncated(StreamError):
    """The stream stopped before its end."""


def gunzip_complete(data: bytes, what: str) -> bytes:
    """Decompress a whole gzip stream; ``StreamTruncated`` if it stops before its end marker."""
    decompressor = zlib.decompressobj(wbits=31)
    try:
        raw = decompressor.decompress(data)
    except zlib.error as exc:
        raise StreamError(f"{what} is corrupt ({exc})") from None
    if not decompressor.eof:
        raise StreamTruncated(f"{what} is truncated (the stream ended early)")
    return raw


def read_stream(data: bytes) -> tuple[str, dict[str, bytes | None]]:
    """Split the remote command's output into ``uname -m`` and {path: content, or None for a directory}."""
    header, newline, body = data.partition(b"\n")
    if not newline or not header.startswith(STREAM_HEADER):
        raise StreamError("the hub did not answer with an environment listing (is the TLJH prefix right?)")
    machine = header[len(STREAM_HEADER):].decode("ascii", "replace").strip()
    tar = gunzip_complete(body, "the environment listing from the hub")
    try:
        return machine, read_tar(tar)
    except _UnexpectedTar:
        return machine, _read_tar_with_tarfile(tar)


class _UnexpectedTar(Exception):
    """Something ``read_tar`` does not handle: ``tarfile`` reads that archive instead."""


def read_tar(raw: bytes) -> dict[str, bytes | None]:
    """{path: content, or None for a directory} of an uncompressed tar as GNU tar writes it.

    Thousands of tiny members are read several times faster than with ``tarfile`` (this was most of a freeze's
    local work). Headers are checksummed; anything but regular files, directories and GNU long names (a pax header,
    a link, a sparse file) raises ``_UnexpectedTar``.
    """
    entries: dict[str, bytes | None] = {}
    offset, long_name, end = 0, None, len(raw)
    while offset + 512 <= end:
        header = raw[offset:offset + 512]
        if header.count(0) == 512:
            return entries
        stored = header[148:156].split(b"\0", 1)[0].strip()
        if not stored or int(stored, 8) != sum(header[:148]) + 256 + sum(header[156:]):
            raise _UnexpectedTar("bad header checksum")
        size_field = header[124:136]
        if size_field[0] & 0x80:
            raise _UnexpectedTar("base-256 size")
        size = int(size_field.split(b"\0", 1)[0].strip() or b"0", 8)
        start = offset + 512
        offset = start + (size + 511) // 512 * 512
        if offset > end:
            raise StreamError("the environment listing from the hub is corrupt (a member runs past the end)")
        kind = header[156:157]
        if kind == b"L":
            long_name = raw[start:start + size].split(b"\0", 1)[0]
            continue
        name = long_name or header[:100].split(b"\0", 1)[0]
        if header[257:263] == b"ustar\x00" and not long_name:  # POSIX ustar: the name may continue in "prefix"
            prefix = header[345:500].split(b"\0", 1)[0]
            name = prefix + b"/" + name if prefix else name
        long_name = None
        path = name.decode("utf-8", "surrogateescape").rstrip("/")
        if kind in (b"0", b"\0"):
            entries[path] = raw[start:start + size]
        elif kind == b"5":
            entries[path] = None
        else:
            raise _UnexpectedTar(f"member type {kind!r}")
    raise StreamError("the environment listing from the hub is corrupt (no end-of-archive marker)")


def _read_tar_with_tarfile(raw: bytes) -> dict[str, bytes | None]:
    import tarfile

    entries: dict[str, bytes | None] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as archive:
            for member in archive:
                if member.isdir():
                    entries[member.name] = None
                elif member.isfile():
                    handle = archive.extractfile(member)
                    entries[member.name] = handle.read() if handle else b""
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise StreamError(f"the environment listing from the hub is corrupt ({exc})") from None
    return entries


def parse_record(name: str, content: bytes) -> tuple[CondaPackage | None, list[str], Diagnosis | None]:
    """One ``conda-meta`` record: the package, the files it owns, or a problem naming the file."""
    def problem(why: str) -> Diagnosis:
        return Diagnosis("environment.record", Status.WARNING, f"conda-meta/{name}: {why}; package left out",
                         fix="reinstall that package (conda install --force-reinstall NAME) or remove the record",
                         data={"file": name})

    try:
        record = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return None, [], problem(f"not valid JSON ({str(exc)[:80]})")
    if not isinstance(record, dict):
        return None, [], problem("not a JSON object")
    missing = [key for key in ("name", "version", "build") if not isinstance(record.get(key), str) or not record[key]]
    if missing:
        return None, [], problem(f"missing {', '.join(missing)}")
    # These reach conda's and pip's command lines in restore plans: nothing that could read as an option.
    if not (_CONDA_NAME.match(record["name"]) and _TOKEN.match(record["version"]) and _TOKEN.match(record["build"])):
        return None, [], problem("name, version or build has characters conda never writes")

    def text(key: str) -> str:
        value = record.get(key)
        return value if isinstance(value, str) else ""

    digests = {key: text(key).lower() for key in ("md5", "sha256")}
    digests = {key: value if _HEX.match(value) else "" for key, value in digests.items()}
    build_number = record.get("build_number")
    package = CondaPackage(
        name=record["name"], version=record["version"], build=record["build"],
        build_number=build_number if isinstance(build_number, int) and not isinstance(build_number, bool) else 0,
        channel=_without_credentials(text("channel")), subdir=text("subdir"), fn=text("fn"),
        url=_without_credentials(text("url")),
        md5=digests["md5"], sha256=digests["sha256"],
    )
    files = record.get("files")
    owned = [path for path in files if isinstance(path, str)] if isinstance(files, list) else []
    return package, owned, None


def parse_history(text: str) -> list[Revision]:
    """conda's revisions: each ``==> DATE <==`` header starts one, numbered from 0."""
    revisions: list[Revision] = []
    for line in text.splitlines():
        match = _REVISION.match(line)
        if match:
            revisions.append(Revision(len(revisions), match.group(1)))
        elif line.startswith("# cmd:") and revisions and not revisions[-1].command:
            last = revisions[-1]
            revisions[-1] = Revision(last.number, last.date, line[len("# cmd:"):].strip())
    return revisions


def _dist_name_version(entry: str) -> tuple[str, str] | None:
    """``jupyter_server-2.14.2.dist-info`` -> (jupyter_server, 2.14.2); egg-info drops its ``-pyX.Y`` tag."""
    stem = re.sub(r"\.(dist|egg)-info$", "", entry)
    stem = re.sub(r"-py\d+(\.\d+)?$", "", stem)
    name, dash, version = stem.rpartition("-")
    return (name, version) if dash and name and version else None


def build_environment(prefix: str, machine: str, entries: dict[str, bytes | None]) -> Environment:  # noqa: C901
    """The environment described by the streamed entries (paths relative to the TLJH prefix)."""
    problems: list[Diagnosis] = []
    conda: dict[str, CondaPackage] = {}
    conda_owned_dirs: set[str] = set()
    history = None
    tljh_version = None
    site: dict[str, dict[str, dict[str, bytes | None]]] = {}  # python X.Y -> dist dir -> {file: content}

    for path in sorted(entries):
        content = entries[path]
        if path.startswith("user/conda-meta/"):
            name = path[len("user/conda-meta/"):]
            if name == "history":
                history = (content or b"").decode("utf-8", "replace")
                continue
            package, owned, problem = parse_record(name, content or b"")
            if problem:
                problems.append(problem)
                continue
            assert package is not None
            if package.name in conda:
                problems.append(Diagnosis(
                    "environment.record", Status.WARNING,
                    f"two records for {package.name} ({conda[package.name].spec} and {package.spec}): conda-meta "
                    "is inconsistent", fix=f"reinstall {package.name} with conda install --force-reinstall",
                ))
            conda[package.name] = package
            for owned_path in owned:
                match = _SITE.match(owned_path) if "-info" in owned_path else None
                if match and match.group(2).endswith((".dist-info", ".egg-info")):
                    conda_owned_dirs.add(f"{match.group(1)}/{match.group(2)}")
        elif path.startswith("user/"):
            match = _SITE.match(path[len("user/"):])
            if match and match.group(2).endswith((".dist-info", ".egg-info")):
                files = site.setdefault(match.group(1), {}).setdefault(match.group(2), {})
                if match.group(3):
                    files[match.group(3)] = content
        elif path.startswith("hub/"):
            parsed = _dist_name_version(path.rsplit("/", 1)[-1])
            if parsed:
                tljh_version = parsed[1]

    if not conda:
        problems.append(Diagnosis(
            "environment.conda-meta", Status.ERROR if not entries else Status.WARNING,
            f"no readable conda records under {prefix}/user/conda-meta",
            fix="check the TLJH prefix; a TLJH user environment is a conda prefix",
        ))
    python = conda["python"].version if "python" in conda else None
    versions = sorted(site)
    if python:
        wanted = ".".join(python.split(".")[:2])
        versions = [v for v in versions if v == wanted] or versions
    elif versions:
        python = versions[-1]

    pip: dict[str, PipPackage] = {}
    for version in versions:
        for entry, files in sorted(site[version].items()):
            if f"{version}/{entry}" in conda_owned_dirs:
                continue
            installer = (files.get("INSTALLER") or b"").decode("utf-8", "replace").strip()
            if installer == "conda":
                continue
            parsed = _dist_name_version(entry)
            if not parsed or not _PIP_NAME.match(parsed[0]) or not _TOKEN.match(parsed[1]):
                problems.append(Diagnosis("environment.pip", Status.WARNING,
                                          f"site-packages/{entry}: cannot tell its name and version; left out"))
                continue
            pip_package = PipPackage(parsed[0], parsed[1], installer, _direct_url(files.get("direct_url.json")))
            pip[pip_package.key] = pip_package

    revisions = parse_history(history) if history is not None else []
    if history is None and conda:
        problems.append(Diagnosis("environment.history", Status.WARNING,
                                  "conda-meta/history is missing: conda revisions cannot be used to restore",
                                  fix="snapshots still restore by explicit reinstall"))
    return Environment(prefix.rstrip("/"), _platform(conda.values(), machine), python, conda, pip, revisions,
                       tljh_version, problems)


def _without_credentials(url: str) -> str:
    """A record's URL as the snapshot keeps it: never with a password or token (they would reach local files)."""
    return strip_credentials(url) if "://" in url else url


def _direct_url(content: bytes | None) -> str:
    if not content:
        return ""
    try:
        data = json.loads(content.decode("utf-8"))
        url = data.get("url", "") if isinstance(data, dict) else ""
    except (UnicodeDecodeError, ValueError):
        return ""
    return strip_credentials(url) if isinstance(url, str) and url else ""


def _platform(packages: Iterable[CondaPackage], machine: str) -> str:
    counts: dict[str, int] = {}
    for package in packages:
        if package.subdir and package.subdir != "noarch":
            counts[package.subdir] = counts.get(package.subdir, 0) + 1
    if counts:
        return max(counts, key=lambda subdir: counts[subdir])
    return _PLATFORMS.get(machine, f"linux-{machine}" if machine else "unknown")


def environment_from_stream(prefix: str, data: bytes) -> Environment:
    machine, entries = read_stream(data)
    return build_environment(prefix, machine, entries)
