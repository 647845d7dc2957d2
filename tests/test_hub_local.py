"""The local target (``--local``: the wizard on the hub itself) and the sandbox target, on this machine."""

import pytest

from tests.rig.sshd import command_lines
from wizard import yamlio
from wizard.hub import sandbox
from wizard.hub.local import LocalTarget, SandboxTarget
from wizard.hub.target import CommandTimeout


def test_local_commands_files_and_timeouts(tmp_path):
    with LocalTarget(prefix=str(tmp_path)) as hub:
        lines = []
        result = hub.run(["sh", "-c", "cat; echo err >&2"], stdin=b"a\nb\n", sudo=True,
                         on_output=lambda *line: lines.append(line))
        assert result.stdout == b"a\nb\n" and result.stderr == b"err\n"
        assert sorted(lines) == [("stderr", "err"), ("stdout", "a"), ("stdout", "b")]
        path = tmp_path / "dir" / "file"
        path.parent.mkdir()
        hub.write_file(path, b"data", mode=0o640, lock=f"{path}.lock")
        assert hub.read_file(path) == b"data" and path.stat().st_mode & 0o777 == 0o640
        with pytest.raises(FileNotFoundError):
            hub.read_file(tmp_path / "absent")
        with pytest.raises(CommandTimeout):
            hub.run(["sleep", "27.1828"], timeout=1)
        assert ["sleep", "27.1828"] not in command_lines()
        assert hub.run(["no-such-command-here"]).exit_status == 127
        assert hub.round_trips == 6


def test_sandbox_target_creates_the_tree_and_runs_its_tljh_config(tmp_path):
    with SandboxTarget(tmp_path / "hub") as hub:
        assert hub.read_file(hub.prefix / "config" / "config.yaml").decode() == sandbox.PRISTINE_CONFIG
        assert hub.run([hub.tljh_config, "set", "limits.memory", "1G"], sudo=True).ok
        assert hub.run([hub.tljh_config, "reload"], sudo=True).ok
    assert yamlio.loads((tmp_path / "hub" / "config" / "config.yaml").read_text())["limits"] == {"memory": "1G"}
    assert [r["component"] for r in sandbox.reloads(tmp_path / "hub")] == ["hub"]


@pytest.mark.slow
def test_local_apply_with_answers_prefix(tmp_path):
    """``--local`` on a hub: the answers' connection.tljh_prefix names the TLJH tree."""
    from tests.support.cli import wizard, write_answers
    from tests.support.hubs import sandbox_documents

    prefix = sandbox.create_tree(tmp_path / "opt-tljh")
    public, secret = sandbox_documents()
    public["connection"] = {"host": "localhost", "tljh_prefix": str(prefix)}
    public["https"] = {"mode": "none"}  # a certificate order is gated on a DNS check: this test is about the prefix
    answers, secrets = write_answers(tmp_path, public, secret)
    api = sandbox.HubApiStandIn(prefix)
    try:
        done = wizard("apply", answers, "--secrets", secrets, "--local", "--yes", "--hub-api-url", api.url)
    finally:
        api.close()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "GitHubOAuthenticator" in (prefix / "config" / "config.yaml").read_text()
    assert [r["component"] for r in sandbox.reloads(prefix)] == ["hub"]  # https off, as before: no proxy reload
