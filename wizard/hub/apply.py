"""The apply engine: plan (masked unified diff + ordered actions), then execute safely, with rollback and a journal.

Executing a plan:
1. ``backup``: copy config.yaml on the hub (``config.yaml.tljh-wizard-ID.bak``, 0600) and read that copy back in the
   same command; it must still be what the plan was made from. Only the newest ``keep_backups`` of these copies stay
   on the hub (they hold the secrets of their time); the plan's action says how many. The bytes also go to the
   session's secret store (0600: config.yaml can hold client secrets).
2. ``write-config``: the new file, atomically (temp + rename, 0600), holding TLJH's ``config.yaml.lock``; the hub
   renames only when the temp file's size and sha256 are the ones sent (``HubTarget.write_file``).
3. ``reload-proxy`` (only when what the proxy is built from changed: ``https``, ``http`` or ``traefik_api`` as TLJH
   reads them, over its defaults — ``_proxy_settings``), then ``reload-hub``: ``tljh-config reload ...``, each with a
   timeout enforced on the hub (TLJH's own reload can wait forever).
4. ``verify`` (``wizard.hub.verify``): the hub answers ``/hub/api`` (polled on the hub for up to
   ``verify_timeout``), ``/hub/login`` shows the configured authenticator, an OAuth login redirect carries the
   configured client id and callback URL, and the idle culler runs with the configured settings.
5. ``smoke`` (optional, ``wizard.hub.smoke``): a temporary user's server starts and runs one cell in the default
   kernel, then everything is removed; ``smoke-credential`` installs its scoped credential before the reload.
Remote work besides config.yaml (the backup bundle, package installs, the environment's freeze or restore, SSH
access, certificates) is part of the same plan as sub-plans (``wizard.hub.work``: the protocol): BEFORE sub-plans
run ahead of step 1, AFTER sub-plans once step 5 passed, each action journaled and reported like the ones above, a
stop checked between any two. ``build_plan`` makes the complete plan (config.yaml and every sub-plan) for every
front-end: the wizard's Review, the plain wizard and ``tljh-wizard apply``. A failure or a stop anywhere rolls back
everything done, in reverse order: the AFTER sub-plans, then config.yaml (below), then the BEFORE sub-plans.

On any failure the hub's config.yaml is read back: if this apply changed it, the old bytes are written back
(verified the same way), the proxy (if touched) and hub reloaded, and read back again. ``ApplyResult.hub_holds``
says which file the hub holds — old, new, other, or unknown when the link is down (it is then the old or the new
file: writes are never partial). Remote round trips do not depend on the number of settings.

Secrets of the old and the new config.yaml (not only the answers') are masked in the log, the journal and progress.

Every action is journaled in the session — intent before, outcome after — and the apply's own record (hashes of the
old and new file, never their contents) says where it stood. A later ``execute`` on the same session that finds an
apply still "in-progress" resumes it: if the hub already holds the new file, only the reloads and the check remain;
if it holds the old one, the apply starts again; anything else is refused (someone else changed the file).
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Callable

from wizard.hub.target import CommandFailed, HubError, HubTarget
from wizard.hub.work import AFTER, RemoteWork
from wizard.masking import Masker

RELOAD_TIMEOUT = 180.0
VERIFY_TIMEOUT = 60.0
RECORD = "apply"

Progress = Callable[[str, str, str], None]  # (action id, phase: start/done/failed/rollback, detail)

# Runs on the hub: copy config.yaml to the backup (0600 from the start, whatever the original's mode: it holds the
# old secrets), print the copy, then remove all but the newest KEEP backups of the wizard (their names sort by time).
# argv: config, backup, keep. Each removed backup is named on stderr.
_BACKUP_SCRIPT = r'''set -eu
umask 077
if [ -e "$1" ]; then cp --preserve=timestamps -- "$1" "$2"; sync -- "$2" 2>/dev/null || true; cat -- "$2"; fi
count=0
for old in "$1".tljh-wizard-*.bak; do [ -e "$old" ] && count=$((count + 1)); done
drop=$((count - $3))
for old in "$1".tljh-wizard-*.bak; do
  [ "$drop" -gt 0 ] || break
  [ -e "$old" ] || continue
  rm -f -- "$old"
  echo "pruned: $old" >&2
  drop=$((drop - 1))
done
'''
KEEP_BACKUPS = 5  # hub-side config.yaml backups kept by default (each holds the secrets of its time, 0600)


class ApplyError(HubError):
    """The apply cannot start (stale plan, a config changed by someone else, an unfinished apply elsewhere)."""


class ApplyStopped(HubError):
    """The operator asked to stop: the apply rolls back like after any failure."""


@dataclass
class Action:
    id: str
    title: str
    work: Any = None  # the sub-plan (wizard.hub.work.RemoteWork) this action belongs to; None: config.yaml's


@dataclass
class Plan:
    old_text: str
    new_text: str
    diff: str  # unified, secrets masked
    actions: list[Action]
    proxy_changed: bool  # the proxy's settings (https, http, traefik_api) differ: reload-proxy
    resuming: dict | None = None  # the unfinished apply this plan completes
    keep_backups: int = KEEP_BACKUPS  # hub-side config.yaml backups kept after this apply's own
    work: list = field(default_factory=list)  # sub-plans of remote work (wizard.hub.work.RemoteWork), in plan order
    # What write-config writes when a sub-plan writes the final new_text itself later (Let's Encrypt: the staging CA
    # first, wizard.https.work); None: new_text. Holds secrets like new_text.
    first_text: str | None = field(default=None, repr=False)

    @property
    def changed(self) -> bool:
        return self.old_text != self.new_text

    @property
    def ssh(self) -> Any:
        """The SSH access sub-plan's ``wizard.sshaccess.engine.SshPlan`` (None when the plan has none)."""
        return next((w.plan for w in self.work if w.name == "ssh"), None)

    @property
    def refusals(self) -> list[str]:
        """Why the plan cannot be applied (a sub-plan's refusals, each ``name: reason``); empty when it can."""
        return [f"{w.name}: {reason}" for w in self.work for reason in w.refusals]

    def steps(self) -> list[Action]:
        """Every action in the order an apply runs them: BEFORE sub-plans, config.yaml's, AFTER sub-plans."""
        from wizard.hub.work import BEFORE

        def of(stage_before: bool) -> list[Action]:
            return [Action(aid, title, w) for w in self.work if (w.stage == BEFORE) == stage_before
                    for aid, title in w.actions]

        return of(True) + list(self.actions) + of(False)

    def action_lines(self) -> list[str]:
        """The numbered action list as Review and ``apply --dry-run`` show it (one entry per action)."""
        return [f"  {number}. {action.title}" for number, action in enumerate(self.steps(), 1)]

    def render(self) -> str:
        lines = [self.diff.rstrip("\n") if self.diff else "config.yaml: no change"]
        if self.resuming:
            lines.append(f"Resuming the unfinished apply {self.resuming['id']} (it stopped at "
                         f"{self.resuming.get('stage', 'the start')}).")
        steps = self.action_lines()
        lines.append("Actions:" if steps else "Nothing to do.")
        lines += steps
        if steps:
            lines += self.rollback_lines()
        lines += [f"Refused: {reason}" for reason in self.refusals]
        return "\n".join(lines)

    def rollback_lines(self) -> list[str]:
        """What a failure or a stop undoes, part by part."""
        out = ["If any action fails or you stop the apply, everything done is undone, in reverse order:"]
        out += [f"  - {w.name}: {w.rollback}" for w in self.work if w.actions]
        if self.actions:
            out.append("  - config.yaml: the previous file is written back byte for byte and the hub reloaded")
        return out


