"""The apply engine: plan (masked unified diff + ordered actions), then execute safely, with rollback and a journal.

Executing a plan:
1. ``backup``: copy config.yaml on the hub (``config.yaml.tljh-wizard-ID.bak``, 0600) and read that copy back in the
   same command; it must still be what the plan was made from. The bytes also go to the session's secret store
   (0600: config.yaml can hold client secrets).
2. ``write-config``: the new file, atomically (temp + rename, 0600), holding TLJH's ``config.yaml.lock``.
3. ``reload-proxy`` (only when ``https.*`` changed), then ``reload-hub``: ``tljh-config reload ...``, each with a
   timeout enforced on the hub (TLJH's own reload can wait forever).
4. ``verify``: the hub answers ``/hub/api`` (polled on the hub for up to ``verify_timeout``).
On any failure after the backup: the old bytes are written back, the proxy (if touched) and hub reloaded, and the
result says what happened. Remote round trips do not depend on the number of settings.

Every action is journaled in the session — intent before, outcome after — and the apply's own record (hashes of the
old and new file, never their contents) says where it stood. A later ``execute`` on the same session that finds an
apply still "in-progress" resumes it: if the hub already holds the new file, only the reloads and the check remain;
if it holds the old one, the apply starts again; anything else is refused (someone else changed the file).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Callable

from wizard.hub.target import CommandFailed, HubError, HubTarget

RELOAD_TIMEOUT = 180.0
VERIFY_TIMEOUT = 60.0
RECORD = "apply"

Progress = Callable[[str, str, str], None]  # (action id, phase: start/done/failed/rollback, detail)

# Runs on the hub: poll the hub API until it answers 200 or the deadline passes. argv: url, seconds.
_VERIFY_SCRIPT = r'''
import sys, time, urllib.request
url, deadline, last = sys.argv[1], time.monotonic() + float(sys.argv[2]), "no answer"
while True:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            print(response.status, response.read(200).decode("utf-8", "replace"))
            sys.exit(0)
    except Exception as exc:
        last = str(exc)
    if time.monotonic() > deadline:
        print(f"{url}: {last}", file=sys.stderr)
        sys.exit(1)
    time.sleep(0.5)
'''

# Runs on the hub: copy config.yaml to the backup (0600 from the start, whatever the original's mode: it holds the
# old secrets) and print the copy. argv: config, backup.
_BACKUP_SCRIPT = r'''set -eu
umask 077
if [ -e "$1" ]; then cp --preserve=timestamps -- "$1" "$2"; sync -- "$2" 2>/dev/null || true; cat -- "$2"; fi
'''


class ApplyError(HubError):
    """The apply cannot start (stale plan, a config changed by someone else, an unfinished apply elsewhere)."""


@dataclass
class Action:
    id: str
    title: str


@dataclass
class Plan:
    old_text: str
    new_text: str
    diff: str  # unified, secrets masked
    actions: list[Action]
    https_changed: bool
    resuming: dict | None = None  # the unfinished apply this plan completes
    ssh: Any = None  # wizard.sshaccess.engine.SshPlan: run after config.yaml's actions (wizard.sshaccess.engine)

    @property
    def changed(self) -> bool:
        return self.old_text != self.new_text

    def render(self) -> str:
        lines = [self.diff.rstrip("\n") if self.diff else "config.yaml: no change"]
        if self.resuming:
            lines.append(f"Resuming the unfinished apply {self.resuming['id']} (it stopped at "
                         f"{self.resuming.get('stage', 'the start')}).")
        ssh_actions = self.ssh.actions if self.ssh is not None else []
        lines.append("Actions:" if self.actions or ssh_actions else "Nothing to do.")
        lines += [f"  {number}. {action.title}" for number, action in enumerate(self.actions, 1)]
        lines += [f"  {number}. {title}" for number, (_id, title) in enumerate(ssh_actions, len(self.actions) + 1)]
        return "\n".join(lines)


@dataclass
class ApplyResult:
    ok: bool
    apply_id: str
    done: list[str] = field(default_factory=list)
    error: str | None = None
    rolled_back: bool = False
    rollback_errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.ok:
            return f"Applied ({', '.join(self.done) or 'nothing to do'})."
        text = f"Apply failed: {self.error}."
        if self.rolled_back and not self.rollback_errors:
            return text + " The previous config.yaml was restored byte for byte and the hub reloaded."
        return text + " RESTORE FAILED: " + "; ".join(self.rollback_errors) + ". The previous config.yaml is in " \
            "the session's store and on the hub as config.yaml.tljh-wizard-*.bak."


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def config_path(target: HubTarget) -> PurePosixPath:
    return target.prefix / "config" / "config.yaml"


def read_config(target: HubTarget) -> str:
    """The hub's config.yaml ('' when TLJH has none yet). One round trip."""
    try:
        return target.read_file(config_path(target)).decode("utf-8")
    except FileNotFoundError:
        return ""
    except UnicodeDecodeError:
        raise ApplyError(f"{config_path(target)} on the hub is not UTF-8 text; fix it by hand first") from None


