"""The environment engine on this machine: the gather command run for real (find/tar/gzip) over a sample user
environment (a real venv, realistic conda-meta records, pip-only packages installed by pip from local wheels)."""

import json
import shutil
import subprocess

import pytest

from tests.support.userenv import EXPECTED_DRIFT, conda_drift
from wizard.diagnosis import Status
from wizard.environment import sample
from wizard.environment.diff import PackageSet, diff, render
from wizard.environment.install import package_spec
from wizard.environment.restore import execute, plan_restore
from wizard.environment.snapshot import Snapshot, SnapshotError, freeze, load_local, save_local
from wizard.environment.summary import (
    StreamError,
    canonical_name,
    environment_from_stream,
    gather_argv,
    parse_history,
    strip_credentials,
)
from wizard.fields import ValidationError


@pytest.fixture(scope="session")
def pristine_prefix(tmp_path_factory):
    """A TLJH prefix with a sample user environment, built once (venv + pip take a few seconds)."""
    prefix = tmp_path_factory.mktemp("env") / "tljh"
    sample.create_user_environment(prefix / "user", wheel_dir=prefix.parent / "wheels")
    (prefix / "hub/lib/python3.12/site-packages/the_littlest_jupyterhub-2.0.0.dist-info").mkdir(parents=True)
    return prefix


@pytest.fixture
def prefix(pristine_prefix, tmp_path):
    copy = tmp_path / "tljh"
    shutil.copytree(pristine_prefix / "hub", copy / "hub")
    sample.clone(pristine_prefix / "user", copy / "user")
    return copy


def gather_here(prefix):
    done = subprocess.run(gather_argv(str(prefix)), capture_output=True, check=True)
    return environment_from_stream(str(prefix), done.stdout)


def record_of(prefix, name):
    path = next((prefix / "user/conda-meta").glob(f"{name}-*.json"))
    return json.loads(path.read_text())


def test_summary_finds_every_conda_record_and_only_pip_only_packages(prefix):
    environment = gather_here(prefix)
    assert sorted(environment.conda) == sorted(p[0] for p in sample.BASE_PACKAGES)
    # pip, setuptools, numpy ... have dist-info dirs too, but conda owns them: only what pip alone installed counts
    assert sorted(environment.pip) == ["jupyter-resource-usage", "jupyterlab", "nbgitpuller"]
    assert environment.pip["jupyterlab"].version == "4.2.5" and environment.pip["jupyterlab"].installer == "pip"
    assert environment.python == sample.PYTHON_VERSION
    assert environment.platform == "linux-64"
    assert environment.revision == 0
    assert environment.tljh_version == "2.0.0"
    assert environment.problems == []
    numpy = environment.conda["numpy"]
    assert (numpy.version, numpy.build, numpy.sha256) == ("2.1.2", "py311h71ddf71_0", record_of(prefix, "numpy")["sha256"])


def test_lock_lists_exactly_the_packages_with_their_hashes(prefix):
    snapshot = freeze(gather_here(prefix), "hub.example.edu", now=1764093600)
    lock = snapshot.explicit_lock().splitlines()
    assert "# platform: linux-64" in lock
    body = lock[lock.index("@EXPLICIT") + 1:]
    expected = sorted(f"{r['url']}#{r['sha256']}" for r in
                      (json.loads(p.read_text()) for p in (prefix / "user/conda-meta").glob("*.json")))
    assert sorted(body) == expected
    assert snapshot.requirements().splitlines()[1:] == [
        "jupyter_resource_usage==1.1.0", "jupyterlab==4.2.5", "nbgitpuller==1.2.1"]
    assert snapshot.id == "20251125T180000Z" and snapshot.host == "hub.example.edu"
    assert snapshot.conda_revision == 0 and snapshot.conda_revision_date == "2024-10-21 12:00:00"