HUB_HOLDS = ("old", "new", "other", "unknown")


@dataclass
class ApplyResult:
    """What an apply did. ``hub_holds`` says which config.yaml the hub holds afterwards, read back from the hub:
    ``old`` (the file the plan was made from), ``new``, ``other`` (neither: someone else's file, or a restore that
    could not put the old one back) or ``unknown`` (the hub could not be reached to tell; it is the old or the new
    file, since every write is checked on the hub before it replaces anything)."""

    ok: bool
    apply_id: str
    done: list[str] = field(default_factory=list)
    error: str | None = None
    rolled_back: bool = False
    rollback_errors: list[str] = field(default_factory=list)
    hub_holds: str = "old"
    notes: list[str] = field(default_factory=list)
    changed_hub: bool = False  # whether this apply wrote (or may have written) config.yaml
    stopped: bool = False  # the operator stopped it (Applier.stop)
    hub_backup: str | None = None
    work_rollback: list[str] = field(default_factory=list)  # each sub-plan rolled back: "name: undone" / problems

    @property
    def restore_failed(self) -> bool:
        """The one case for exit status 3: the hub is known to hold neither the old nor the new config.yaml."""
        return not self.ok and self.changed_hub and self.hub_holds == "other"

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 3 if self.restore_failed else 2

    def summary(self) -> str:
        if self.ok:
            return f"Applied ({', '.join(self.done) or 'nothing to do'})."
        text = f"Apply failed: {self.error}."
        kept = (" The previous config.yaml is in the session's store"
                + (f" and on the hub as {self.hub_backup}." if self.hub_backup else "."))
        config_errors = [e for e in self.rollback_errors if e.split(":", 1)[0] in _CONFIG_STEPS]
        restore = "; ".join(config_errors)
        work = (" Other remote work: " + "; ".join(self.work_rollback) + ".") if self.work_rollback else ""
        if self.hub_holds == "old":
            if self.rolled_back and not config_errors:
                return text + " The previous config.yaml was restored byte for byte and the hub reloaded." + work
            if self.rolled_back:
                return text + f" The previous config.yaml was restored byte for byte, but: {restore}." + work
            if self.work_rollback:
                return text + " config.yaml was not changed: the hub holds the previous one." + work
            return text + " Nothing on the hub was changed: it holds the previous config.yaml."
        if self.hub_holds == "new":
            return (text + " The hub holds the NEW config.yaml: putting the previous one back failed"
                    + (f" ({restore})" if restore else "") + "." + kept
                    + " Run apply again once the cause is fixed." + work)
        if self.hub_holds == "unknown":
            return (text + " The hub could not be reached to tell which config.yaml it holds: it is the previous or "
                    "the new file, never part of one (the hub checks every write's size and sha256 before it "
                    "replaces anything)." + (f" Restoring failed: {restore}." if restore else "")
                    + " Run apply again when the link is back: it finds out which and finishes or starts again."
                    + work)
        if not self.changed_hub:
            return (text + " This apply changed nothing: config.yaml on the hub is another file than the one the "
                    "plan was made from (changed by someone else); review it and plan again." + work)
        return (text + " RESTORE FAILED: config.yaml on the hub is neither the previous nor the new file"
                + (f" ({restore})" if restore else "") + " — look at the hub now." + kept + work)


