"""The HTTPS sub-plans of an apply, in the shape of ``wizard.hub.work`` (the remote-work protocol).

One ``wizard.https.plan.HttpsPlan`` gives two parts: ``https`` BEFORE config.yaml (ordering and uploading a
certificate; keeping a copy of acme.json) and ``https-check`` AFTER it (the Let's Encrypt stages and the check of
what the hub serves). Both run the plan's own action code (``HttpsPlan.execute``). The BEFORE part's rollback puts
back every file the HTTPS actions changed (certificate, key, acme.json) and reloads the proxy, after config.yaml has
been restored by the apply engine; the AFTER part undoes nothing of its own (the production switch writes config.yaml,
which the engine restores).

``build(answers, target, session, options)`` is the builder (``wizard.hub.work.BUILDERS``); with Let's Encrypt the
BEFORE part carries ``first_text``, the config.yaml that ``write-config`` writes first (the staging CA), and the AFTER
part's ``https-production`` writes the final one. ``options.extra`` may carry ``https_env`` (a ``wizard.https.plan.HttpsEnvironment`` or its keyword dict: test CAs, the address where the
served certificate is checked, waits), ``dns_diagnoses`` (the DNS check's diagnoses, or a callable running it: the
gate of the ACME modes) and ``tljh_version``.
"""

from __future__ import annotations

from wizard.hub.work import AFTER, BEFORE, RemoteWork


class HttpsWork(RemoteWork):
    """One stage of the HTTPS plan."""

    def __init__(self, plan, stage: str) -> None:
        super().__init__()
        from wizard.https.plan import AFTER as PLAN_AFTER
        from wizard.https.plan import BEFORE as PLAN_BEFORE

        self.plan = plan
        self.stage = stage
        # config.yaml's write-config writes this first (Let's Encrypt's staging CA); https-production the final file
        self.first_text = plan.first_text if stage == BEFORE else None
        self.name = "https" if stage == BEFORE else "https-check"
        wanted = PLAN_BEFORE if stage == BEFORE else PLAN_AFTER
        self.actions = [(step.id, step.title) for step in plan.steps if step.phase == wanted]
        if stage == BEFORE:
            self.refusals = list(plan.refusals)
            self.findings = list(plan.notes)
            self.rollback = ("the certificate files and acme.json the hub held before are written back (or removed "
                             "when there were none) and the proxy reloaded")
        else:
            self.rollback = "nothing of its own: config.yaml's rollback puts the previous https settings back"

    def run(self, action_id: str, ctx):
        self.plan.apply_id = self.plan.apply_id or _apply_id(ctx.session)
        return self.plan.execute(action_id, ctx.target, ctx.session,
                                 progress=lambda phase, message: ctx.output(message))

    def roll_back(self, done: list[str], ctx) -> list[str]:
        if self.stage != BEFORE:
            return []
        problems = self.plan.rollback(ctx.target, ctx.session)
        if self.plan.saved and not problems:
            result = ctx.target.run([ctx.target.tljh_config, "reload", "proxy"], sudo=True,
                                    timeout=self.plan.env.letsencrypt.reload_timeout)
            if not result.ok:
                problems.append(f"tljh-config reload proxy failed (exit {result.exit_status}): {result.text.strip()}")
        return problems


def _apply_id(session) -> str:
    record = session.record("apply") if session is not None else None
    return str(record.get("id")) if isinstance(record, dict) and record.get("id") else "apply"


def build(answers, target, session, options) -> list[HttpsWork] | None:
    """The HTTPS parts for ``answers`` on ``target`` (None: no certificate work; the demo's sandbox has none, a CA
    cannot reach it). Read-only: reads config.yaml and the hub's certificate files, asks nothing of a CA."""
    from wizard.https.plan import HttpsEnvironment
    from wizard.https.plan import build as build_plan
    from wizard.hub.apply import read_config, render_text

    if options.sandbox:
        return None
    extra = options.extra or {}
    env = extra.get("https_env")
    if not isinstance(env, HttpsEnvironment):
        env = HttpsEnvironment(**(env or {}))
    if options.config is not None:
        old_text, new_text = options.config.old_text, options.config.new_text
    else:
        old_text = read_config(target)
        new_text = render_text(answers, old_text, extra.get("tljh_version") or "2.0.0")
    plan = build_plan(answers, old_text, new_text, target, session=session, env=env,
                      dns_diagnoses=extra.get("dns_diagnoses"))
    if plan is None:
        return None
    parts = [HttpsWork(plan, BEFORE), HttpsWork(plan, AFTER)]
    return [part for part in parts if part.actions or part.refusals or part.findings]