def render_text(answers, old_text: str, tljh_version: str) -> str:
    """The new config.yaml: the hub's file updated in place with the rendered answers, validated."""
    from wizard.answers import AnswersError
    from wizard.tljh import config as tljh_config

    from wizard import yamlio
    from wizard.fields import ValidationError

    rendered = tljh_config.render(answers, tljh_version=tljh_version)
    errors = tljh_config.validate(rendered, tljh_version)
    if errors:
        raise AnswersError(errors)
    new_text = tljh_config.update(old_text, rendered)
    # What the hub keeps of its own file must be valid too, or the reload would fail after the write.
    kept = tljh_config.validate(yamlio.loads(new_text, "config.yaml"), tljh_version)
    if kept:
        raise AnswersError([ValidationError(f"{error.message} — in the hub's own config.yaml, which the wizard "
                                            "keeps: fix it there first", error.key) for error in kept])
    return new_text


def _https(text: str) -> Any:
    from wizard import yamlio

    data = yamlio.loads(text) if text.strip() else None
    return (data or {}).get("https") if isinstance(data, dict) else None


def plan(answers, old_text: str, *, tljh_version: str = "2.0.0", session=None) -> Plan:
    """What applying ``answers`` to a hub whose config.yaml is ``old_text`` would do. Touches nothing."""
    from wizard.tljh import config as tljh_config

    new_text = render_text(answers, old_text, tljh_version)
    pending = _unfinished(session)
    resuming = None
    if pending and sha256(old_text) == pending["new_sha256"] == sha256(new_text):
        resuming = pending  # the file was written; the reloads and the check did not finish
    https_changed = _https(old_text) != _https(new_text) or bool(resuming and resuming.get("https_changed"))
    actions: list[Action] = []
    if new_text != old_text:
        actions += [Action("backup", "back up config.yaml (on the hub and in the session)"),
                    Action("write-config", "write config.yaml atomically (0600, under config.yaml.lock)")]
    if new_text != old_text or resuming:
        if https_changed:
            actions.append(Action("reload-proxy", "tljh-config reload proxy (https changed)"))
        actions += [Action("reload-hub", "tljh-config reload hub"),
                    Action("verify", "check that the hub answers /hub/api")]
    return Plan(old_text, new_text, tljh_config.masked_diff(old_text, new_text), actions, https_changed, resuming)


def _unfinished(session) -> dict | None:
    record = session.record(RECORD) if session is not None else None
    return record if record and record.get("status") == "in-progress" else None


def hub_api_url(target: HubTarget, config_text: str) -> str:
    """Where TLJH's own ``reload hub`` looks: 127.0.0.1 on ``http.port`` under ``base_url``."""
    from wizard import yamlio

    if target.hub_api_url:
        return target.hub_api_url
    data = yamlio.loads(config_text) if config_text.strip() else {}
    data = data if isinstance(data, dict) else {}
    port = (data.get("http") or {}).get("port", 80)
    base = str(data.get("base_url") or "/").rstrip("/")
    return f"http://127.0.0.1:{port}{base}/hub/api"


