"""What an apply reports when it fails (on the sandbox hub, through the same hub-side scripts as over SSH): which
config.yaml the hub holds, read back from the hub; exit status 3 only when it is neither the old nor the new file;
no false "RESTORE FAILED"; the previous file's secrets masked; backups pruned; no TLJH, no apply."""

from __future__ import annotations

import fcntl
import json

import pytest

from tests.support.cli import wizard, write_answers
from tests.support.hubs import CLIENT_SECRET, sandbox_documents
from wizard.answers import Answers
from wizard.hub import apply, sandbox
from wizard.hub.local import LocalTarget, SandboxTarget
from wizard.session import Session

OLD_SECRET = "SENTINEL-previous-client-secret-7d2e"
OLD_CONFIG = f"""users:
  admin:
  - admin
auth:
  type: oauthenticator.github.GitHubOAuthenticator
  GitHubOAuthenticator:
    client_id: old-client
    client_secret: {OLD_SECRET}
    allowed_organizations:
    - old-org
"""


def sandbox_answers(memory="2G") -> Answers:
    public, secret = sandbox_documents()
    public["limits"]["memory"] = memory
    answers = Answers.from_documents(public, secret)
    return answers


@pytest.fixture
def hub(tmp_path):
    target = SandboxTarget(tmp_path / "hub")
    yield target
    target.close()


def config_file(target):
    from pathlib import Path

    return Path(str(target.prefix)) / "config" / "config.yaml"


def test_a_stale_plan_is_refused_as_nothing_changed_not_as_a_failed_restore(hub):
    answers = sandbox_answers()
    current = apply.plan(answers, apply.read_config(hub, require_tljh=True))
    config_file(hub).write_text(sandbox.PRISTINE_CONFIG + "# changed by someone else meanwhile\n")
    changed = config_file(hub).read_bytes()
    with Session.open(hub.name) as session:
        result = apply.Applier(hub, session).execute(current)
        record = session.record("apply")
    assert not result.ok and result.hub_holds == "other" and not result.changed_hub
    assert result.exit_code == 2 and "RESTORE FAILED" not in result.summary()
    assert "changed since the plan was made" in result.summary()
    assert config_file(hub).read_bytes() == changed
    assert record["status"] == "failed"


def test_tljhs_lock_held_by_another_program_is_exit_2_with_the_reason(hub):
    answers = sandbox_answers()
    original = config_file(hub).read_bytes()
    with open(str(config_file(hub)) + ".lock", "a") as lock, Session.open(hub.name) as session:
        fcntl.flock(lock, fcntl.LOCK_EX)
        current = apply.plan(answers, apply.read_config(hub))
        result = apply.Applier(hub, session, write_timeout=2).execute(current)
    assert not result.ok and result.hub_holds == "old" and result.exit_code == 2
    assert "stayed locked" in result.summary() and "Nothing on the hub was changed" in result.summary()
    assert "RESTORE FAILED" not in result.summary()
    assert config_file(hub).read_bytes() == original
    assert sandbox.reloads(hub.prefix) == []


def test_a_config_replaced_by_something_else_during_a_failed_apply_is_exit_3(hub):
    """The one case left for 3: after the failure and the restore, the hub holds neither file."""
    answers = sandbox_answers()
    sandbox.script_reloads(hub.prefix, hub=["fail"])
    with Session.open(hub.name) as session:
        current = apply.plan(answers, apply.read_config(hub))
        applier = apply.Applier(hub, session)
        real_roll_back = applier._roll_back

        def sabotaged(record, plan, result, write=True):  # the restore's write is overtaken by another program
            real_roll_back(record, plan, result, write)
            config_file(hub).write_text("users: {admin: [mallory]}\n")

        applier._roll_back = sabotaged
        result = applier.execute(current)
    assert result.hub_holds == "other" and result.exit_code == 3
    assert "RESTORE FAILED" in result.summary() and "neither" in result.summary()


def test_the_previous_files_secret_is_masked_when_a_rollback_quotes_it(hub, tmp_path):
    config_file(hub).write_text(OLD_CONFIG)
    # The new config's reload fails; the rollback's reload of the OLD file fails too, quoting it.
    sandbox.script_reloads(hub.prefix, hub=["fail", "fail-quoting"])
    answers, secrets = write_answers(tmp_path, *sandbox_documents())
    done = wizard("apply", answers, "--secrets", secrets, "--sandbox", hub.prefix, "--yes")
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "bad config" in output and "********" in output  # the quoting error is shown, masked
    assert OLD_SECRET not in output and CLIENT_SECRET not in output
    assert config_file(hub).read_text() == OLD_CONFIG  # restored
    from wizard.session import sessions_dir

    for path in sessions_dir().rglob("*"):
        if path.is_file() and path.parent.name != "store":
            assert OLD_SECRET.encode() not in path.read_bytes(), path


def test_backups_on_the_hub_are_pruned_to_the_last_n(hub):
    directory = config_file(hub).parent
    with Session.open(hub.name) as session:
        for memory in ["1G", "2G", "3G", "4G", "5G"]:
            _plan, result = apply.apply(hub, sandbox_answers(memory), session, keep_backups=3)
            assert result.ok, result.summary()
        entries = [e for e in session.state["journal"] if e["action"] == "backup" and e["phase"] == "done"]
    backups = sorted(p.name for p in directory.glob("config.yaml.tljh-wizard-*.bak"))
    assert len(backups) == 3
    assert entries[-1]["detail"].startswith(str(directory / backups[-1]))
    assert "kept the last 3 backups; removed 1 older" in entries[-1]["detail"]
    assert "keeping the last 3" in apply.plan(sandbox_answers("6G"), config_file(hub).read_text(),
                                              keep_backups=3).actions[0].title


def test_no_tljh_under_the_prefix_is_refused_and_nothing_is_created(tmp_path):
    empty = tmp_path / "not-tljh"
    (empty / "config").mkdir(parents=True)
    target = LocalTarget(str(empty))
    with pytest.raises(apply.ApplyError, match=f"no TLJH under {empty}"):
        apply.read_config(target, require_tljh=True)
    public, secret = sandbox_documents()
    public["connection"] = {"host": "hub.example.edu", "tljh_prefix": str(empty)}
    answers, secrets = write_answers(tmp_path, public, secret)
    done = wizard("apply", answers, "--secrets", secrets, "--local", "--yes")
    assert done.returncode == 2 and f"no TLJH under {empty}" in done.stderr, done.stdout + done.stderr
    assert list(empty.rglob("*")) == [empty / "config"]


def test_record_says_which_file_the_hub_holds(hub):
    sandbox.script_reloads(hub.prefix, hub=["fail"])
    with Session.open(hub.name) as session:
        _plan, result = apply.apply(hub, sandbox_answers(), session)
        record = session.record("apply")
    assert result.hub_holds == "old" and result.rolled_back and result.exit_code == 2
    assert record["status"] == "rolled-back" and record["hub_holds"] == "old"
    assert json.loads(json.dumps(record)) == record