_CONFIG_STEPS = ("restore-config", "reload-proxy", "reload-hub")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def config_path(target: HubTarget) -> PurePosixPath:
    return target.prefix / "config" / "config.yaml"


def read_config(target: HubTarget, *, require_tljh: bool = False) -> str:
    """The hub's config.yaml ('' when TLJH has none yet). One round trip (two when the file is missing and
    ``require_tljh``: then ``ApplyError`` "no TLJH under PREFIX" unless TLJH's ``tljh-config`` is there)."""
    try:
        return target.read_file(config_path(target)).decode("utf-8")
    except FileNotFoundError:
        if require_tljh and not target.run(["test", "-e", target.tljh_config], sudo=True).ok:
            raise ApplyError(f"no TLJH under {target.prefix} on the hub ({target.tljh_config} is missing): install "
                             "TLJH first, or give its prefix (connection.tljh_prefix / --prefix)") from None
        return ""
    except UnicodeDecodeError:
        raise ApplyError(f"{config_path(target)} on the hub is not UTF-8 text; fix it by hand first") from None


def render_text(answers, old_text: str, tljh_version: str) -> str:
    """The new config.yaml: the hub's file updated in place with the rendered answers, validated."""
    from wizard import yamlio
    from wizard.answers import AnswersError
    from wizard.fields import ValidationError
    from wizard.tljh import config as tljh_config

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


PROXY_SECTIONS = ("http", "https", "traefik_api")


