"""Freeze, diff, restore and installs over SSH against the sshd rig, on a hub whose user environment is a real venv
with realistic conda-meta records and pip-only packages installed by pip from local wheels (pip.conf: no index).

conda itself cannot run here (no channel): ``PREFIX/user/bin/conda`` is a stand-in that records each command it is
given (``sample.install_conda_standin``); pip is the real one."""

import json
import stat
from pathlib import Path

import pytest

from tests.support.userenv import EXPECTED_DRIFT, drift_with_pip
from wizard.diagnosis import Status
from wizard.environment import sample
from wizard.environment.diff import PackageSet, diff
from wizard.environment.install import install_packages
from wizard.environment.restore import execute, plan_restore
from wizard.environment.snapshot import Snapshot, freeze_hub, hub_dir, hub_snapshots, load_local
from wizard.environment.summary import gather
from wizard.hub.ssh import SSHTarget


@pytest.fixture
def hub(env_hub):
    """The rig's hub with a sample user environment (``tests/rig/userenv.py``)."""
    return env_hub


def connect(hub, user=None, sudo_password=None):
    return SSHTarget(hub.host, port=hub.port, user=user or hub.admin.name, key_file=str(hub.client_key),
                     allow_agent=False, look_for_keys=False, known_hosts_files=[hub.known_hosts],
                     prefix=str(hub.prefix), sudo_password=sudo_password)


def records_on_disk(prefix):
    return [json.loads(path.read_text()) for path in (prefix / "user/conda-meta").glob("*.json")]


def test_freeze_over_ssh_locks_exactly_the_packages_and_stores_root_only(hub, tmp_path):
    local = tmp_path / "local"
    with connect(hub) as target:
        snapshot, environment = freeze_hub(target, local, host="hub.example.edu")
        assert target.round_trips == 2 and target.connections == 1
    lock = snapshot.explicit_lock().splitlines()
    assert lock[lock.index("@EXPLICIT") + 1:] == sorted(
        (f"{r['url']}#{r['sha256']}" for r in records_on_disk(hub.prefix)), key=lambda line: line.rsplit("/", 1)[1])
    assert "# platform: linux-64" in lock
    assert [p.name for p in snapshot.pip] == ["jupyter_resource_usage", "jupyterlab", "nbgitpuller"]
    assert snapshot.tljh_version == "2.0.0" and snapshot.host == "hub.example.edu"
    assert snapshot.conda_revision == 0 and environment.problems == []
    # pip and setuptools are the venv's real ones, owned by conda records: never pip-only
    assert environment.conda["pip"].version == next(
        (hub.prefix / "user").glob("lib/python*/site-packages/pip-*.dist-info")).name[4:-10]

    stored = hub.prefix / "state/tljh-wizard/environment" / f"{snapshot.id}.json"
    assert str(stored.parent) == hub_dir(hub.prefix)
    info = stored.stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o600)
    for directory in (stored.parent, stored.parent.parent):
        assert (directory.stat().st_uid, stat.S_IMODE(directory.stat().st_mode)) == (0, 0o700)
    assert stored.read_bytes() == (local / f"{snapshot.id}.json").read_bytes()
    assert Snapshot.from_bytes(stored.read_bytes()).checksum == load_local(local, snapshot.id).checksum


def test_freeze_with_a_sudo_password(hub, tmp_path):
    with connect(hub, user=hub.password_user.name, sudo_password=hub.sudo_password) as target:
        snapshot, _ = freeze_hub(target, tmp_path / "local")
    assert len(snapshot.conda) == len(sample.BASE_PACKAGES)
    assert hub.sudo_password.encode() not in (hub.prefix / "state/tljh-wizard/environment"
                                              / f"{snapshot.id}.json").read_bytes()


