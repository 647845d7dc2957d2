"""`tljh-wizard apply ANSWERS --yes` replays everything the wizard does from the same answers, on the sshd rig: the
backup bundle first, the package installs (the environment frozen before them), the freeze, config.yaml — and
records the session, so `check SESSION` and `export SESSION` work afterwards. A failure after the installs rolls the
environment back to the snapshot frozen before them.

The user environment is a real venv (pip the real one, from local wheels); conda is a stand-in that records each
command (``wizard.environment.sample.install_conda_standin``)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import write_answers
from tests.support.hubs import rig_documents
from wizard.environment import sample
from wizard.hub import sandbox
from wizard.session import Session, session_name

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def hub(env_hub):
    """The rig's hub with a sample user environment (``tests/rig/userenv.py``)."""
    return env_hub


def wizard(*argv, timeout=300):
    return subprocess.run([sys.executable, "-m", "wizard", *map(str, argv)], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, cwd=ROOT)


def pip_installed(prefix: Path, name: str) -> list[str]:
    return sorted(p.name for p in (prefix / "user").glob(f"lib/python*/site-packages/{name}-*.dist-info"))


def hub_snapshot_ids(prefix: Path) -> list[str]:
    return sorted(p.stem for p in (prefix / "state" / "tljh-wizard" / "environment").glob("*.json"))


def replay_documents(hub, bundles: Path):
    public, secret = rig_documents(hub, https="none")  # certificates: tests/test_https_apply.py
    public["environment"] = {"default_app": "jupyterlab", "conda_packages": ["xarray"],
                             "pip_packages": ["ipywidgets==8.1.5"], "freeze": True}
    public["backups"] = {"pull_bundle": True, "bundle_dir": str(bundles)}
    return public, secret