def _proxy_settings(text: str) -> dict[str, Any]:
    """What TLJH builds the proxy's settings from in config ``text``: the ``http``, ``https`` and ``traefik_api``
    sections merged over TLJH's defaults (``wizard.tljh.config.effective``), as ``tljh/traefik.py``
    ``ensure_traefik_config`` reads them through ``load_config``. An absent section and one that spells out the
    defaults (``https: {enabled: false}``) are the same proxy, so neither needs a reload."""
    from wizard import yamlio
    from wizard.tljh.config import effective

    merged = effective(yamlio.loads(text) if text.strip() else None)
    return {key: merged.get(key) for key in PROXY_SECTIONS}


def plan(answers, old_text: str, *, tljh_version: str = "2.0.0", session=None,
         keep_backups: int = KEEP_BACKUPS, smoke: bool = False, smoke_credential: bool = False) -> Plan:
    """What applying ``answers`` to a hub whose config.yaml is ``old_text`` would do. Touches nothing.
    ``keep_backups``: how many of the wizard's config.yaml backups stay on the hub (older ones are removed).
    ``smoke``: end with the smoke test (``wizard.hub.smoke``); ``smoke_credential``: install its credential first
    (the hub does not hold it yet)."""
    keep_backups = max(1, int(keep_backups))
    from wizard.tljh import config as tljh_config

    new_text = render_text(answers, old_text, tljh_version)
    pending = _unfinished(session)
    resuming = None
    if pending and sha256(old_text) == pending["new_sha256"] == sha256(new_text):
        resuming = pending  # the file was written; the reloads and the check did not finish
    proxy_changed = _proxy_settings(old_text) != _proxy_settings(new_text) or bool(
        resuming and (resuming.get("proxy_changed") or resuming.get("https_changed")))  # older journals: https_changed
    actions: list[Action] = []
    if new_text != old_text:
        actions += [Action("backup", f"back up config.yaml (on the hub, keeping the last {keep_backups} such "
                                     "backups, and in the session)"),
                    Action("write-config", "write config.yaml atomically (0600, under config.yaml.lock)")]
    if new_text != old_text or resuming:
        if proxy_changed:
            actions.append(Action("reload-proxy", "tljh-config reload proxy (its settings changed)"))
        if smoke and smoke_credential:
            from wizard.hub import smoke as smoke_test

            actions.append(Action("smoke-credential", smoke_test.describe(PurePosixPath("PREFIX"))))
        actions += [Action("reload-hub", "tljh-config reload hub"),
                    Action("verify", "verify the hub: /hub/api, the login page, the OAuth redirect, the idle culler")]
        if smoke:
            actions.append(Action("smoke", "smoke test: a temporary user's server starts and runs one cell"))
    return Plan(old_text, new_text, tljh_config.masked_diff(old_text, new_text), actions, proxy_changed, resuming,
                keep_backups)


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
                 verify_timeout: float = VERIFY_TIMEOUT, on_progress: Progress | None = None,
                 keep_backups: int | None = None, write_timeout: float = 60.0):
        self.target, self.session = target, session
        self.write_timeout = write_timeout  # the config.yaml write; TLJH's lock is waited for half of it
        self.reload_timeout, self.verify_timeout = reload_timeout, verify_timeout
        self.keep_backups = keep_backups  # None: what the plan says
        self.on_progress = on_progress or (lambda *_: None)
        self.log = session.logger()
        self.diagnoses: list = []  # from the verify and smoke actions
        self._stop = threading.Event()
        self._mask = Masker(session.secret_values())

    def stop(self) -> None:
        """Ask a running ``execute`` (in another thread) to stop and roll back: the command running now is given up
        on, and the failure path runs — read back which file the hub holds, restore the old one if this apply
        changed it, reload. ``execute`` returns when that is done (the rollback itself is not interrupted)."""
        self._stop.set()
        self.target.cancel.set()

    def execute(self, plan: Plan) -> ApplyResult:
        if plan.refusals:
            raise ApplyError("the plan is refused: " + "; ".join(plan.refusals))
        if plan.resuming:
            record = dict(plan.resuming)
        else:
            pending = _unfinished(self.session)
            if pending and sha256(plan.old_text) not in (pending["old_sha256"], pending["new_sha256"],
                                                         pending.get("first_sha256")):
                raise ApplyError(f"an earlier apply ({pending['id']}) did not finish and config.yaml on the hub "
                                 "is neither its old nor its new file: someone else changed it. Review the hub, "
                                 "then plan again.")
            record = {"id": time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + f"-{time.time_ns() % 10**6:06d}",
                      "old_sha256": sha256(plan.old_text), "new_sha256": sha256(plan.new_text),
                      "proxy_changed": plan.proxy_changed, "status": "in-progress", "stage": "planned",
                      "started": time.time()}
            if plan.first_text is not None:
                record["first_sha256"] = sha256(plan.first_text)
        result = ApplyResult(ok=False, apply_id=record["id"])
        steps = plan.steps()
        if not steps:
            result.ok = True
            return result
        self._mask_config_secrets(plan)
        self._save(record)
        self.log.info("apply %s: %s", record["id"], "resuming" if plan.resuming else "starting")
        self.log.info("plan:\n%s", self.mask(plan.render()))
        written = bool(plan.resuming)
        config_started = bool(plan.resuming)
        done_work: list[Action] = []
        action = steps[0]
        try:
            for action in steps:
                if self._stop.is_set():
                    raise ApplyStopped(f"stopped by the operator before {action.id}")
                if action.work is None:
                    config_started = True
                    self._step(record, action, plan)
                else:
                    self._work_step(record, action, plan)
                    done_work.append(action)
                result.done.append(action.id)
                written = written or action.id == "write-config"
        except HubError as error:
            exc: Exception = error
            self.target.cancel.clear()  # a stop interrupts the action, never the rollback
            if self._stop.is_set():
                exc = ApplyStopped(f"stopped by the operator during {action.id}")
                self.session.journal("stop", "done", apply_id=record["id"], during=action.id)
            result.error = f"{action.title.splitlines()[0]}: {exc}"
            result.stopped = self._stop.is_set()
            result.hub_backup = record.get("hub_backup")
            self.log.error("apply %s failed at %s: %s", record["id"], action.id, self.mask(str(exc)))
            from wizard.hub.work import BEFORE

            # What was done after config.yaml's part goes first, then config.yaml, then what came before it.
            self._roll_back_work(record, [a for a in done_work if a.work.stage != BEFORE], result)
            holds = "old"
            if config_started:
                # Which file does the hub hold now? Read it back rather than guess from the failure.
                holds = self._hub_holds(plan)
                result.changed_hub = written or (action.id == "write-config" and holds != "old")
                if result.changed_hub and holds != "old":
                    self._roll_back(record, plan, result)
                    holds = self._hub_holds(plan)
                elif written:  # the old file is back already (someone restored it?): the running hub must match
                    self._roll_back(record, plan, result, write=False)
            self._roll_back_work(record, [a for a in done_work if a.work.stage == BEFORE], result)
            result.hub_holds = holds
            result.rolled_back = result.rolled_back and holds == "old"
            if not result.changed_hub:
                record["status"] = "failed"  # nothing of this apply reached config.yaml
            elif holds == "old":
                record["status"] = "rolled-back"
            else:
                # The next apply reads the hub and finishes (new file) or starts again (old file).
                record["status"] = "in-progress"
            record["hub_holds"] = holds
            self._save(record)
            return result
        record["status"], record["stage"], record["finished"] = "done", "done", time.time()
        self._save(record)
        self.log.info("apply %s done", record["id"])
        result.ok = True
        result.hub_holds = "new"
        return result

    def _context(self, plan: Plan | None, action_id: str) -> Any:
        from pathlib import Path

        from wizard.hub.work import WorkContext

        return WorkContext(self.target, self.session, Path(self.session.dir),
                           lambda line: self.on_progress(action_id, "output", self.mask(str(line))), plan)

    def _work_step(self, record: dict, action: Action, plan: Plan) -> None:
        """One action of a sub-plan: journaled and reported like config.yaml's; a Diagnosis outcome is kept."""
        from wizard.diagnosis import Diagnosis, Status
        from wizard.hub.work import WorkFailed

        self.session.journal(action.id, "intent", apply_id=record["id"], part=action.work.name)
        self.on_progress(action.id, "start", self.mask(action.title.splitlines()[0]))
        try:
            outcome = action.work.run(action.id, self._context(plan, action.id))
            if isinstance(outcome, Diagnosis) and outcome.status is Status.ERROR:
                raise WorkFailed(outcome)
        except HubError as exc:
            if isinstance(exc, WorkFailed):
                self.diagnoses.append(exc.diagnosis)
            self.session.journal(action.id, "failed", apply_id=record["id"], error=self.mask(str(exc)))
            self.on_progress(action.id, "failed", self.mask(str(exc)))
            raise
        detail = outcome.summary if isinstance(outcome, Diagnosis) else str(outcome or "")
        if isinstance(outcome, Diagnosis):
            self.diagnoses.append(outcome)
        record.setdefault("work_done", []).append(action.id)
        record["stage"] = action.id
        self._save(record)
        self.session.journal(action.id, "done", apply_id=record["id"], **({"detail": self.mask(detail)}
                                                                             if detail else {}))
        self.on_progress(action.id, "done", self.mask(detail))

    def _roll_back_work(self, record: dict, done: list[Action], result: ApplyResult) -> None:
        """Each sub-plan with actions done undoes them (``RemoteWork.roll_back``), the last sub-plan first."""
        parts: list = []
        for item in done:
            if item.work not in parts:
                parts.append(item.work)
        for work in reversed(parts):
            ids = [a.id for a in done if a.work is work]
            name = f"rollback-{work.name}"
            self.session.journal(name, "intent", apply_id=record["id"], undo=ids)
            self.on_progress(name, "start", f"{work.name}: {work.rollback}")
            try:
                problems = list(work.roll_back(ids, self._context(None, name)) or [])
            except HubError as exc:
                problems = [str(exc)]
            self.target.cancel.clear()
            problems = [self.mask(p) for p in problems]
            result.work_rollback.append(f"{work.name}: " + ("; ".join(problems) if problems else "undone"))
            result.rollback_errors += [f"{work.name}: {p}" for p in problems]
            self.session.journal(name, "failed" if problems else "done", apply_id=record["id"],
                                 **({"error": "; ".join(problems)} if problems else {}))
            self.on_progress(name, "failed" if problems else "done", "; ".join(problems))

    def _mask_config_secrets(self, plan: Plan) -> None:
        """Secrets of the old and the new config.yaml (not only today's answers) are masked in the log, the
        journal and the progress shown: a hub's error during a rollback can echo the previous client secret."""
        from wizard.tljh.config import secret_values_in

        found = secret_values_in(plan.old_text) | secret_values_in(plan.new_text)
        self.session.redact_also.update(found)
        self._mask = Masker([*found, *self.session.secret_values()])

    def mask(self, text: str) -> str:
        """``text`` with the secrets of both config.yaml files and of the answers masked (``wizard.masking``)."""
        return self._mask(text)

    def _hub_holds(self, plan: Plan) -> str:
        try:
            current = sha256(read_config(self.target))
        except (HubError, ValueError) as exc:
            self.log.error("cannot read config.yaml back from the hub: %s", exc)
            return "unknown"
        if current == sha256(plan.old_text):
            return "old"
        # The first file of a plan whose sub-plan writes the final one later (Let's Encrypt's staging CA) counts as
        # the new file: the same answers, one https setting short of it.
        return "new" if current in (sha256(plan.new_text), sha256(plan.first_text or plan.new_text)) else "other"

    # --- actions -------------------------------------------------------------------------------------------------

    def _step(self, record: dict, action: Action, plan: Plan) -> None:
        self.session.journal(action.id, "intent", apply_id=record["id"])
        self.on_progress(action.id, "start", action.title)
        try:
            detail = getattr(self, "_" + action.id.replace("-", "_"))(record, plan)
        except HubError as exc:
            self.session.journal(action.id, "failed", apply_id=record["id"], error=str(exc))
            self.on_progress(action.id, "failed", self.mask(str(exc)))
            raise
        record["stage"] = action.id
        self._save(record)
        self.session.journal(action.id, "done", apply_id=record["id"], **({"detail": detail} if detail else {}))
        self.on_progress(action.id, "done", self.mask(detail or ""))

    def _backup(self, record: dict, plan: Plan) -> str:
        path = config_path(self.target)
        backup = f"{path}.tljh-wizard-{record['id']}.bak"
        keep = max(1, int(self.keep_backups or plan.keep_backups))
        copy = self.target.run(["sh", "-c", _BACKUP_SCRIPT, "backup", str(path), backup, str(keep)],
                               sudo=True, check=True)
        current = copy.stdout.decode("utf-8", "replace")
        if current != plan.old_text:
            raise ApplyError("config.yaml on the hub changed since the plan was made; plan again")
        self.session.write_secret(f"config-{record['id']}.yaml", plan.old_text)
        record["hub_backup"] = backup
        pruned = [line.split(": ", 1)[1] for line in copy.stderr.decode("utf-8", "replace").splitlines()
                  if line.startswith("pruned: ")]
        if pruned:
            self.log.info("removed older config.yaml backups (keeping the last %d): %s", keep, ", ".join(pruned))
            return (f"{backup} (kept the last {keep} backups; removed {len(pruned)} older: "
                    + ", ".join(p.rsplit("/", 1)[-1] for p in pruned) + ")")
        return backup

    def _write_config(self, record: dict, plan: Plan) -> str:
        path = config_path(self.target)
        data = (plan.first_text if plan.first_text is not None else plan.new_text).encode("utf-8")
        notes = self.target.write_file(path, data, mode=0o600, lock=f"{path}.lock", timeout=self.write_timeout)
        for note in notes or ():
            self.log.warning("%s", note)
        first = " (the first of two: a later action writes the final file)" if plan.first_text is not None else ""
        return "; ".join(notes or ()) or f"{len(data)} bytes{first}, size and sha256 checked on the hub"

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
        from wizard.hub import verify

        return self._diagnosed(verify.run(self.target, plan.new_text, self.verify_timeout))

    def _smoke_credential(self, record: dict, plan: Plan) -> str:
        from wizard.hub import smoke

        smoke.install(self.target, self.session)
        return f"{smoke.snippet_path(self.target.prefix)}, {smoke.token_path(self.target.prefix)} (0600)"

    def _smoke(self, record: dict, plan: Plan) -> str:
        from wizard.hub import smoke

        token = self.session.read_secret(smoke.SECRET_NAME)
        if not token:
            raise HubError("the session holds no smoke-test credential: apply again to install one, or pass "
                           "--no-smoke")
        token = (token.decode() if isinstance(token, bytes) else token).strip()
        if hasattr(self.session, "redact_also"):
            self.session.redact_also.add(token)
        return self._diagnosed(smoke.run(self.target, plan.new_text, token)[0])

    def _diagnosed(self, diagnoses: list) -> str:
        """Keep the diagnoses; raise with the failing ones (and their log tail) or return the passing summaries."""
        from wizard.diagnosis import Status

        self.diagnoses.extend(diagnoses)
        failed = [d for d in diagnoses if d.status is Status.ERROR]
        if failed:
            tail = next((d.details for d in failed if d.details), "")
            tail = "\n".join(tail.strip().splitlines()[-15:])
            raise HubError("; ".join(f"{d.id}: {d.summary}" for d in failed) + (f"\n{tail}" if tail else ""))
        return "; ".join(d.summary for d in diagnoses if d.status is not Status.SKIPPED) or \
            "; ".join(d.summary for d in diagnoses)

    def _roll_back(self, record: dict, plan: Plan, result: ApplyResult, write: bool = True) -> None:
        """Put the old bytes back (verified on the hub like every write), reload what was reloaded, and record each
        step's outcome. ``write=False``: the hub holds the old file already; only the reloads are redone."""
        self.session.journal("rollback", "intent", apply_id=record["id"])
        self.on_progress("rollback", "start", "restoring the previous config.yaml")
        path = config_path(self.target)
        old = self.session.read_secret(f"config-{record['id']}.yaml")
        old_bytes = old if old is not None else plan.old_text.encode("utf-8")
        steps: list[tuple[str, Callable[[], object]]] = []
        if write:
            steps.append(("restore-config",
                          lambda: self.target.write_file(path, old_bytes, mode=0o600, lock=f"{path}.lock",
                                                         timeout=self.write_timeout)))
        if plan.proxy_changed:
            steps.append(("reload-proxy", lambda: self._reload("proxy")))
        steps.append(("reload-hub", lambda: self._reload("hub")))
        for name, step in steps:
            try:
                step()
            except HubError as exc:
                result.rollback_errors.append(self.mask(f"{name}: {exc}"))
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