def test_corrupt_record_is_reported_and_the_freeze_goes_on(hub, tmp_path):
    (hub.prefix / "user/conda-meta/truncated-0.1-0.json").write_bytes(b'{"name": "truncated", "vers')
    with connect(hub) as target:
        snapshot, environment = freeze_hub(target, tmp_path / "local")
    assert [p.summary.split(":")[0] for p in environment.problems] == ["conda-meta/truncated-0.1-0.json"]
    assert environment.problems[0].status is Status.WARNING
    assert len(snapshot.conda) == len(sample.BASE_PACKAGES) and "truncated" not in snapshot.explicit_lock()
    assert snapshot.problems == [environment.problems[0].summary]


def test_diff_snapshot_against_live_and_between_snapshots(hub, tmp_path):
    local = tmp_path / "local"
    with connect(hub) as target:
        before, _ = freeze_hub(target, local, now=1764000000)
        drift_with_pip(hub.prefix)
        live = gather(target)
        assert [c.render() for c in diff(PackageSet.of_snapshot(before), PackageSet.of_environment(live))] \
            == EXPECTED_DRIFT
        after, _ = freeze_hub(target, local, now=1764000060)
        stored, errors = hub_snapshots(target)
    assert errors == [] and [s.id for s in stored] == [before.id, after.id]
    assert [c.render() for c in diff(PackageSet.of_snapshot(stored[0]), PackageSet.of_snapshot(stored[1]))] \
        == EXPECTED_DRIFT


def test_restore_runs_the_plan_through_the_target_after_confirmation(hub, tmp_path):
    local = tmp_path / "local"
    with connect(hub) as target:
        before, _ = freeze_hub(target, local)
        drift_with_pip(hub.prefix)
        plan = plan_restore(before, gather(target))
        assert plan.method == "revision"
        shown, progress = [], []
        outcome = execute(plan, target, confirm=lambda p: shown.append(p.render()) or True,
                          on_output=lambda stream, line: progress.append((stream, line)))
        assert outcome.diagnosis.status is Status.OK and outcome.steps_done == 3
        restored = gather(target)
    user = f"{hub.prefix}/user"
    assert "--revision" in shown[0] and "jupyterlab==4.2.5" in shown[0]
    # conda: the stand-in recorded exactly the planned command; pip: really back to the snapshot's packages
    assert sample.conda_log(hub.prefix) == [["install", "--yes", "--prefix", user, "--revision", "0"]]
    assert [c for c in diff(PackageSet.of_snapshot(before), PackageSet.of_environment(restored))
            if c.manager == "pip"] == []
    assert ("stdout", "conda stand-in: recorded conda install --yes --prefix " + user + " --revision 0") in progress
    assert [line for stream, line in progress if stream == "progress"] == [step.title for step in plan.steps]


def test_restore_by_explicit_lock_uploads_the_lock_root_only(hub, tmp_path):
    with connect(hub) as target:
        before, _ = freeze_hub(target, tmp_path / "local")
        drift_with_pip(hub.prefix)
        (hub.prefix / "user/conda-meta/history").write_text("==> 2025-01-05 10:00:00 <==\n# cmd: conda create\n")
        plan = plan_restore(before, gather(target))
        outcome = execute(plan, target, confirm=lambda p: True)
    assert plan.method == "explicit" and outcome.diagnosis.status is Status.OK
    user = f"{hub.prefix}/user"
    lock_path = f"{hub_dir(hub.prefix)}/restore-{before.id}.explicit.txt"
    assert sample.conda_log(hub.prefix) == [
        ["remove", "--yes", "--prefix", user, "--force", "xarray"],
        ["install", "--yes", "--prefix", user, "--file", lock_path],
    ]
    lock = Path(lock_path)  # the rig's hub is this machine
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    lines = lock.read_text().splitlines()
    assert lines[lines.index("@EXPLICIT") + 1:] == [p.lock_line for p in before.conda if p.name in ("numpy", "tornado")]


