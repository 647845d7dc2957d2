"""A realistic user environment built on this machine, for the demo sandbox, the tests and the freeze benchmark.

It is what Miniforge + pip leave in ``PREFIX/user``: a real Python virtual environment (``python -m venv``), one
``conda-meta`` record per conda package with the fields conda writes (name, version, build, build_number, channel,
subdir, fn, url, md5, sha256, size, depends, files, paths_data, link, requested_spec, ...), ``conda-meta/history``,
``*.dist-info`` directories for the conda-installed Python packages (``INSTALLER`` = conda), and pip-only packages
installed by the real pip from wheels built here (no index, no network).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import platform
import random
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

# Not tied to any real channel: a mirror under a reserved example domain (as in the sandbox).
CHANNEL = "https://mirror.example.org/conda-forge"
SUBDIR = "linux-64"
PYTHON_VERSION = platform.python_version()
PYTHON_XY = ".".join(PYTHON_VERSION.split(".")[:2])

# The start of a Miniforge user environment: (name, version, build, build_number, is a Python package).
BASE_PACKAGES = [
    ("python", PYTHON_VERSION, "hab00c5b_0_cpython", 0, False),
    ("pip", "24.2", "pyh8b19718_1", 1, True),
    ("setuptools", "75.1.0", "pyhd8ed1ab_0", 0, True),
    ("wheel", "0.44.0", "pyhd8ed1ab_0", 0, True),
    ("conda", "24.9.2", "py311h38be061_0", 0, True),
    ("openssl", "3.3.2", "hb9d3cd8_0", 0, False),
    ("ca-certificates", "2024.8.30", "hbcca054_0", 0, False),
    ("libffi", "3.4.2", "h7f98852_5", 5, False),
    ("libzlib", "1.3.1", "h4ab18f5_1", 1, False),
    ("ncurses", "6.5", "he02047a_1", 1, False),
    ("readline", "8.2", "h8228510_1", 1, False),
    ("sqlite", "3.46.1", "h9eae976_0", 0, False),
    ("tk", "8.6.13", "noxft_h4845f30_101", 101, False),
    ("xz", "5.2.6", "h166bdaf_0", 0, False),
    ("numpy", "2.1.2", "py311h71ddf71_0", 0, True),
    ("pandas", "2.2.3", "py311h7db5c69_1", 1, True),
    ("matplotlib-base", "3.9.2", "py311h2b939e6_1", 1, True),
    ("scipy", "1.14.1", "py311he1f765f_0", 0, True),
    ("requests", "2.32.3", "pyhd8ed1ab_0", 0, True),
    ("tornado", "6.4.1", "py311h9ecbd09_1", 1, True),
]
# What pip alone installed (TLJH installs JupyterHub's single-user parts with pip).
PIP_ONLY = [("jupyterlab", "4.2.5"), ("nbgitpuller", "1.2.1"), ("jupyter_resource_usage", "1.1.0")]


def python_dist_dir(name: str, version: str) -> str:
    return f"lib/python{PYTHON_XY}/site-packages/{name.replace('-', '_')}-{version}.dist-info"


def conda_record(name: str, version: str, build: str, build_number: int = 0, python_package: bool = False,
                 files: list[str] | None = None, channel: str = CHANNEL, url: str | None = None,
                 with_sha256: bool = True) -> dict[str, Any]:
    """A ``conda-meta`` record as conda writes it after linking a package."""
    noarch = build.startswith("pyh")
    subdir = "noarch" if noarch else SUBDIR
    fn = f"{name}-{version}-{build}.conda"
    seed = f"{name}-{version}-{build}".encode()
    if files is None:
        count = 3 + int(hashlib.md5(seed).hexdigest()[:2], 16) % 40
        if python_package:
            module = name.replace("-", "_")
            dist = python_dist_dir(name, version)
            files = [f"{dist}/{leaf}" for leaf in ("INSTALLER", "METADATA", "RECORD", "REQUESTED", "WHEEL")]
            files += [f"lib/python{PYTHON_XY}/site-packages/{module}/mod{i:03d}.py" for i in range(count)]
        else:
            files = [f"lib/lib{name}.so.{i}" for i in range(count // 4 + 1)] + [
                f"include/{name}/h{i:03d}.h" for i in range(count)]
    record = {
        "arch": None if noarch else "x86_64",
        "build": build,
        "build_number": build_number,
        "channel": f"{channel}/{subdir}",
        "constrains": [],
        "depends": [] if name == "python" else [f"python >={PYTHON_XY},<{PYTHON_XY}.0a0"] if python_package else
        ["libgcc >=13", "__glibc >=2.17,<3.0.a0"],
        "extracted_package_dir": f"/opt/tljh/user/pkgs/{fn[:-6]}",
        "features": "",
        "files": files,
        "fn": fn,
        "license": "BSD-3-Clause",
        "link": {"source": f"/opt/tljh/user/pkgs/{fn[:-6]}", "type": 1},
        "md5": hashlib.md5(seed).hexdigest(),
        "name": name,
        "package_tarball_full_path": f"/opt/tljh/user/pkgs/{fn}",
        "paths_data": {"paths": [{"_path": path, "path_type": "hardlink",
                                  "sha256": hashlib.sha256(path.encode()).hexdigest(), "size_in_bytes": 1024}
                                 for path in files], "paths_version": 1},
        "platform": None if noarch else "linux",
        "requested_spec": "",
        "size": 10000 + int(hashlib.md5(seed).hexdigest()[:5], 16),
        "subdir": subdir,
        "timestamp": 1727000000000,
        "track_features": "",
        "url": url if url is not None else f"{channel}/{subdir}/{fn}",
        "version": version,
    }
    if noarch:
        record["noarch"] = "python"
    if with_sha256:
        record["sha256"] = hashlib.sha256(seed).hexdigest()
    return record


def generated_packages(count: int) -> list[tuple[str, str, str, int, bool]]:
    """``count`` packages: the base set first, then library and Python packages with made-up names."""
    packages = list(BASE_PACKAGES[:count])
    rng = random.Random(count)
    index = 0
    while len(packages) < count:
        index += 1
        python_package = index % 3 == 0
        name = f"py-sample{index:04d}" if python_package else f"libsample{index:04d}"
        version = f"{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}"
        build = f"pyhd8ed1ab_{index % 3}" if python_package else f"h{rng.getrandbits(28):07x}_{index % 4}"
        packages.append((name, version, build, index % 4 if not python_package else index % 3, python_package))
    return packages


def write_record(user: Path, record: dict[str, Any]) -> Path:
    path = user / "conda-meta" / f"{record['name']}-{record['version']}-{record['build']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, sort_keys=True))
    for dist in {f.rsplit("/", 1)[0] for f in record["files"] if ".dist-info/" in f}:
        (user / dist).mkdir(parents=True, exist_ok=True)
        (user / dist / "INSTALLER").write_text("conda\n")
        if not (user / dist / "METADATA").exists():
            (user / dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {record['name']}\n"
                                                  f"Version: {record['version']}\n")
    return path


def remove_record(user: Path, name: str) -> None:
    """Remove a conda package's record and its dist-info, as ``conda remove`` leaves things."""
    for path in (user / "conda-meta").glob(f"{name}-*.json"):
        record = json.loads(path.read_text())
        if record.get("name") != name:
            continue
        for dist in {f.rsplit("/", 1)[0] for f in record.get("files", []) if ".dist-info/" in f}:
            for leaf in sorted((user / dist).glob("*")):
                leaf.unlink()
            if (user / dist).is_dir():
                (user / dist).rmdir()
        path.unlink()


