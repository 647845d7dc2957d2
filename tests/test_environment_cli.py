"""``tljh-wizard env ...`` end to end against the sshd rig's hub with a sample user environment
(``tests/rig/userenv.py``)."""

import json
import shutil

import pytest

from tests.support.userenv import EXPECTED_DRIFT, drift_with_pip
from wizard.cli import main
from wizard.environment import sample


def env(hub, *words):
    action, *rest = words
    return main(["env", action, f"{hub.admin.name}@{hub.host}:{hub.port}", "--key", str(hub.client_key),
                 "--known-hosts", str(hub.known_hosts), "--prefix", str(hub.prefix), *rest])


def test_freeze_list_diff_restore(env_hub, capsys, monkeypatch):
    assert env(env_hub, "freeze", "--json") == 0
    frozen = json.loads(capsys.readouterr().out)
    assert frozen["conda"] == len(sample.BASE_PACKAGES) and frozen["pip"] == 3 and frozen["problems"] == []
    snapshot_id = frozen["id"]

    assert env(env_hub, "list") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["SNAPSHOT", "CREATED", "CONDA", "PIP", "REV", "WHERE"]
    assert out[1].startswith(snapshot_id) and out[1].endswith("hub+local")

    assert env(env_hub, "diff", snapshot_id) == 0
    assert capsys.readouterr().out == f"from snapshot {snapshot_id} to live environment: no differences\n"

    drift_with_pip(env_hub.prefix)
    assert env(env_hub, "diff", snapshot_id) == 1
    assert capsys.readouterr().out.splitlines()[1:] == EXPECTED_DRIFT

    # Not a terminal and no --yes: the plan is shown, nothing runs.
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert env(env_hub, "restore", snapshot_id) == 2
    captured = capsys.readouterr()
    assert "Commands, in order:" in captured.out and "--revision 0" in captured.out
    assert "rerun with --yes" in captured.err
    assert sample.conda_log(env_hub.prefix) == []

    assert env(env_hub, "restore", snapshot_id, "--yes") == 0
    out = capsys.readouterr().out
    assert f"restored to snapshot {snapshot_id} (3 step(s))" in out
    assert "    conda stand-in: recorded conda install" in out
    assert len(sample.conda_log(env_hub.prefix)) == 1

    # Three snapshots now: the first, and one taken before each restore attempt.
    assert env(env_hub, "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed["snapshots"]) == 3 and listed["damaged"] == []


def test_damaged_local_copy_is_replaced_from_the_hub(env_hub, capsys, tmp_path):
    assert env(env_hub, "freeze", "--json") == 0
    frozen = json.loads(capsys.readouterr().out)
    local = tmp_path / "wizard-state" / "sessions"
    copy = next(local.glob(f"*/snapshots/{frozen['id']}.json"))
    copy.write_bytes(copy.read_bytes().replace(b'"numpy"', b'"numpy-evil"'))
    assert env(env_hub, "list") == 1
    assert "checksum mismatch" in capsys.readouterr().out
    assert env(env_hub, "diff", frozen["id"]) == 0
    assert b"numpy-evil" not in copy.read_bytes()


def test_unknown_host_key_is_refused(env_hub, capsys, tmp_path):
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    hub = env_hub
    code = main(["env", "summary", f"{hub.admin.name}@{hub.host}:{hub.port}", "--key", str(hub.client_key),
                 "--known-hosts", str(empty), "--prefix", str(env_hub.prefix)])
    assert code == 2
    assert env_hub.host_key_fingerprint in capsys.readouterr().err


def test_summary(env_hub, capsys):
    assert env(env_hub, "summary") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2] == f"{len(sample.BASE_PACKAGES)} conda packages, 3 pip-only packages"


@pytest.mark.parametrize("spec", ["--index-url=http://192.0.2.1/simple", "numpy;id"])
def test_install_refuses_options_and_shell(env_hub, capsys, spec):
    assert env(env_hub, "install", "--pip", "--", spec) == 2
    assert "package name" in capsys.readouterr().err


def test_install_freezes_before_and_after(env_hub, capsys):
    assert env(env_hub, "install", "--pip", "--freeze-after", "ipywidgets==8.1.5") == 0
    out = capsys.readouterr().out
    assert "==> frozen the environment as snapshot" in out
    assert "    Successfully installed ipywidgets-8.1.5" in out
    assert env(env_hub, "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)["snapshots"]
    assert [s["pip"] for s in listed] == [3, 4]


def test_local_hub_and_dry_run(tmp_path, capsys):
    """``--local``: the wizard on the hub itself (here a TLJH-shaped tree with the sample environment)."""
    from wizard.hub.sandbox import create_tree

    prefix = create_tree(tmp_path / "tljh")
    shutil.rmtree(prefix / "user")
    sample.create_user_environment(prefix / "user", wheel_dir=tmp_path / "wheels")
    local = ["--local", "--prefix", str(prefix)]
    assert main(["env", "freeze", "local", *local, "--json"]) == 0
    snapshot_id = json.loads(capsys.readouterr().out)["id"]
    sample.remove_record(prefix / "user", "tornado")
    assert main(["env", "restore", "local", snapshot_id, *local, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "+ tornado 6.4.1=py311h9ecbd09_1 (conda)" in out and "Commands, in order:" in out
    assert sample.conda_log(prefix) == []
    kept = tmp_path / "wizard-state/sessions/local/snapshots"
    assert [path.name for path in kept.glob("*.json")] == [f"{snapshot_id}.json"]  # a dry run freezes nothing