def test_md5_when_sha256_is_missing_and_credentials_are_stripped(prefix):
    user = prefix / "user"
    sample.remove_record(user, "tk")
    sample.write_record(user, sample.conda_record("tk", "8.6.13", "noxft_h4845f30_101", 101, with_sha256=False))
    sample.remove_record(user, "xz")
    private = "https://builder:s3cret-pw@mirror.example.org/t/tk-2bd71e/private/linux-64/xz-5.2.6-h166bdaf_0.conda"
    sample.write_record(user, sample.conda_record("xz", "5.2.6", "h166bdaf_0", url=private))
    snapshot = freeze(gather_here(prefix), "hub")
    lock = snapshot.explicit_lock()
    assert b"s3cret-pw" not in snapshot.to_bytes() and b"tk-2bd71e" not in snapshot.to_bytes()
    tk = record_of(prefix, "tk")
    assert f"{tk['url']}#{tk['md5']}" in lock.splitlines()
    xz = record_of(prefix, "xz")
    assert f"https://mirror.example.org/private/linux-64/xz-5.2.6-h166bdaf_0.conda#{xz['sha256']}" in lock.splitlines()
    assert "s3cret-pw" not in lock and "tk-2bd71e" not in lock and "builder" not in lock


def test_strip_credentials():
    assert strip_credentials("https://u:p@h.example.org:8443/t/abc/ch/x.conda?x=1") == "https://h.example.org:8443/ch/x.conda"
    assert strip_credentials("https://h.example.org/ch/t/x.conda") == "https://h.example.org/ch/t/x.conda"


def test_corrupt_record_is_reported_not_fatal(prefix):
    meta = prefix / "user/conda-meta"
    (meta / "broken-1.0-0.json").write_text('{"name": "broken", "version": ')
    (meta / "nameless-1.0-0.json").write_text('{"version": "1.0", "build": "0"}')
    environment = gather_here(prefix)
    assert len(environment.conda) == len(sample.BASE_PACKAGES)
    summaries = sorted(problem.summary for problem in environment.problems)
    assert summaries[0].startswith("conda-meta/broken-1.0-0.json: not valid JSON")
    assert summaries[1] == "conda-meta/nameless-1.0-0.json: missing name; package left out"
    assert all(problem.status is Status.WARNING for problem in environment.problems)
    snapshot = freeze(environment, "hub")
    assert len(snapshot.problems) == 2 and "broken" not in snapshot.explicit_lock()


def test_names_that_could_read_as_options_are_left_out(prefix):
    """Names end up on conda's and pip's command lines in restore plans: an odd one is reported, never used."""
    (prefix / "user/conda-meta/evil-1.0-0.json").write_text(json.dumps(
        {"name": "--override-channels", "version": "1.0", "build": "0"}))
    site = next((prefix / "user").glob("lib/python*/site-packages"))
    (site / "--index-url=http:__192.0.2.1-1.0.dist-info").mkdir()
    environment = gather_here(prefix)
    assert "--override-channels" not in environment.conda and len(environment.pip) == 3
    assert sorted(p.id for p in environment.problems) == ["environment.pip", "environment.record"]


def test_works_when_conda_itself_is_broken(prefix):
    """Nothing is executed from the environment: a removed conda and python do not matter."""
    (prefix / "user/bin/python").unlink()
    for path in (prefix / "user/lib").glob("python*/site-packages/conda-*"):
        shutil.rmtree(path)
    environment = gather_here(prefix)
    assert "conda" in environment.conda and len(environment.pip) == 3


def test_not_a_prefix():
    with pytest.raises(StreamError):
        environment_from_stream("/x", b"bash: line 1: no such file\n")
    with pytest.raises(StreamError, match="corrupt"):
        environment_from_stream("/x", b"tljh-wizard-env 1 x86_64\n\x1f\x8b\x08garbage")