def apply(target: HubTarget, answers, session, *, tljh_version: str = "2.0.0", keep_backups: int = KEEP_BACKUPS,
          **options) -> tuple[Plan, ApplyResult]:
    """Plan against the hub's current config.yaml and execute (resuming an unfinished apply when there is one)."""
    current = plan(answers, read_config(target, require_tljh=True), tljh_version=tljh_version, session=session,
                   keep_backups=keep_backups)
    return current, Applier(target, session, **options).execute(current)


# --- the complete plan ---------------------------------------------------------------------------------------------


def build_plan(answers, target: HubTarget, session=None, *, tljh_version: str = "2.0.0",
               keep_backups: int = KEEP_BACKUPS, smoke: bool = False, smoke_credential: bool | None = None,
               options=None) -> Plan:
    """The complete plan for applying ``answers`` to ``target``: config.yaml's diff and actions, and every sub-plan of
    remote work (``wizard.hub.work.BUILDERS``: package installs, freeze, restore, SSH access, certificates), with the
    backup bundle first when anything changes. READ-ONLY: builders only read the hub. The one function every
    front-end plans with (Review, the plain wizard, ``tljh-wizard apply``).

    ``smoke_credential``: None = install the smoke test's credential when the hub or the session lacks it.
    ``options``: ``wizard.hub.work.PlanOptions``. Raises ``ApplyError`` (no TLJH, config.yaml unreadable),
    ``AnswersError`` (answers TLJH would refuse) or ``HubError`` (the link)."""
    from pathlib import Path

    from wizard.hub import work as remote

    options = options or remote.PlanOptions()
    if options.local_dir is None and session is not None:
        options.local_dir = Path(session.dir)
    if options.host is None:
        options.host = target.name
    old_text = read_config(target, require_tljh=True)
    if smoke and smoke_credential is None:
        smoke_credential = not smoke_ready(target, session)
    current = plan(answers, old_text, tljh_version=tljh_version, session=session, keep_backups=keep_backups,
                   smoke=smoke, smoke_credential=bool(smoke and smoke_credential))
    options.config = current
    for build in remote.builders():
        built = build(answers, target, session, options)
        for part in built if isinstance(built, (list, tuple)) else [built]:
            if part is not None and (part.actions or part.refusals):
                current.work.append(part)
                if part.first_text is not None and part.actions:
                    current.first_text = part.first_text
    if current.actions or any(part.actions for part in current.work):
        from wizard.hub import backup_work

        bundle = backup_work.build(answers, target, session, options)
        if bundle is not None:
            current.work.insert(0, bundle)
    return current


