"""Driving the Textual wizard with Pilot: waiting for screens and workers (bounds that stop a hung test, not timing
assertions), filling forms, and the contexts the Pilot tests start from (the sshd rig's hub, the demo sandbox)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import pytest

from screens.app import build_app
from tests.rig.bind import free_port
from wizard.context import RunOptions, WizardContext, open_context
from wizard.diagnosis import Status

SIZE = (120, 40)

# Answers that complete every step but Connect on the sandbox (``sandbox_wizard``); the secret is a sentinel.
COMPLETE = {
    "authenticator.type": "github", "authenticator.client_id": "sandbox-client",
    "authenticator.client_secret": "sandbox-client-Secret-5c2e", "authenticator.allowed_users": "alice",
    "domain.name": "hub.example.edu", "domain.reserved_ipv4": "203.0.113.10", "https.mode": "none",
    "limits.memory": "1G",
}


async def wait_for(pilot: Any, predicate: Callable[[], object], what: str, limit: float = 60.0) -> None:
    """Let the app run until ``predicate()`` holds (a bound, not a timing assertion: it only stops a hung test)."""
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}; screen is {pilot.app.screen!r}")
        await pilot.pause(0.02)


async def wait_for_screen(pilot: Any, cls: type, limit: float = 60.0) -> Any:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, cls), cls.__name__, limit)
    await pilot.pause()
    return pilot.app.screen


async def settle(pilot: Any, limit: float = 120.0) -> None:
    """Wait until no worker but the flow runs, then let the messages they posted be handled."""
    await wait_for(pilot, lambda: not [w for w in pilot.app.workers if w.name != "flow" and w.is_running],
                   "workers to finish", limit)
    await pilot.pause()
    await pilot.pause()


def fill(screen: Any, **values: Any) -> None:
    """Set form fields by key (``connection__host`` -> ``#field-connection-host``)."""
    from textual.widgets import Input, Select, Switch

    for name, value in values.items():
        widget = screen.query_one("#field-" + name.replace("__", "-").replace("_", "-"))
        if isinstance(widget, Select):
            widget.value = value
        elif isinstance(widget, Switch):
            widget.value = bool(value)
        else:
            assert isinstance(widget, Input)
            widget.value = str(value)


async def go_on(pilot: Any, screen: Any) -> None:
    """Next on a step with checks: it runs them; when they warn (or the step shows its results anyway), the
    results stay on screen and a second Next goes on without running them again."""
    await pilot.press("ctrl+n")
    await settle(pilot)
    if pilot.app.screen is screen:
        assert screen.diagnoses and not screen.busy
        await pilot.press("ctrl+n")
        await pilot.pause()


def diagnosis_ids(screen: Any) -> dict[str, Status]:
    return {d.id: d.status for d in screen.diagnoses}


def rig_context(session_name: str, hub: Any, **options: Any) -> WizardContext:
    """A context for the sshd hub rig; ``options``: more ``RunOptions`` fields."""
    return open_context(session_name, mode="ssh", prefill={
        "connection.host": hub.host, "connection.port": hub.port, "connection.user": hub.admin.name},
        options=RunOptions(hub_api_url=hub.hub_api_url, metadata_base=f"http://127.0.0.1:{free_port()}",
                           skip_reachability=True, **options))


def unpinned_rig_context(session_name: str, hub: Any) -> WizardContext:
    """``rig_context`` with the rig's key and prefix answered, its host key not: Connect asks about it."""
    ctx = rig_context(session_name, hub)
    ctx.session.accept("connection.key_file", str(hub.client_key))
    ctx.session.accept("connection.tljh_prefix", str(hub.prefix))
    return ctx


async def to_host_key_question(pilot: Any) -> Any:
    """From the welcome screen to Connect, then Next: the unknown-host-key question shows (returned)."""
    from screens.connect import ConnectScreen
    from screens.modals import HostKeyModal

    await pilot.press("enter")
    await wait_for_screen(pilot, ConnectScreen)
    await pilot.press("ctrl+n")
    return await wait_for_screen(pilot, HostKeyModal)


def sandbox_wizard(tmp_path: Path, step: str, answers: dict[str, Any]) -> tuple[WizardContext, Any, Path]:
    """A run on the demo sandbox hub (created in ``tmp_path``), resumed at ``step`` with ``answers``:
    (context, app, the sandbox's prefix)."""
    prefix = tmp_path / "hub"
    ctx = open_context(None, mode="sandbox", prefill={"connection.host": "localhost"}, sandbox_prefix=prefix)
    for key, value in answers.items():
        ctx.session.accept(key, value)
    ctx.session.go_to(step, finished="connect")
    return ctx, build_app(ctx), prefix


async def resume(pilot: Any, cls: type) -> Any:
    """Answer the resume question with Resume; the step screen ``cls`` shows (returned)."""
    from screens.modals import ResumeModal

    await wait_for_screen(pilot, ResumeModal)
    await pilot.press("enter")
    return await wait_for_screen(pilot, cls)
