"""Widgets shared by the step screens: the step indicator, forms rendered from the engine's Field declarations,
the live table of diagnoses, and the log panel (secrets redacted)."""

from __future__ import annotations

from typing import Any, Iterable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Label, RichLog, Select, Static, Switch

from wizard.diagnosis import Diagnosis, Status
from wizard.fields import Field, ValidationError

STEP_ICONS = {"done": "✔", "current": "▶", "pending": "·", "failed": "✘", "skipped": "↷"}
STATUS_ICONS = {Status.OK: "✔", Status.WARNING: "▲", Status.ERROR: "✘", Status.SKIPPED: "–"}
STATUS_STYLES = {Status.OK: "green", Status.WARNING: "yellow", Status.ERROR: "bold red", Status.SKIPPED: "dim"}


class StepIndicator(Static):
    """Every step of the wizard with its state: done, current, pending, failed or skipped."""

    DEFAULT_CSS = """
    StepIndicator { width: 24; padding: 1 1; }
    StepIndicator.-narrow { width: 7; padding: 1 0 0 1; }
    """

    def __init__(self, steps: Iterable[tuple[str, str]], states: dict[str, str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.steps = list(steps)
        self.states = states

    def render(self) -> str:
        lines = []
        for number, (step_id, title) in enumerate(self.steps, 1):
            state = self.states.get(step_id, "pending")
            style = {"current": "bold reverse", "done": "green", "failed": "red", "skipped": "dim"}.get(state, "")
            narrow = self.has_class("-narrow")
            text = f"{STEP_ICONS[state]} {number}" if narrow else f"{STEP_ICONS[state]} {number}. {title}"
            lines.append(f"[{style}]{text}[/]" if style else text)
        return "\n".join(lines)


class FieldSwitch(Switch):
    """A yes/no field: Space toggles it; Enter moves on like in every other field (``Submitted``), so a run of
    Enters through a form never flips an answer by accident."""

    BINDINGS = [Binding("space", "toggle_switch", "Toggle", show=False),
                Binding("enter", "submit", "Next field", show=False)]

    class Submitted(Message):
        """Enter on the switch."""

        def __init__(self, switch: "FieldSwitch") -> None:
            super().__init__()
            self.switch = switch

        @property
        def control(self) -> "FieldSwitch":
            return self.switch

    def action_submit(self) -> None:
        self.post_message(self.Submitted(self))


def widget_id(key: str) -> str:
    """The DOM id of the input for ``section.name``: ``field-section-name``."""
    return "field-" + key.replace(".", "-").replace("_", "-")


class FieldRow(Vertical):
    """One field: label, input, and a line for its validation message."""

    DEFAULT_CSS = """
    FieldRow { height: auto; }
    FieldRow > Horizontal { height: auto; }
    FieldRow .field-label { width: 30; color: $text-muted; padding-right: 1; }
    FieldRow .field-error { color: $error; height: auto; display: none; padding-left: 30; }
    FieldRow.-invalid .field-error { display: block; }
    FieldRow.-invalid .field-label { color: $error; }
    FieldRow Input, FieldRow Select { width: 1fr; }
    /* Visible in the dark and light themes: a fill of 30% foreground (2.3:1 / 1.8:1 against the screen, text on
       it 6.2:1 / 6.8:1) between two bars in the border colour (4.1:1 / 7.5:1); placeholders read as examples. */
    FieldRow Input { background: $foreground 30%; border-left: outer $border; border-right: outer $border;
                     padding: 0 0; }
    FieldRow Input:focus { background: $primary 40%; border-left: outer $accent; border-right: outer $accent; }
    FieldRow Input > .input--placeholder { color: $foreground 70%; text-style: italic; }
    FieldRow Select > SelectCurrent { background: $foreground 30%; border-left: outer $border;
                                      border-right: outer $border; }
    FieldRow Switch { width: auto; height: 1; border: none; padding: 0; background: $foreground 30%; }
    FieldRow Switch > .switch--slider { color: $foreground 60%; background: $foreground 15%; }
    FieldRow Switch.-on > .switch--slider { color: $success; }
    FieldRow Switch:focus { border: none; background: $primary 40%; }
    """

    def __init__(self, key: str, spec: Field, value: Any, has_secret: bool) -> None:
        super().__init__(id="row-" + widget_id(key)[len("field-"):])
        self.key = key
        self.spec = spec
        self.value = value
        self.has_secret = has_secret

    def compose(self) -> ComposeResult:
        spec, key = self.spec, self.key
        label = spec.label + (" *" if spec.required or required_when(spec) else "")
        with Horizontal():
            yield Label(label, classes="field-label", markup=False)
            if spec.kind == "choice":
                options = [(choice, choice) for choice in spec.choices]
                value = self.value if self.value in spec.choices else Select.NULL
                yield Select(options, value=value, allow_blank=not spec.required, compact=True, id=widget_id(key))
            elif spec.kind == "bool":
                yield FieldSwitch(value=bool(self.value), id=widget_id(key))
            elif spec.secret:
                # Never shown again after entry: an accepted secret leaves the input empty with a note.
                placeholder = "saved — leave empty to keep it" if self.has_secret else placeholder_for(spec)
                yield Input(password=True, placeholder=placeholder, compact=True, id=widget_id(key))
            else:
                yield Input(value=spec.format(self.value), placeholder=placeholder_for(spec), compact=True,
                            id=widget_id(key))
        yield Static("", classes="field-error", markup=False)

    def raw(self) -> Any:
        widget = self.query_one("#" + widget_id(self.key))
        if isinstance(widget, Select):
            return None if widget.value is Select.NULL else widget.value
        if isinstance(widget, Switch):
            return widget.value
        return widget.value

    def set_error(self, message: str | None, own: bool = True) -> None:
        """Show ``message`` under the field (None: clear it). ``own``: the field's own rule refused its value (a
        correction that the rule accepts clears it while typing); False: a rule across fields (judged on Next)."""
        self.set_class(bool(message), "-invalid")
        self.own_error = bool(message) and own
        self.query_one(".field-error", Static).update(f"✘ {message}" if message else "")

    @on(Input.Changed)
    def _corrected(self, event: Input.Changed) -> None:
        """A refused value being corrected: its message goes once the field's own rule accepts the new text, so a
        stale refusal never sits under a good value (everything is judged again on Next)."""
        if not getattr(self, "own_error", False):
            return
        raw = self.raw()
        try:
            self.spec.check(None if raw == "" else raw, self.key)
        except ValidationError:
            return
        self.set_error(None)


def required_when(spec: Field) -> str:
    """When a field that is not always required is (its help's "Required for ...", e.g. "for letsencrypt and
    acme-dns"), or ""."""
    import re

    found = re.search(r"Required (for [^.]+)\.", spec.help or "")
    return found.group(1) if found else ""


def placeholder_for(spec: Field) -> str:
    """An empty input's hint that reads as an example, never as a value: "e.g. 2G — empty: no limit" (the meaning
    of an empty answer from the field's help, "Empty: ..."), "e.g. … — required for letsencrypt and acme-dns" (its
    help's "Required for ..."), or "e.g. … (optional)"."""
    import re

    parts = [f"e.g. {spec.example}"] if spec.example else []
    empty = re.search(r"Empty: ([^.]+)\.", spec.help or "")
    if empty:
        parts.append(f"empty: {empty.group(1)}")
    elif required_when(spec):
        parts.append(f"required {required_when(spec)}")
    elif parts and not spec.required:
        parts[0] += " (optional)"
    return " — ".join(parts)


class FieldForm(Vertical):
    """A form for some of a section's fields, rendered from their declarations.

    Fields that do not apply to the current choices (``Field.applies``) are hidden, and shown again as soon as a
    choice makes them apply. Values are judged by each field's own validator.
    """

    DEFAULT_CSS = """
    FieldForm { height: auto; }
    """

    class HelpChanged(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, section: Any, answers: Any, skip: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.section = section
        self.answers = answers
        self.skip = set(skip)

    def compose(self) -> ComposeResult:
        values = self.answers.section(self.section.name) | self.answers.data[self.section.name]
        for spec in self.section.fields:
            if spec.name in self.skip:
                continue
            key = f"{self.section.name}.{spec.name}"
            yield FieldRow(key, spec, values.get(spec.name, spec.default), self.answers.answered(key))

    def on_mount(self) -> None:
        self.refresh_applicable()

    @property
    def rows(self) -> list[FieldRow]:
        return list(self.query(FieldRow))

    def current_values(self) -> dict[str, Any]:
        """The form's raw values, for judging which fields apply."""
        values = dict(self.answers.data[self.section.name])
        for row in self.rows:
            raw = row.raw()
            if row.spec.kind in ("choice", "bool") or not row.spec.secret:
                values[row.spec.name] = raw
        return values

    def refresh_applicable(self) -> None:
        values = self.current_values()
        for row in self.rows:
            row.display = row.spec.applies(values)

    @on(Select.Changed)
    @on(Switch.Changed)
    def _choice_changed(self) -> None:
        self.refresh_applicable()

    def on_descendant_focus(self, event) -> None:
        for row in self.rows:
            if event.widget in row.query("*"):
                self.post_message(self.HelpChanged(f"{row.spec.label}: {row.spec.help}"))
                return

    def judge(self) -> tuple[dict[str, Any], bool]:
        """Validate every applicable field. Returns ({key: raw value to store}, all valid?).

        A secret left empty keeps the saved one (it is not in the result); a field that does not apply maps to None
        so its stale answer is cleared.
        """
        values = self.current_values()
        result: dict[str, Any] = {}
        ok = True
        for row in self.rows:
            key = row.key
            if not row.spec.applies(values):
                row.set_error(None)
                result[key] = None
                continue
            raw = row.raw()
            if row.spec.secret and raw == "" and self.answers.answered(key):
                row.set_error(None)
                continue
            if row.spec.secret and raw == "":
                raw = None
            try:
                row.spec.check(raw, key)
            except ValidationError as exc:
                row.set_error(exc.message)
                ok = False
                continue
            row.set_error(None)
            result[key] = raw
        return result, ok

    def show_errors(self, errors: Iterable[ValidationError]) -> list[ValidationError]:
        """Show cross-field errors on their rows; return the ones that belong to no row here."""
        rows = {row.key: row for row in self.rows}
        rest = []
        for error in errors:
            row = rows.get(error.key)
            if row is not None and row.display:
                row.set_error(error.message, own=False)
            else:
                rest.append(error)
        return rest


class DiagnosisTable(Vertical):
    """Checks as a live table: status icon, check, summary; details and fix hint for the highlighted row."""

    DEFAULT_CSS = """
    DiagnosisTable { height: auto; }
    DiagnosisTable > DataTable { height: auto; max-height: 14; }
    DiagnosisTable > .diagnosis-details { height: auto; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.diagnoses: list[Diagnosis] = []

    def compose(self) -> ComposeResult:
        table = DataTable(cursor_type="row", zebra_stripes=False)
        table.add_columns(" ", "check", "summary")
        yield table
        yield Static("", classes="diagnosis-details")

    def show(self, diagnoses: list[Diagnosis]) -> None:
        self.diagnoses = list(diagnoses)
        table = self.query_one(DataTable)
        table.clear()
        for index, item in enumerate(self.diagnoses):
            table.add_row(Text(STATUS_ICONS[item.status], style=STATUS_STYLES[item.status]), Text(item.id),
                          Text(item.summary), key=str(index))
        # The row shown in detail, with its fix, is the first of the worst: what to act on first.
        urgency = {Status.ERROR: 3, Status.WARNING: 2, Status.SKIPPED: 1, Status.OK: 0}
        first = min(range(len(self.diagnoses)), key=lambda i: (-urgency[self.diagnoses[i].status], i), default=None)
        if first:
            table.move_cursor(row=first)
        self._describe(first)

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._describe(event.cursor_row)

    def _describe(self, index: int | None) -> None:
        details = self.query_one(".diagnosis-details", Static)
        if index is None or index >= len(self.diagnoses):
            details.update("")
            return
        item = self.diagnoses[index]
        text = Text.assemble((item.id, "bold"), f" — {item.status.value}: {item.summary}")
        if item.details:
            text.append("\n" + item.details)
        if item.fix:
            text.append("\nfix: ", style="bold")
            text.append(item.fix)
        details.update(text)


class LogPanel(RichLog):
    """Progress messages of slow actions. Every line passes the session's redaction before it is written."""

    DEFAULT_CSS = """
    LogPanel { height: 6; border: round $panel; overflow-x: hidden; }
    """

    def __init__(self, redact, **kwargs: Any) -> None:
        # Lines wrap at the panel's width: RichLog's default min_width (78) is wider than the panel at 80 columns,
        # which gave a sideways scrollbar over the one line a short screen has for the log.
        super().__init__(wrap=True, markup=False, min_width=20, **kwargs)
        self._redact = redact

    def say(self, message: str) -> None:
        self.write(self._redact(message))