@pytest.mark.slow
def test_replay_installs_freezes_pulls_the_bundle_and_records_the_session(hub, tmp_path):
    bundles = tmp_path / "bundles"
    answers, secrets = write_answers(tmp_path, *replay_documents(hub, bundles))
    common = ["--secrets", secrets, "--known-hosts", hub.known_hosts, "--hub-api-url", hub.hub_api_url,
              "--no-smoke"]
    assert not pip_installed(hub.prefix, "ipywidgets") and hub_snapshot_ids(hub.prefix) == []

    dry = wizard("apply", answers, *common, "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    for title in ("1. pull a backup bundle", "2. conda install xarray", "3. pip install ipywidgets==8.1.5",
                  "4. freeze the user environment", "5. back up config.yaml"):
        assert title in dry.stdout, dry.stdout
    assert not bundles.exists() and hub_snapshot_ids(hub.prefix) == [] and sample.conda_log(hub.prefix) == []

    done = wizard("apply", answers, *common, "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Applied (backup-bundle, env-conda, env-pip, env-freeze, backup, write-config" in done.stdout
    # each piece of work, on the hub and here
    bundle = [p for p in bundles.glob("tljh-backup-*.tar.gz")]
    assert len(bundle) == 1 and (bundle[0].stat().st_mode & 0o777) == 0o600
    assert Path(f"{bundle[0]}.sha256").exists()
    assert sample.conda_log(hub.prefix) == [["install", "--yes", "--prefix", f"{hub.prefix}/user", "xarray"]]
    assert pip_installed(hub.prefix, "ipywidgets") == ["ipywidgets-8.1.5.dist-info"]
    snapshots = hub_snapshot_ids(hub.prefix)
    assert len(snapshots) == 2  # frozen before the installs, and the freeze the answers ask for
    newest = json.loads((hub.prefix / "state/tljh-wizard/environment" / f"{snapshots[-1]}.json").read_text())
    assert "ipywidgets" in json.dumps(newest) and "ipywidgets" not in \
        (hub.prefix / "state/tljh-wizard/environment" / f"{snapshots[0]}.json").read_text()
    assert "GitHubOAuthenticator" in (hub.prefix / "config" / "config.yaml").read_text()

    # the session: answers, host, finished steps, and the journal of every action
    name = session_name(hub.host, hub.admin.name, hub.port)
    with Session.open(name, create=False, lock=False) as session:
        finished = session.state["finished_steps"]
        assert {"environment", "backups", "authenticator", "review"} <= set(finished), finished
        journal = [(entry["action"], entry["phase"]) for entry in session.state["journal"]]
        for action in ("backup-bundle", "env-conda", "env-pip", "env-freeze", "write-config"):
            assert (action, "intent") in journal and (action, "done") in journal, action
        assert session.record("backups.last_bundle")["path"] == str(bundle[0])
    listed = wizard("sessions")
    assert name in listed.stdout, listed.stdout + listed.stderr
    exported = wizard("export", name, "--format", "answers")
    assert exported.returncode == 0, exported.stdout + exported.stderr
    assert "ipywidgets==8.1.5" in exported.stdout and "xarray" in exported.stdout
    # check SESSION: the config is the applied one, the environment matches the newest snapshot, the bundle is fresh
    # (DNS and TLS probes pointed at loopback ports where nothing answers: no traffic leaves the machine)
    checked = wizard("check", name, "--json", "--resolver", "127.0.0.1:9", "--tls-address", "127.0.0.1:9",
                     "--http-address", "127.0.0.1:9")
    report = json.loads(checked.stdout)
    found = {f["id"]: f["status"] for f in report["findings"]}
    assert found["audit.config"] == "ok" and found["audit.environment"] == "ok" and found["audit.backup"] == "ok", \
        report["findings"]

    # the same answers again: what is installed is not installed again (conda's stand-in never installs anything)
    again = wizard("apply", answers, *common, "--dry-run")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "conda install xarray" in again.stdout and "pip install" not in again.stdout


def test_a_failed_apply_rolls_the_installs_back(hub, tmp_path):
    bundles = tmp_path / "bundles"
    answers, secrets = write_answers(tmp_path, *replay_documents(hub, bundles))
    sandbox.script_reloads(hub.prefix, hub=["fail"])
    config = (hub.prefix / "config" / "config.yaml").read_bytes()
    done = wizard("apply", answers, "--secrets", secrets, "--known-hosts", hub.known_hosts, "--hub-api-url",
                  hub.hub_api_url, "--no-smoke", "--yes")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "restored byte for byte" in done.stdout and "environment: undone" in done.stdout, done.stdout
    assert (hub.prefix / "config" / "config.yaml").read_bytes() == config
    assert pip_installed(hub.prefix, "ipywidgets") == []  # pip uninstalled what the apply installed
    assert sample.conda_log(hub.prefix) == [["install", "--yes", "--prefix", f"{hub.prefix}/user", "xarray"]]


@pytest.mark.slow
def test_replay_restores_the_newest_snapshot_first(hub, tmp_path):
    """``environment.restore: newest`` brings the environment back to the newest snapshot on the hub (here: what
    pip added since is uninstalled) before anything else, then the freeze records the result."""
    from wizard.environment.snapshot import freeze_hub
    from wizard.hub.ssh import SSHTarget

    with SSHTarget(hub.host, port=hub.port, user=hub.admin.name, key_file=str(hub.client_key), allow_agent=False,
                   look_for_keys=False, known_hosts_files=[hub.known_hosts], prefix=str(hub.prefix)) as target:
        snapshot, _environment = freeze_hub(target, tmp_path / "local", host="hub.example.edu")
    import os

    clean = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}  # only pip.conf counts
    drift = subprocess.run([str(hub.prefix / "user/bin/python"), "-m", "pip", "install", "--quiet",
                            "ipywidgets==8.1.5"], capture_output=True, text=True, env=clean)
    assert drift.returncode == 0 and pip_installed(hub.prefix, "ipywidgets"), drift.stderr
    public, secret = rig_documents(hub, https="none")  # certificates: tests/test_https_apply.py
    public["environment"] = {"default_app": "jupyterlab", "restore": "newest", "freeze": True}
    public["backups"] = {"pull_bundle": False}
    answers, secrets = write_answers(tmp_path, public, secret)
    common = ["--secrets", secrets, "--known-hosts", hub.known_hosts, "--hub-api-url", hub.hub_api_url,
              "--no-smoke"]
    dry = wizard("apply", answers, *common, "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert f"1. restore the user environment to snapshot {snapshot.id}" in dry.stdout, dry.stdout
    assert "pip uninstall" in dry.stdout or "uninstall" in dry.stdout
    assert pip_installed(hub.prefix, "ipywidgets")  # a dry run changes nothing
    done = wizard("apply", answers, *common, "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Applied (env-restore, env-freeze" in done.stdout
    assert pip_installed(hub.prefix, "ipywidgets") == []