def append_history(user: Path, date: str, command: str, lines: list[str]) -> None:
    with open(user / "conda-meta" / "history", "a") as history:
        history.write(f"==> {date} <==\n# cmd: {command}\n# conda version: 24.9.2\n")
        history.write("".join(line + "\n" for line in lines))


def build_wheel(directory: Path, name: str, version: str) -> Path:
    """A minimal pure-Python wheel (one module), built here so pip can install it without any index."""
    dist = f"{name.replace('-', '_')}-{version}"
    path = directory / f"{dist}-py3-none-any.whl"
    files = {
        f"{name.replace('-', '_')}_sample/__init__.py": f"__version__ = {version!r}\n",
        f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: tljh-wizard sample\nRoot-Is-Purelib: true\n"
                                   "Tag: py3-none-any\n",
    }
    record = []
    for arcname, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{arcname},sha256={digest},{len(text.encode())}")
    record.append(f"{dist}.dist-info/RECORD,,")
    files[f"{dist}.dist-info/RECORD"] = "\n".join(record) + "\n"
    directory.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for arcname, text in files.items():
            archive.writestr(arcname, text)
    return path


def pip_install(user: Path, wheels: list[Path]) -> None:
    """Install local wheels into the environment with the real pip (this interpreter's), never touching an index."""
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(user / "bin" / "python"), "install", "--quiet", "--no-index",
         "--no-deps", "--no-compile", "--disable-pip-version-check", *map(str, wheels)],
        check=True, capture_output=True, env={**os.environ, "PIP_NO_INPUT": "1"},
    )


