"""Step 10, Done: what was done, the exports (answers, secrets, TLJH config, Z2JH values) and the audit cron line."""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Input, Label, Static

from screens.step import StepScreen
from wizard.context import describe_target
from wizard.steps import STEPS
from wizard.steps import done as step_engine
from wizard.steps.ssh import ssh_done_lines
from wizard.walk import EXPORT_DIR, EXPORTS

_MARK = {"ok": "✔", "warning": "!", "error": "✘"}
EXPORT_LABELS = {item.kind: item.label for item in EXPORTS}
# Button labels that fit four in a row at 80 columns.
SHORT_LABELS = {"answers": "Answers", "secrets": "Secrets 0600", "tljh": "TLJH config", "z2jh": "Z2JH"}


class DoneScreen(StepScreen):
    """What was applied, the replay command and the export files come first: at 80x24 they are on screen without
    scrolling; the cron line, the follow-up commands and the SSH logins follow below."""

    step_id = "done"
    intro = "Export the answers to replay or audit this setup later."

    def compose_extra(self) -> ComposeResult:
        yield Static(self.summary(), id="summary", markup=False)
        yield Static("config.yaml on the hub: reading it again…", id="hub-config", markup=False)
        yield Static(self.replay_text(), id="replay", markup=False)
        with Horizontal(id="export-to"):
            yield Label("Export to", id="export-label")
            yield Input(value=EXPORT_DIR, id="export-dir", compact=True,
                        tooltip="A folder relative to where you started the wizard")
        with Horizontal(id="exports"):
            for item in EXPORTS:
                yield Button(SHORT_LABELS.get(item.kind, item.label), id=f"export-{item.kind}",
                             disabled=not item.available(), compact=self.app.size.height < 32)
        yield Static(self.files_text(), id="export-result", markup=False)
        yield Static(self.next_commands(), id="cron", markup=False)
        ssh = (["the demo's sandbox hub has no sshd and no accounts: nothing to log in to"]
               if self.ctx.mode == "sandbox" else ssh_done_lines(self.ctx))
        yield Static("SSH access:\n" + "\n".join(f"  {line}" for line in ssh), id="ssh-logins", markup=False)

    def directory(self) -> str:
        return self.query_one("#export-dir", Input).value.strip() or EXPORT_DIR

    def replay_text(self, directory: str = EXPORT_DIR) -> str:
        return ("Replay without prompts (after exporting Answers and Secrets):\n"
                f"  {step_engine.replay_line(directory, ctx=self.ctx)}")

    def files_text(self, directory: str = EXPORT_DIR) -> str:
        """The files each button writes, before any is pressed."""
        return (f"Files: {directory}/answers.yaml, secrets.yaml (0600), config.yaml (TLJH), "
                "z2jh/values.yaml + z2jh/secrets.yaml (0600)")

    @on(Input.Changed, "#export-dir")
    def _directory_changed(self) -> None:
        directory = self.directory()
        self.query_one("#replay", Static).update(self.replay_text(directory))
        self.query_one("#export-result", Static).update(self.files_text(directory))

    def on_mount(self) -> None:
        super().on_mount()
        self._read_hub_config()

    def next_commands(self) -> str:
        """What to run from here, each command working on this session (the demo: against its sandbox)."""
        lines = []
        if self.ctx.mode != "sandbox":
            lines += ["Audit the hub every morning (cron):", f"  {step_engine.cron_line(self.ctx)}"]
        lines.append("Next:")
        lines += [f"  {command}  — {text}" for command, text in step_engine.followups(self.ctx)]
        return "\n".join(lines)

    def next_label(self) -> str:
        return "Finish"

    @work(thread=True, exclusive=True, group="hub-config", name="hub-config")
    def _read_hub_config(self) -> None:
        """Done says what the hub holds now, read again, not what the apply reported earlier."""
        try:
            state = step_engine.hub_config_state(self.ctx)
            text = f"{_MARK.get(state.status, '?')} {state.summary}"
        except Exception as exc:  # shown, never a crash
            text = self.ctx.redact(f"? config.yaml on the hub could not be read again: {exc}")
        self.app.call_from_thread(self._show_hub_config, text)

    def _show_hub_config(self, text: str) -> None:
        self.query_one("#hub-config", Static).update(text)

    def summary(self) -> str:
        """Whether the reviewed plan was applied, then the steps grouped by state (one state each), a few lines at
        any size."""
        session = self.ctx.session
        skipped = set(session.skipped_steps)
        applied = "review" in session.state["finished_steps"]
        groups: dict[str, list[str]] = {}
        for item in STEPS[:-1]:
            state = ("skipped (the hub keeps its own)" if item.id in skipped
                     else "continued despite a failed check" if item.id in session.state["failed_steps"]
                     else "done" if item.id in session.state["finished_steps"] else "not done")
            groups.setdefault(state, []).append(item.title)
        head = (f"{describe_target(self.ctx)}: " + ("the reviewed plan was applied." if applied
                                                    else "nothing was applied in this run."))
        return "\n".join([head] + [f"  {state}: {', '.join(titles)}" for state, titles in groups.items()])

    @on(Button.Pressed, "#exports Button")
    def _export(self, event: Button.Pressed) -> None:
        kind = (event.button.id or "").removeprefix("export-")
        directory = Path(self.query_one("#export-dir", Input).value or EXPORT_DIR).expanduser()
        result = self.query_one("#export-result", Static)
        try:
            if kind == "z2jh":  # the chart's values and its secrets overlay, as `export --format z2jh --secrets`
                values, secrets = step_engine.export_z2jh(self.ctx, directory)
                text = (f"✔ wrote {values} and {secrets} (0600, the chart's secrets overlay): "
                        "helm upgrade --install … --values values.yaml --values secrets.yaml")
                path = values
            else:
                path = step_engine.export(self.ctx, kind, directory)
                text = f"✔ wrote {path}" + (" (0600)" if kind == "secrets" else "")
        except Exception as exc:  # a refused export is a message, never a crash
            result.update(self.ctx.redact(f"✘ {EXPORT_LABELS[kind]}: {exc}"[:300]))
            return
        result.update(text)
        self.ctx.log(f"exported {kind} to {path}")