def test_restore_without_confirmation_runs_nothing(hub, tmp_path):
    with connect(hub) as target:
        before, _ = freeze_hub(target, tmp_path / "local")
        drift_with_pip(hub.prefix)
        plan = plan_restore(before, gather(target))
        trips = target.round_trips
        outcome = execute(plan, target, confirm=lambda p: False)
        assert target.round_trips == trips
        live = gather(target)
    assert not outcome.executed and outcome.diagnosis.status is Status.SKIPPED
    assert sample.conda_log(hub.prefix) == []
    assert [c.render() for c in diff(PackageSet.of_snapshot(before), PackageSet.of_environment(live))] \
        == EXPECTED_DRIFT


def test_install_freezes_first_and_streams_pip_output(hub, tmp_path):
    local = tmp_path / "local"
    lines = []
    with connect(hub) as target:
        outcome = install_packages(target, "pip", ["ipywidgets==8.1.5"], local,
                                   on_output=lambda stream, line: lines.append(line))
        live = gather(target)
        stored, _ = hub_snapshots(target)
    assert outcome.diagnosis.status is Status.OK
    assert [s.id for s in stored] == [outcome.before.id]
    assert "ipywidgets" not in {p.key for p in outcome.before.pip} and live.pip["ipywidgets"].version == "8.1.5"
    assert lines[0] == f"frozen the environment as snapshot {outcome.before.id} before installing"
    assert any("Successfully installed ipywidgets-8.1.5" in line for line in lines)


def test_conda_install_goes_through_conda(hub, tmp_path):
    with connect(hub) as target:
        outcome = install_packages(target, "conda", ["xarray>=2024"], tmp_path / "local")
    assert outcome.diagnosis.status is Status.OK
    user = f"{hub.prefix}/user"
    assert sample.conda_log(hub.prefix) == [["install", "--yes", "--prefix", user, "xarray>=2024"]]


def test_step_summary_then_apply_installs_and_freezes(hub, tmp_path):
    """The step only reads (the summary, a dry run of the installs); apply runs the installs and the freeze."""
    from wizard.answers import Answers
    from wizard.environment import work
    from wizard.environment.step import dry_run_installs, summary_diagnoses
    from wizard.hub.work import PlanOptions, WorkContext

    answers = Answers()
    answers.set("environment.conda_packages", ["xarray"])
    answers.set("environment.pip_packages", "ipywidgets==8.1.5")
    progress = []
    with connect(hub) as target:
        shown = summary_diagnoses(target)
        checked = dry_run_installs(target, answers)
        assert hub_snapshots(target) == ([], []) and sample.conda_log(hub.prefix)[0][:2] == ["install", "--dry-run"]
        planned = work.build(answers, target, None, PlanOptions(host="hub.example.edu"))
        assert [a for a, _title in planned.actions] == ["env-conda", "env-pip", "env-freeze"]
        context = WorkContext(target, None, tmp_path / "local", progress.append)
        results = [planned.run(action, context) for action, _title in planned.actions]
        stored, _ = hub_snapshots(target)
    assert shown[0].summary == (f"Python {sample.PYTHON_VERSION}, {len(sample.BASE_PACKAGES)} conda packages, "
                                "3 pip-only packages, conda revision 0")
    assert [(d.id, d.status) for d in checked] == [("environment.conda", Status.OK), ("environment.pip", Status.OK)]
    assert [(d.id, d.status) for d in results] == [
        ("apply.env-conda", Status.OK), ("apply.env-pip", Status.OK), ("apply.env-freeze", Status.OK)]
    # one snapshot before the first install, one after: the last holds ipywidgets
    assert len(stored) == 2 and "ipywidgets" in {p.key for p in stored[-1].pip}
    assert sample.conda_log(hub.prefix)[1:] == [["install", "--yes", "--prefix", f"{hub.prefix}/user", "xarray"]]
    assert f"conda stand-in: recorded conda install --yes --prefix {hub.prefix}/user xarray" in progress