def test_a_stream_cut_short_is_an_error_not_a_shorter_environment(prefix):
    from wizard.environment.summary import StreamTruncated, gather
    from wizard.hub.local import LocalTarget

    whole = subprocess.run(gather_argv(str(prefix)), capture_output=True, check=True).stdout
    for cut in (len(whole) - 1, len(whole) // 2, 40):
        with pytest.raises(StreamTruncated):
            environment_from_stream(str(prefix), whole[:cut])

    class LosesTheTail(LocalTarget):
        """Loses the end of its answer, as an SSH client that stopped reading at the exit status did."""

        def run(self, argv, **options):
            result = super().run(argv, **options)
            result.stdout = result.stdout[: len(result.stdout) // 2]
            return result

    with pytest.raises(StreamTruncated):
        gather(LosesTheTail(str(prefix)))


def test_history_revisions():
    text = ("==> 2024-10-21 12:00:00 <==\n# cmd: /opt/tljh/user/bin/conda install python\n+a\n"
            "==> 2024-11-02 08:30:00 <==\n# cmd: conda install numpy\n+conda-forge/linux-64::numpy-2.1.2\n")
    revisions = parse_history(text)
    assert [(r.number, r.date, r.command) for r in revisions] == [
        (0, "2024-10-21 12:00:00", "/opt/tljh/user/bin/conda install python"),
        (1, "2024-11-02 08:30:00", "conda install numpy")]


def test_canonical_names():
    assert canonical_name("Jupyter_Server") == canonical_name("jupyter-server") == canonical_name("jupyter.server")


def test_snapshot_round_trip_and_checksum(prefix, tmp_path):
    snapshot = freeze(gather_here(prefix), "hub", now=1764093600)
    save_local(tmp_path / "snaps", snapshot)
    loaded = load_local(tmp_path / "snaps", snapshot.id)
    assert loaded.to_bytes() == snapshot.to_bytes()
    assert (tmp_path / "snaps" / f"{snapshot.id}.json").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "snaps").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "snaps" / f"{snapshot.id}.explicit.txt").read_text() == snapshot.explicit_lock()
    tampered = snapshot.to_bytes().replace(b'"2.1.2"', b'"2.1.3"')
    assert tampered != snapshot.to_bytes()
    with pytest.raises(SnapshotError, match="checksum mismatch"):
        Snapshot.from_bytes(tampered)


# --------------------------------------------------------------------------------------------------------------
# Drift


def drift(prefix):
    """Add, remove and upgrade a package (conda) and add, remove and upgrade one with pip."""
    user = prefix / "user"
    conda_drift(user, ["+conda-forge/noarch::xarray-2024.9.0-pyhd8ed1ab_1"])
    site = next(user.glob("lib/python*/site-packages"))
    shutil.rmtree(site / "nbgitpuller-1.2.1.dist-info")
    wheels = prefix.parent / "drift-wheels"
    sample.pip_install(user, [sample.build_wheel(wheels, "jupyterlab", "4.3.0"),
                              sample.build_wheel(wheels, "ipywidgets", "8.1.5")])


def test_diff_says_exactly_what_changed(prefix):
    before = freeze(gather_here(prefix), "hub")
    drift(prefix)
    after = gather_here(prefix)
    changes = diff(PackageSet.of_snapshot(before), PackageSet.of_environment(after))
    assert [change.render() for change in changes] == EXPECTED_DRIFT
    text = render(changes, PackageSet.of_snapshot(before), PackageSet.of_environment(after))
    assert text.startswith(f"from snapshot {before.id} to live environment: 2 added, 2 removed, 2 changed\n")
    assert diff(PackageSet.of_snapshot(before), PackageSet.of_snapshot(before)) == []


def test_restore_plan_uses_the_revision_while_it_exists(prefix):
    before = freeze(gather_here(prefix), "hub")
    drift(prefix)
    plan = plan_restore(before, gather_here(prefix))
    user = f"{prefix}/user"
    assert plan.method == "revision"
    assert [step.argv for step in plan.steps] == [
        [f"{user}/bin/conda", "install", "--yes", "--prefix", user, "--revision", "0"],
        [f"{user}/bin/python", "-m", "pip", "uninstall", "--yes", "ipywidgets"],
        [f"{user}/bin/python", "-m", "pip", "install", "--no-deps", "jupyterlab==4.2.5", "nbgitpuller==1.2.1"],
    ]
    assert "back to revision 0 (2024-10-21 12:00:00)" in plan.render()


