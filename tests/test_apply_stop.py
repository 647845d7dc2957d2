""""Stop and roll back" over SSH stops the remote command itself: a reload that hangs on the hub is killed there (its
process group, by a second command), not left running until its timeout; the old config.yaml is back."""

import threading
import time

from tests.rig.sshd import command_lines
from tests.support.hubs import config_file, rig_answers, rig_target
from wizard.hub import apply, sandbox
from wizard.session import Session


def wait_for(predicate, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_stop_kills_the_hanging_reload_on_the_hub(sshd_hub):
    answers = rig_answers(sshd_hub)
    original = config_file(sshd_hub).read_bytes()
    sandbox.script_reloads(sshd_hub.prefix, hub=["hang"])
    tool = f"{sshd_hub.prefix}/hub/bin/tljh-config"

    def reloads_running() -> list:
        return [argv for argv in command_lines() if any(tool in arg for arg in argv) and "reload" in argv]

    with rig_target(sshd_hub, answers) as target, Session.open(target.name) as session:
        plan = apply.plan(answers, apply.read_config(target))
        applier = apply.Applier(target, session, reload_timeout=900)
        outcome = {}
        worker = threading.Thread(target=lambda: outcome.setdefault("result", applier.execute(plan)))
        worker.start()
        wait_for(lambda: [r for r in sandbox.reloads(sshd_hub.prefix) if r["component"] == "hub"],
                 "the hub reload to start (and hang)")
        assert reloads_running(), "the hanging reload should be running on the hub"
        applier.stop()
        worker.join(120)
        assert not worker.is_alive()
    result = outcome["result"]
    assert result.stopped and not result.ok and result.hub_holds == "old", result.summary()
    assert "stopped by the operator" in result.summary() and "restored byte for byte" in result.summary()
    assert config_file(sshd_hub).read_bytes() == original
    # nothing the wizard started is left on the hub: neither the reload nor the `timeout` that ran it
    assert reloads_running() == []
