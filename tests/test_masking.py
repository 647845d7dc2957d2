"""Secret masking, written once (``wizard.masking``) and used by every place that shows, logs or bundles text; and the
one engine-call rule both front-ends follow (``wizard.context.call_engine``): failures become redacted ERROR rows,
a cancel a SKIPPED one, and the hub command running is given up on."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from wizard.context import WizardContext, call_engine
from wizard.diagnosis import Status
from wizard.https.progress import CancelToken
from wizard.masking import MASK, Masker, mask
from wizard.session import Session

ROOT = Path(__file__).resolve().parents[1]
SECRET = "masking-client-Secret-7f3a"


def test_the_longest_secret_is_masked_first_and_short_ones_only_when_asked():
    assert mask("token abcdef and abc", ["abc", "abcdef"]) == f"token {MASK} and {MASK}"
    assert Masker(["ab", "long-enough"], min_length=4)("ab long-enough") == f"ab {MASK}"
    assert Masker([None, "", 7, True])("None 7 True") == "None 7 True"  # only text is a secret


def test_data_is_masked_recursively_and_json_escaped_forms_too():
    secret = 'quo"te\\back'
    masker = Masker([secret], json_escaped=True)
    assert masker(json.dumps({"error": f"refused {secret}"})) == json.dumps({"error": "refused " + MASK})
    assert masker.data({"a": [secret, ("x", secret)], "n": 3}) == {"a": [MASK, ["x", MASK]], "n": 3}


def test_no_engine_module_writes_the_mask_of_its_own():
    """Every mask comes from ``wizard.masking`` (the session's log filter and journal, apply, the apply command, the
    support bundle, the audit's findings, the access command, the TLJH config's masked text)."""
    offenders = [str(path.relative_to(ROOT)) for path in sorted((ROOT / "wizard").rglob("*.py"))
                 if path.name != "masking.py" and '"********"' in path.read_text(encoding="utf-8")]
    assert offenders == []


def test_the_session_log_and_journal_mask_secret_answers():
    with Session.open("masking") as session:
        session.accept("authenticator.type", "github")
        session.accept("authenticator.client_secret", SECRET)
        session.logger().info("the hub said %s", SECRET)
        entry = session.journal("reload", "failed", output=[f"echo {SECRET}"], detail={"stderr": SECRET})
        log = session.log_path.read_text()
    assert SECRET not in log and MASK in log
    assert entry["output"] == [f"echo {MASK}"] and entry["detail"] == {"stderr": MASK}


# ---------------------------------------------------------------------------------------------------------------
# the engine-call rule


@pytest.fixture
def ctx():
    with Session.open("engine-calls") as session:
        session.accept("authenticator.type", "github")
        session.accept("authenticator.client_secret", SECRET)
        yield WizardContext(session, mode="sandbox")


def test_an_engine_exception_is_a_redacted_error_row(ctx):
    def broken(ctx, progress):
        raise RuntimeError(f"the hub echoed {SECRET}")

    (row,) = call_engine(ctx, broken, token=CancelToken(), step_id="domain")
    assert (row.id, row.status, row.summary) == ("domain.error", Status.ERROR, f"RuntimeError: the hub echoed {MASK}")
    assert ctx.cancel is None  # the token belongs to the call only


def test_a_cancel_stops_the_call_at_its_next_progress_report(ctx):
    token = CancelToken()
    reached: list[str] = []

    def long_call(ctx, progress):
        assert ctx.cancel is token  # the engine sees the run's token (ACME polling, the host-key question)
        progress("one", "first")
        reached.append("one")
        token.cancel()
        progress("two", "second")
        reached.append("two")
        return []

    (row,) = call_engine(ctx, long_call, token=token, step_id="limits")
    assert reached == ["one"] and (row.id, row.status) == ("limits.cancelled", Status.SKIPPED)


def test_a_cancel_gives_up_on_the_command_running_on_the_hub(ctx, tmp_path):
    """A real command on this machine (``LocalTarget``): ``cancel_running`` from another thread stops the wait for it,
    and the call ends as cancelled."""
    from wizard.hub.local import LocalTarget

    ctx.target = LocalTarget(prefix=str(tmp_path))
    started = threading.Event()
    token = CancelToken()

    def sleeping(ctx, progress):
        started.set()
        ctx.hub.run(["sleep", "300"], timeout=None)
        return []

    stopper = threading.Thread(target=lambda: started.wait(30) and ctx.cancel_running())
    stopper.start()
    (row,) = call_engine(ctx, sleeping, token=token, step_id="backups")
    stopper.join(30)
    assert (row.id, row.status) == ("backups.cancelled", Status.SKIPPED)
    assert not ctx.hub.cancel.is_set()  # the next call starts clean


def test_a_call_that_must_not_stop_ignores_a_cancel(ctx):
    token = CancelToken(cancellable=False)

    def restore(ctx, progress):
        token.cancel()
        assert not ctx.cancel_running()  # refused: the change runs to its end
        progress("restore", "still going")
        return ["finished"]

    assert call_engine(ctx, restore, token=token) == ["finished"]


def test_ctrl_c_is_not_swallowed(ctx):
    def interrupted(ctx, progress):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        call_engine(ctx, interrupted, token=CancelToken())