def test_restore_plan_reinstalls_exact_builds_when_the_revision_is_gone(prefix):
    before = freeze(gather_here(prefix), "hub")
    drift(prefix)
    # The environment was recreated: its history starts afresh, revision 0 now has another date.
    (prefix / "user/conda-meta/history").write_text("==> 2025-01-05 10:00:00 <==\n# cmd: conda create\n")
    plan = plan_restore(before, gather_here(prefix))
    user = f"{prefix}/user"
    assert plan.method == "explicit"
    remove, reinstall = plan.steps[0], plan.steps[1]
    assert remove.argv == [f"{user}/bin/conda", "remove", "--yes", "--prefix", user, "--force", "xarray"]
    path, lock = reinstall.upload
    assert reinstall.argv == [f"{user}/bin/conda", "install", "--yes", "--prefix", user, "--file", path]
    assert path == f"{prefix}/state/tljh-wizard/environment/restore-{before.id}.explicit.txt"
    numpy, tornado = record_of_snapshot(before, "numpy"), record_of_snapshot(before, "tornado")
    assert lock.decode().splitlines()[2:] == ["@EXPLICIT", numpy.lock_line, tornado.lock_line]
    assert any("no longer exists" in note for note in plan.notes)


def record_of_snapshot(snapshot, name):
    return next(p for p in snapshot.conda if p.name == name)


def test_restore_plan_when_nothing_changed(prefix):
    before = freeze(gather_here(prefix), "hub")
    plan = plan_restore(before, gather_here(prefix))
    assert plan.empty and plan.changes == [] and "nothing to do" in plan.render()


def test_restore_runs_nothing_without_confirmation(prefix):
    before = freeze(gather_here(prefix), "hub")
    drift(prefix)
    plan = plan_restore(before, gather_here(prefix))

    class Unreachable:
        def run(self, *args, **kwargs):
            raise AssertionError("a command ran without confirmation")

        write_file = run

    outcome = execute(plan, Unreachable(), confirm=lambda shown: False)
    assert not outcome.executed and outcome.diagnosis.status is Status.SKIPPED and outcome.steps_done == 0


# --------------------------------------------------------------------------------------------------------------
# Package specs for installs


@pytest.mark.parametrize("raw, value", [
    ("numpy", "numpy"), ("numpy=1.26", "numpy=1.26"), ("pandas>=2,<3", "pandas>=2,<3"),
    ("conda-forge::xarray", "conda-forge::xarray"), ("dask[array]", "dask[array]"), (" scipy >= 1.14 ", "scipy>=1.14"),
])
def test_package_specs(raw, value):
    assert package_spec(raw) == value


@pytest.mark.parametrize("raw", ["--index-url=http://x", "-e .", "numpy; rm -rf /", "https://x/y.whl", "a b", "",
                                 "./local", "numpy`id`", "$(id)", None, 3])
def test_package_specs_refused(raw):
    with pytest.raises(ValidationError):
        package_spec(raw)


def test_a_package_without_url_or_hash_is_named_not_locked_and_not_restorable(prefix):
    user = prefix / "user"
    record = sample.conda_record("localbuild", "0.1", "h0_0", url="", with_sha256=False)
    record.pop("md5")
    record["channel"] = "local"
    sample.write_record(user, record)
    before = freeze(gather_here(prefix), "hub")
    assert before.unlocked == ["localbuild"]
    assert "# not locked (no URL or hash recorded): localbuild" in before.explicit_lock()
    assert not any("localbuild" in line for line in before.explicit_lock().splitlines() if not line.startswith("#"))
    sample.remove_record(user, "localbuild")
    (user / "conda-meta/history").write_text("==> 2025-01-05 10:00:00 <==\n")
    plan = plan_restore(before, gather_here(prefix))
    assert plan.method == "explicit" and plan.steps == []
    assert "localbuild 0.1 cannot be reinstalled: its record had no URL or hash when the snapshot was taken" \
        in plan.notes
    assert "No command can make these changes" in plan.render()
    outcome = execute(plan, None, confirm=lambda shown: True)
    assert not outcome.executed and outcome.diagnosis.status is Status.WARNING


