"""Driving the plain wizard (``tljh-wizard --plain``) in a pseudo-terminal with pexpect: each question is found by
its field's help line (printed once per question) and answered with the keys a person would type."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import Any

import pexpect

ENTER, CLEAR_LINE, DOWN = "\r", "\x15", "\x1b[B"


class PlainDriver:
    """Walks ``tljh-wizard --plain`` in a pseudo-terminal: ``answers`` ({section: {field: value}}) typed where a step
    is answered afresh; the skippable steps in ``skipped`` are declined."""

    def __init__(self, child: pexpect.spawn, answers: dict[str, dict[str, Any]],
                 skipped: AbstractSet[str] = frozenset()) -> None:
        self.child = child
        self.answers = answers
        self.skipped = skipped

    def keys(self, spec, value) -> str:
        if value is None:
            return ENTER
        if spec.kind == "bool":
            return "y" if value else "n"
        if spec.kind == "choice":
            return DOWN * list(spec.choices).index(value) + ENTER  # from the first choice (nothing chosen yet)
        return CLEAR_LINE + str(value) + ENTER

    def section(self, name: str, until: list[str], fresh: bool) -> int:
        """Answer the section's questions as they come (found by their help line) until one of ``until`` shows;
        returns its index. ``fresh``: type the script's answers; else Enter keeps what is offered."""
        from wizard.answers import SECTIONS

        fields = list(SECTIONS[name].fields)
        helps = list(dict.fromkeys(f"  {spec.help}" for spec in fields))  # two fields may share one help text
        patterns = until + helps
        while True:
            index = self.child.expect_exact(patterns)
            if index < len(until):
                return index
            sharing = [spec for spec in fields if f"  {spec.help}" == helps[index - len(until)]]
            spec = sharing[self.child.expect_exact([spec.label for spec in sharing])]
            value = self.answers.get(name, {}).get(spec.name) if fresh else None
            self.child.send(self.keys(spec, value))

    def pause(self) -> None:
        self.child.expect_exact("Read the table above, then:")
        self.child.send(ENTER)  # continue (the default when nothing failed)

    def step(self, step_id: str, fresh: bool) -> None:
        from wizard.steps import STEP_IDS, step

        item = step(step_id)
        following = f"Step {STEP_IDS.index(step_id) + 2}/" if step_id != "done" else None
        child = self.child
        child.expect_exact(f": {item.title} ==")
        if step_id == "review":
            child.expect_exact("Apply these changes to")
            child.send("y" if fresh else "<")
            return
        if step_id == "done":
            child.expect_exact("Write the exports")
            child.send("n" if fresh else "<")
            return
        if item.skippable:
            child.expect_exact(f"Set up {item.title} now?")
            child.send("n" if step_id in self.skipped else "y")
            if step_id in self.skipped:
                return
        pause = "Read the table above, then:"
        found = self.section(item.sections[0], [pause, following], fresh)
        if found == 0:
            child.send(ENTER)

    def back(self, step_id: str) -> None:
        from wizard.steps import step

        item = step(step_id)
        child = self.child
        child.expect_exact(f": {item.title} ==")
        if step_id == "review":
            child.expect_exact("Apply these changes to")
            child.send("<")
        elif step_id == "done":
            child.expect_exact("Write the exports")
            child.send("<")
        elif item.skippable:
            child.expect_exact(f"Set up {item.title} now?")
            child.send("<")
        else:
            from wizard.answers import SECTIONS

            first = SECTIONS[item.sections[0]].fields[0]
            child.expect_exact(f"  {first.help}")
            child.expect_exact(first.label)
            child.send("<" if first.kind == "choice" else CLEAR_LINE + "<" + ENTER)