class Applier:
    """Executes one plan on one target, journaling into one session."""

    def __init__(self, target: HubTarget, session, *, reload_timeout: float = RELOAD_TIMEOUT,
                 verify_timeout: float = VERIFY_TIMEOUT, on_progress: Progress | None = None):
        self.target, self.session = target, session
        self.reload_timeout, self.verify_timeout = reload_timeout, verify_timeout
        self.on_progress = on_progress or (lambda *_: None)
        self.log = session.logger()

    def execute(self, plan: Plan) -> ApplyResult:
        if plan.resuming:
            record = dict(plan.resuming)
        else:
            pending = _unfinished(self.session)
            if pending and sha256(plan.old_text) not in (pending["old_sha256"], pending["new_sha256"]):
                raise ApplyError(f"an earlier apply ({pending['id']}) did not finish and config.yaml on the hub "
                                 "is neither its old nor its new file: someone else changed it. Review the hub, "
                                 "then plan again.")
            record = {"id": time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + f"-{time.time_ns() % 10**6:06d}",
                      "old_sha256": sha256(plan.old_text), "new_sha256": sha256(plan.new_text),
                      "https_changed": plan.https_changed, "status": "in-progress", "stage": "planned",
                      "started": time.time()}
        result = ApplyResult(ok=False, apply_id=record["id"])
        if not plan.actions:
            result.ok = True
            return result
        self._save(record)
        self.log.info("apply %s: %s", record["id"], "resuming" if plan.resuming else "starting")
        self.log.info("plan:\n%s", plan.render())
        written = bool(plan.resuming)
        try:
            for action in plan.actions:
                self._step(record, action, plan)
                result.done.append(action.id)
                written = written or action.id == "write-config"
        except HubError as exc:
            result.error = f"{action.title}: {exc}"
            self.log.error("apply %s failed at %s: %s", record["id"], action.id, exc)
            if written or action.id == "write-config":  # a write that failed may still have landed
                self._roll_back(record, plan, result)
                # A failed restore leaves the apply "in-progress": the next apply checks which file the hub holds.
                record["status"] = "rolled-back" if not result.rollback_errors else "in-progress"
            else:
                record["status"] = "failed"  # nothing on the hub was changed
            self._save(record)
            return result
        record["status"], record["stage"], record["finished"] = "done", "done", time.time()
        self._save(record)
        self.log.info("apply %s done", record["id"])
        result.ok = True
        return result

    # --- actions -------------------------------------------------------------------------------------------------

    def _step(self, record: dict, action: Action, plan: Plan) -> None:
        self.session.journal(action.id, "intent", apply_id=record["id"])
        self.on_progress(action.id, "start", action.title)
        try:
            detail = getattr(self, "_" + action.id.replace("-", "_"))(record, plan)
        except HubError as exc:
            self.session.journal(action.id, "failed", apply_id=record["id"], error=str(exc))
            self.on_progress(action.id, "failed", str(exc))
            raise
        record["stage"] = action.id
        self._save(record)
        self.session.journal(action.id, "done", apply_id=record["id"], **({"detail": detail} if detail else {}))
        self.on_progress(action.id, "done", detail or "")

    def _backup(self, record: dict, plan: Plan) -> str:
        path = config_path(self.target)
        backup = f"{path}.tljh-wizard-{record['id']}.bak"
        copy = self.target.run(["sh", "-c", _BACKUP_SCRIPT, "backup", str(path), backup], sudo=True, check=True)
        current = copy.stdout.decode("utf-8", "replace")
        if current != plan.old_text:
            raise ApplyError("config.yaml on the hub changed since the plan was made; plan again")
        self.session.write_secret(f"config-{record['id']}.yaml", plan.old_text)
        record["hub_backup"] = backup
        return backup

    def _write_config(self, record: dict, plan: Plan) -> str:
        path = config_path(self.target)
        self.target.write_file(path, plan.new_text.encode("utf-8"), mode=0o600, lock=f"{path}.lock")
        return ""

    def _reload(self, component: str) -> str:
        result = self.target.run([self.target.tljh_config, "reload", component], sudo=True,
                                 timeout=self.reload_timeout)
        if not result.ok:
            raise CommandFailed(result)
        return result.text.strip().splitlines()[-1] if result.text.strip() else ""

    def _reload_proxy(self, record: dict, plan: Plan) -> str:
        return self._reload("proxy")

    def _reload_hub(self, record: dict, plan: Plan) -> str:
        return self._reload("hub")

    def _verify(self, record: dict, plan: Plan) -> str:
        url = hub_api_url(self.target, plan.new_text)
        result = self.target.run(["python3", "-c", _VERIFY_SCRIPT, url, f"{self.verify_timeout:g}"],
                                 timeout=self.verify_timeout + 10)
        if not result.ok:
            raise HubError(f"the hub does not answer {url}: {result.stderr.decode('utf-8', 'replace').strip()}")
        return f"{url} answered"

    def _roll_back(self, record: dict, plan: Plan, result: ApplyResult) -> None:
        """Put the old bytes back, reload what was reloaded, and record each step's outcome."""
        self.session.journal("rollback", "intent", apply_id=record["id"])
        self.on_progress("rollback", "start", "restoring the previous config.yaml")
        path = config_path(self.target)
        old = self.session.read_secret(f"config-{record['id']}.yaml")
        old_bytes = old if old is not None else plan.old_text.encode("utf-8")
        steps = [("restore-config", lambda: self.target.write_file(path, old_bytes, mode=0o600, lock=f"{path}.lock"))]
        if plan.https_changed:
            steps.append(("reload-proxy", lambda: self._reload("proxy")))
        steps.append(("reload-hub", lambda: self._reload("hub")))
        for name, step in steps:
            try:
                step()
            except HubError as exc:
                result.rollback_errors.append(f"{name}: {exc}")
                self.session.journal("rollback", "failed", apply_id=record["id"], step=name, error=str(exc))
                if name == "restore-config":
                    break
        result.rolled_back = not any(e.startswith("restore-config") for e in result.rollback_errors)
        record["stage"] = "rolled-back"
        self.session.journal("rollback", "done" if not result.rollback_errors else "failed", apply_id=record["id"])
        self.on_progress("rollback", "done" if not result.rollback_errors else "failed",
                         "; ".join(result.rollback_errors))

    def _save(self, record: dict) -> None:
        self.session.record(RECORD, dict(record))


def apply(target: HubTarget, answers, session, *, tljh_version: str = "2.0.0", **options) -> tuple[Plan, ApplyResult]:
    """Plan against the hub's current config.yaml and execute (resuming an unfinished apply when there is one)."""
    current = plan(answers, read_config(target), tljh_version=tljh_version, session=session)
    return current, Applier(target, session, **options).execute(current)
