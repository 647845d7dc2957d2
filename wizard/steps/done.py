"""Done: what config.yaml on the hub holds now, the exports, and the commands that go on from here."""

from __future__ import annotations

from pathlib import Path

from wizard.context import WizardContext, demo_prefix, describe_target, engine_available
from wizard.diagnosis import Diagnosis, Status
from wizard.steps.connect import ensure_target


def hub_config_state(ctx: WizardContext) -> Diagnosis:
    """Read config.yaml on the hub again and say whether it is the file the last apply left there (the new file
    after a finished apply, the old one after a rollback). One round trip; read-only."""
    from wizard.hub import apply as hub_apply
    from wizard.hub.target import HubError

    record = ctx.session.record(hub_apply.RECORD)
    if not isinstance(record, dict) or not record.get("new_sha256"):
        return Diagnosis("done.config", Status.WARNING, "no apply recorded in this session: config.yaml on the hub "
                         "was not changed by the wizard")
    missing = ensure_target(ctx)
    if missing:
        return Diagnosis("done.config", Status.WARNING, "config.yaml on the hub could not be read again: "
                         + "; ".join(d.summary for d in missing))
    try:
        digest = hub_apply.sha256(hub_apply.read_config(ctx.hub))
    except HubError as exc:
        return Diagnosis("done.config", Status.WARNING, f"config.yaml on the hub could not be read again: {exc}")
    status = record.get("status")
    if digest == record["new_sha256"]:
        if status == "done":
            return Diagnosis("done.config", Status.OK, f"config.yaml on the hub is the applied file "
                             f"(apply {record['id']}, sha256 {digest[:12]}…)")
        return Diagnosis("done.config", Status.WARNING, f"config.yaml on the hub is the new file, but apply "
                         f"{record['id']} did not finish ({status}): apply again to complete it")
    if digest == record.get("old_sha256"):
        if status == "done":
            return Diagnosis("done.config", Status.ERROR, f"config.yaml on the hub is the file from before apply "
                             f"{record['id']}: the applied one was replaced since (by hand, or a restore)")
        return Diagnosis("done.config", Status.WARNING, f"config.yaml on the hub is the previous file: apply "
                         f"{record['id']} " + ("was rolled back" if status == "rolled-back" else
                                               "changed nothing" if status == "failed" else f"is {status}"))
    return Diagnosis("done.config", Status.ERROR, f"config.yaml on the hub is neither the applied nor the previous "
                     f"file of apply {record['id']}: it was changed since (tljh-wizard check shows the drift)")


def export(ctx: WizardContext, kind: str, directory: Path) -> Path:
    """Write one export into ``directory``; secrets only into the 0600 secrets file."""
    from wizard import export as exporter
    from wizard.files import atomic_write, private_dir

    private_dir(directory)
    answers = ctx.answers
    if kind in ("answers", "secrets"):
        public, secret = exporter.render_answers(answers, include_secrets=False)
        if kind == "answers":
            return atomic_write(directory / "answers.yaml", public, mode=0o644)
        return atomic_write(directory / "secrets.yaml", secret, mode=0o600)
    if kind == "tljh":
        text = exporter.render_tljh(answers, "2.0.0", None, include_secrets=False)
        return atomic_write(directory / "config.yaml", text, mode=0o644)
    if kind == "z2jh":
        if not engine_available("wizard.z2jh"):
            raise LookupError("the Z2JH export is not available in this version")
        return export_z2jh(ctx, directory)[0]
    raise ValueError(kind)


def export_z2jh(ctx: WizardContext, directory: Path) -> tuple[Path, Path]:
    """The Zero to JupyterHub export as ``export --format z2jh --secrets`` writes it: ``z2jh/values.yaml`` and the
    chart's secrets overlay ``z2jh/secrets.yaml`` (0600, in a 0700 folder of its own, so it never meets the
    wizard's own secrets.yaml). The values header's install line names both files, run from that folder."""
    from wizard import z2jh
    from wizard.files import atomic_write, private_dir

    if not engine_available("wizard.z2jh"):
        raise LookupError("the Z2JH export is not available in this version")
    folder = directory / "z2jh"
    private_dir(directory)
    private_dir(folder)
    values, secrets = z2jh.export(ctx.answers, include_secrets=False)
    secrets_path = atomic_write(folder / "secrets.yaml", secrets, mode=0o600)
    return atomic_write(folder / "values.yaml", values, mode=0o644), secrets_path


def followups(ctx: WizardContext) -> list[tuple[str, str]]:
    """(command, what it does) for this session, each one that works on it as written: for the demo, against its
    sandbox on this machine (never the answers' addresses, which the demo never reached)."""
    import shlex

    name = shlex.quote(ctx.session.name)
    if ctx.mode == "sandbox":
        return [("tljh-wizard demo", "resume or walk the demo again (--plain: the same steps as prompts)"),
                ("tljh-wizard check --quiet demo", "audit the demo hub (read-only; only problems are printed)"),
                ("tljh-wizard backup demo", "pull a backup bundle of the demo hub"),
                ("tljh-wizard env list demo", "list the demo hub's environment snapshots"),
                ("tljh-wizard export demo -o answers.yaml --secrets secrets.yaml", "the answers, to replay"),
                ("tljh-wizard sessions", "the saved sessions")]
    resume = "tljh-wizard --local" if ctx.mode == "local" else f"tljh-wizard {shlex.quote(describe_target(ctx))}"
    lines = [(resume, "resume this wizard where it stopped"),
             (f"tljh-wizard check {name}", "audit the hub (read-only; for cron: " + cron_line(ctx) + ")")]
    if ctx.answers.get("https.mode") == "acme-dns":
        lines.append((f"tljh-wizard renew {name}", "renew the certificate when due (for cron)"))
    lines += [(f"tljh-wizard backup {name}" if ctx.mode == "ssh" else "tljh-wizard backup --local",
               "pull a backup bundle of TLJH's config and state"),
              (f"tljh-wizard export {name} -o answers.yaml --secrets secrets.yaml", "the answers, to replay")]
    return lines


def replay_line(directory: str = "tljh-wizard-exports", ctx: WizardContext | None = None) -> str:
    """The non-interactive command that replays this run from Done's answers and secrets exports (for the demo:
    onto its sandbox hub, never the answers' address). ``apply`` replays every remote action the wizard's plan holds
    (installs, the freeze, the backup bundle, certificates, SSH access)."""
    import shlex

    answers, secrets = (shlex.quote(f"{directory}/{name}.yaml") for name in ("answers", "secrets"))
    line = f"tljh-wizard apply {answers} --secrets {secrets}"
    if ctx is not None and ctx.mode == "sandbox":
        line += f" --sandbox {shlex.quote(str(ctx.sandbox_prefix or demo_prefix()))}"
    elif ctx is not None and ctx.mode == "local":
        line += " --local"
    return line


def cron_line(ctx: WizardContext) -> str:
    """The crontab line that audits this hub every morning; ``--quiet`` prints only problems, so cron mails only
    then (the session name carries the connection details)."""
    import shlex

    return f"17 7 * * * tljh-wizard check --quiet {shlex.quote(ctx.session.name)}"