def test_freeze_on_the_demo_sandbox(tmp_path):
    from wizard.environment.snapshot import freeze_hub, hub_snapshots
    from wizard.hub import sandbox
    from wizard.hub.local import SandboxTarget

    target = SandboxTarget(tmp_path / "sandbox")
    try:
        snapshot, environment = freeze_hub(target, tmp_path / "local")
        stored, errors = hub_snapshots(target)
    finally:
        target.close()
    assert sorted(environment.conda) == sorted(name for name, *_ in sandbox.CONDA_PACKAGES)
    assert sorted(p.name for p in snapshot.pip) == sorted(name for name, _ in sandbox.PIP_PACKAGES)
    assert environment.tljh_version == sandbox.TLJH_VERSION and environment.python == sandbox.USER_PYTHON
    assert [s.id for s in stored] == [snapshot.id] and errors == []


@pytest.mark.parametrize("tar_format", ["GNU_FORMAT", "USTAR_FORMAT", "PAX_FORMAT"])
def test_tar_reader_agrees_with_tarfile(tar_format):
    """The fast reader handles what GNU tar writes (long names included) and hands anything else to tarfile."""
    import io
    import tarfile

    from wizard.environment.summary import _read_tar_with_tarfile, read_stream

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=getattr(tarfile, tar_format)) as archive:
        for name, data in (("user/conda-meta/a-1-0.json", b"{}"), ("user/" + "deep/" * 30 + "b.json", b"[1]"),
                           ("user/lib/python3.11/site-packages/" + "n" * 80 + "-1.0.dist-info", None)):
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            else:
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    import gzip

    stream = b"tljh-wizard-env 1 x86_64\n" + gzip.compress(buffer.getvalue())
    machine, entries = read_stream(stream)
    assert machine == "x86_64" and entries == _read_tar_with_tarfile(buffer.getvalue())
    assert entries["user/" + "deep/" * 30 + "b.json"] == b"[1]"
    assert entries["user/lib/python3.11/site-packages/" + "n" * 80 + "-1.0.dist-info"] is None


def test_tar_reader_refuses_a_damaged_archive():
    import gzip
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("user/conda-meta/a-1-0.json")
        info.size = 2
        archive.addfile(info, io.BytesIO(b"{}"))
    damaged = bytearray(buffer.getvalue())
    damaged[10] ^= 0xFF  # inside the first header's name: its checksum no longer matches
    with pytest.raises(StreamError, match="corrupt"):
        environment_from_stream("/x", b"tljh-wizard-env 1 x86_64\n" + gzip.compress(bytes(damaged)))


def test_pip_packages_from_direct_urls(prefix):
    """A package pip installed from a URL is reinstalled from it (credentials stripped); one from a local path on
    the hub falls back to its pin."""
    site = next((prefix / "user").glob("lib/python*/site-packages"))
    for name, url in (("course_tools", "https://deploy:tok3n@git.example.edu/dist/course_tools-0.3.tar.gz"),
                      ("scratch", "file:///root/scratch")):
        dist = site / f"{name}-0.3.dist-info"
        dist.mkdir()
        (dist / "INSTALLER").write_text("pip\n")
        (dist / "direct_url.json").write_text(json.dumps({"url": url, "archive_info": {}}))
    snapshot = freeze(gather_here(prefix), "hub")
    assert snapshot.requirements().splitlines()[1:] == [
        "course_tools @ https://git.example.edu/dist/course_tools-0.3.tar.gz", "jupyter_resource_usage==1.1.0",
        "jupyterlab==4.2.5", "nbgitpuller==1.2.1", "scratch==0.3"]
    assert b"tok3n" not in snapshot.to_bytes()
    shutil.rmtree(site / "course_tools-0.3.dist-info")
    plan = plan_restore(snapshot, gather_here(prefix))
    assert plan.steps[-1].argv[-1] == "course_tools @ https://git.example.edu/dist/course_tools-0.3.tar.gz"


def test_an_altered_snapshot_cannot_smuggle_an_option_into_pip(prefix, monkeypatch):
    from wizard.fields import ValidationError

    before = freeze(gather_here(prefix), "hub")
    drift(prefix)
    altered = next(p for p in before.pip if p.name == "jupyterlab")
    monkeypatch.setattr(type(altered), "requirement", property(lambda self: "--index-url=http://127.0.0.1:9/simple"))
    with pytest.raises(ValidationError, match="not a package"):
        plan_restore(before, gather_here(prefix))