def smoke_ready(target: HubTarget, session) -> bool:
    """The smoke test's credential is on the hub and its token in the session's store (else the plan installs it)."""
    from wizard.hub import smoke as smoke_test

    return session is not None and bool(session.read_secret(smoke_test.SECRET_NAME)) and smoke_test.installed(target)


class SshWork(RemoteWork):
    """SSH access (``wizard.sshaccess.engine``) as a sub-plan: accounts, authorized_keys, password login off, the
    verifying login. Runs after config.yaml's part."""

    name = "ssh"
    stage = AFTER
    rollback = ("nothing is undone here: keys written stay (the wizard's lines end with #tljh-wizard); a password-"
                "login change that cannot be proven by a new key login reverts itself")

    def __init__(self, ssh_plan):
        super().__init__()
        self.plan = ssh_plan
        self.actions = list(ssh_plan.actions)
        self.refusals = list(ssh_plan.refusals)
        self.findings = list(ssh_plan.findings)

    def run(self, action_id: str, ctx):
        from wizard.sshaccess import engine

        return engine._ACTIONS[action_id](self.plan, ctx.target)


def build_ssh_work(answers, target: HubTarget, session, options) -> SshWork | None:
    """The SSH access sub-plan (None without SSH answers, and on the demo's sandbox: no sshd, no accounts)."""
    if options.sandbox:
        return None
    from wizard.sshaccess import engine

    if options.sshd_paths is not None:
        target.sshd_paths = options.sshd_paths
    planned = engine.plan(answers, target)
    return SshWork(planned) if planned is not None else None