def bundled_pip_wheel() -> Path:
    """The pip wheel shipped with this Python (``ensurepip``): a working pip without any index."""
    from importlib.resources import files

    bundled = files("ensurepip") / "_bundled"
    return Path(str(next(entry for entry in bundled.iterdir() if entry.name.startswith("pip-"))))


def offline_pip_config(user: Path, wheel_dir: Path) -> None:
    """Point the environment's pip at local wheels only (``PREFIX/user/pip.conf``, pip's site configuration)."""
    (user / "pip.conf").write_text(f"[global]\nno-index = true\nfind-links = {wheel_dir}\n"
                                   "disable-pip-version-check = true\n")


def _installed_dist(user: Path, name: str) -> tuple[str, list[str]] | None:
    """(version, files) of a distribution the venv installed itself, read from its RECORD."""
    for dist in user.glob(f"lib/python{PYTHON_XY}/site-packages/{name}-*.dist-info"):
        version = dist.name[len(name) + 1:-len(".dist-info")]
        site = dist.parent.relative_to(user)
        files = [f"{site}/{line.split(',', 1)[0]}" for line in (dist / "RECORD").read_text().splitlines() if line]
        return version, [f for f in files if not f.startswith(f"{site}/../")]
    return None


def create_user_environment(user: Path, conda_count: int = len(BASE_PACKAGES),
                            pip_packages: list[tuple[str, str]] | None = None, wheel_dir: Path | None = None,
                            with_pip: bool = False) -> Path:
    """Build ``user`` (a TLJH ``PREFIX/user``): a venv, ``conda_count`` conda records, and pip-only packages.

    ``with_pip``: the venv gets a working pip, recorded as a conda package as Miniforge has it.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(user)], check=True, capture_output=True)
    if with_pip:
        pip_install(user, [bundled_pip_wheel()])
    history = []
    for name, version, build, number, python_package in generated_packages(conda_count):
        installed = _installed_dist(user, name) if with_pip and name == "pip" else None
        if installed:
            record = conda_record(name, installed[0], build, number, python_package, files=installed[1])
        else:
            record = conda_record(name, version, build, number, python_package)
        if name in ("python", "pip", "conda"):
            record["requested_spec"] = name
        write_record(user, record)
        history.append(f"+conda-forge/{record['subdir']}::{name}-{record['version']}-{build}")
    append_history(user, "2024-10-21 12:00:00", f"{user}/bin/conda install --yes python pip conda", history)
    pip_packages = PIP_ONLY if pip_packages is None else pip_packages
    wheels_at = wheel_dir or user.parent / ".sample-wheels"
    if pip_packages:
        pip_install(user, [build_wheel(wheels_at, name, version) for name, version in pip_packages])
    if with_pip:
        offline_pip_config(user, wheels_at)
    return user


def conda_log(prefix: Path) -> list[list[str]]:
    """The commands the conda stand-in recorded, oldest first."""
    log = prefix / "hub" / "standin" / "conda.log"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def install_conda_standin(user: Path) -> Path:
    """``PREFIX/user/bin/conda`` as a stand-in: no channel is reachable here, so it records each command (argv as
    one JSON line in ``PREFIX/hub/standin/conda.log``) and reports success without changing the environment."""
    script = user / "bin" / "conda"
    script.write_text(
        "#!/bin/sh\n"
        "# Stand-in for conda (wizard/environment/sample.py): records the command, changes nothing.\n"
        'log="$(cd "$(dirname "$0")/../.." && pwd)/hub/standin/conda.log"\n'
        'mkdir -p "$(dirname "$log")"\n'
        f"exec {shlex.quote(sys.executable)} -c 'import json, sys; open(sys.argv[1], \"a\").write(json.dumps(sys.argv[2:]) + "
        "\"\\n\"); print(\"conda stand-in: recorded conda\", *sys.argv[2:])' \"$log\" \"$@\"\n"
    )
    script.chmod(0o755)
    return script


def clone(user: Path, destination: Path) -> Path:
    """A cheap copy of a sample environment: files hard-linked, except ``conda-meta/`` and ``bin/``, which are
    edited in place (history appended, scripts rewritten); everything else is only ever replaced or removed."""
    import shutil

    shutil.copytree(user, destination, symlinks=True, copy_function=os.link,
                    ignore=lambda directory, names: [n for n in names if Path(directory) == user
                                                     and n in ("conda-meta", "bin")])
    for part in ("conda-meta", "bin"):
        shutil.copytree(user / part, destination / part, symlinks=True)
    return destination
