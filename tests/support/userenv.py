"""The drift the environment tests make in a sample user environment (``wizard.environment.sample``), and what a diff
must say about it."""

from pathlib import Path

from wizard.environment import sample

# conda adds xarray, removes tornado, upgrades numpy; pip upgrades jupyterlab, adds ipywidgets, removes nbgitpuller
EXPECTED_DRIFT = [
    "~ numpy 2.1.2=py311h71ddf71_0 -> 2.1.3=py311h71ddf71_0 (conda)",
    "- tornado 6.4.1=py311h9ecbd09_1 (conda)",
    "+ xarray 2024.9.0=pyhd8ed1ab_1 (conda)",
    "+ ipywidgets 8.1.5 (pip)",
    "~ jupyterlab 4.2.5 -> 4.3.0 (pip)",
    "- nbgitpuller 1.2.1 (pip)",
]


def conda_drift(user: Path, history: list[str]) -> None:
    """conda's part of the drift: xarray added, tornado removed, numpy upgraded, and the revision in conda-meta/history
    (``history``: its +/- lines)."""
    sample.write_record(user, sample.conda_record("xarray", "2024.9.0", "pyhd8ed1ab_1", 1, python_package=True))
    sample.remove_record(user, "tornado")
    sample.remove_record(user, "numpy")
    sample.write_record(user, sample.conda_record("numpy", "2.1.3", "py311h71ddf71_0", 0, python_package=True))
    sample.append_history(user, "2024-11-02 08:30:00", "conda install xarray numpy=2.1.3", history)


def drift_with_pip(prefix: Path) -> None:
    """On the hub: conda adds xarray, removes tornado, upgrades numpy; pip upgrades jupyterlab, adds ipywidgets and
    removes nbgitpuller (the real pip, from the local wheels)."""
    import os
    import subprocess

    user = prefix / "user"
    conda_drift(user, ["+xarray", "+numpy"])
    pip = [str(user / "bin/python"), "-m", "pip", "--quiet"]
    clean = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}  # only pip.conf counts
    subprocess.run([*pip, "install", "jupyterlab==4.3.0", "ipywidgets==8.1.5"], check=True, env=clean)
    subprocess.run([*pip, "uninstall", "--yes", "nbgitpuller"], check=True, env=clean)
