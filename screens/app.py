"""The Textual wizard: ``build_app(...)`` makes the app; its flow is one coroutine that awaits each step's screen.

The flow lives in a worker (``push_screen_wait`` needs one): welcome (and resume), then the steps in order, each
screen returning a typed result (Next, Back, Skip); Ctrl-Q quits from anywhere. Progress is saved in the session
after every result, so a wizard killed at any moment resumes at the same step with every accepted answer.

Every engine call goes through ``WizardApp.call_engine`` (screens start it with ``StepScreen.run_engine``): one at a
time, cancellable, never raising. Quit while a call runs asks first, then cancels it and exits; a call that does not
stop within ``QUIT_GRACE`` seconds is left behind (its thread dies with the process).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable

from textual import work
from textual.app import App
from textual.binding import Binding

from screens.results import Back, Fix, Next, Skip, Start
from wizard.context import Progress, WizardContext, describe_target
from wizard.walk import resume_question

# step id -> "module:Class"; screens are imported when their step comes up, so the first screen shows fast.
STEP_SCREENS = {
    "connect": "screens.connect:ConnectScreen",
    "authenticator": "screens.authenticator:AuthenticatorScreen",
    "domain": "screens.domain:DomainScreen",
    "https": "screens.https:HttpsScreen",
    "limits": "screens.limits:LimitsScreen",
    "environment": "screens.environment:EnvironmentScreen",
    "backups": "screens.backups:BackupsScreen",
    "ssh": "screens.ssh:SshAccessScreen",
    "review": "screens.review:ReviewScreen",
    "done": "screens.done:DoneScreen",
}


QUIT_GRACE = 1.5  # seconds a cancelled engine call gets to stop before Quit exits without it


def screen_class(step_id: str):
    import importlib

    module, _, name = STEP_SCREENS[step_id].partition(":")
    return getattr(importlib.import_module(module), name)


class WizardApp(App[int]):
    """The full-screen wizard. Exit code: 0 finished, 3 quit part-way (resumable)."""

    CSS_PATH = Path(__file__).with_name("wizard.tcss")
    TITLE = "tljh-wizard"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", priority=True)]

    def __init__(self, ctx: WizardContext | None = None, *, opener: Callable[[], WizardContext] | None = None,
                 target: str = "") -> None:
        super().__init__()
        if ctx is None and opener is None:
            raise ValueError("give the context, or how to open it")
        self.ctx = ctx
        self.opener = opener
        self.target = target or (describe_target(ctx) if ctx else "")
        self.current_step: str | None = None
        self.engine_lock = threading.Lock()  # one engine call at a time on the shared context (StepScreen.run_engine)
        self._quitting = threading.Event()  # set on quit: a worker waiting for the operator stops waiting
        self._quit_deadline = 0.0
        self._asking_quit = False

    def on_mount(self) -> None:
        self.run_flow()

    def engine_running(self) -> bool:
        """Whether an engine call runs now (or waits for the operator, as a host-key question does)."""
        return self.engine_lock.locked()

    async def action_quit(self) -> None:
        """Quit from anywhere: the session keeps every accepted answer; exit code 3 says "stopped part-way". While an
        engine call runs it asks first, then cancels the call and exits. Not while an apply runs (Review's "Stop and
        roll back" is the way out of it)."""
        if any(getattr(screen, "applying", False) for screen in self.screen_stack):
            self.notify("The apply is running: wait for it, or press “Stop and roll back” first.",
                        severity="warning")
            return
        if self._quitting.is_set():
            return
        if self.engine_running():
            from screens.modals import ConfirmModal

            if not self._asking_quit:
                self._asking_quit = True
                self.push_screen(ConfirmModal(
                    "Quit while it runs?", "A check or action is running on the hub. Quitting stops it first; every "
                    "accepted answer stays saved, and the wizard resumes at this step.",
                    yes="Stop it and quit", no="Keep working", danger=True), self._quit_answered)
            return
        self.quit_now()

    def _quit_answered(self, decision: Any) -> None:
        self._asking_quit = False
        if decision and decision.confirmed:
            self.quit_now()

    def quit_now(self) -> None:
        """Cancel what runs (a host-key question still open is answered "reject") and exit with code 3."""
        self._quitting.set()
        self._quit_deadline = time.monotonic() + QUIT_GRACE
        for screen in self.screen_stack:
            stop = getattr(screen, "stop_engine_call", None)
            if stop is not None:
                stop()
        if self.ctx is not None:
            self.ctx.cancel_running()
            self.ctx.log(f"quit at step {self.current_step or 'welcome'}")
        self.exit(3)

    def call_engine(self, ctx: WizardContext, call: Callable[..., Any], args: tuple[Any, ...], token: Any,
                    progress: Progress, step_id: str) -> Any:
        """(a worker thread) ``wizard.context.call_engine`` for a screen, one call at a time per app: a call
        cancelled by Escape finishes before the next starts on the same context. The call runs in a daemon thread
        this worker waits on, so Quit never waits on it longer than ``QUIT_GRACE`` seconds."""
        from wizard.context import call_engine

        outcome: list[Any] = []
        finished = threading.Event()

        def body() -> None:
            with self.engine_lock:
                try:
                    outcome.append(call_engine(ctx, call, *args, token=token, progress=progress, step_id=step_id))
                finally:
                    finished.set()

        threading.Thread(target=body, daemon=True, name=f"engine-{step_id}").start()
        while not finished.wait(0.05):
            if self._quitting.is_set() and time.monotonic() > self._quit_deadline:
                break  # Quit: the call did not stop in time; the process exits without it
        return outcome[0] if outcome else []

    async def open_session(self) -> bool:
        """Open (and lock) the session in a thread while the welcome screen is already up."""
        import asyncio

        from wizard.session import SessionError

        if self.ctx is None:
            try:
                self.ctx = await asyncio.to_thread(self.opener)
            except SessionError as exc:
                self.exit(2, message=f"tljh-wizard: error: {exc}")
                return False
        self.ctx.host_key_prompt = self.ask_host_key
        return True

    def ask_host_key(self, host: str, key_type: str, fingerprint: str) -> bool:
        """Called from a worker thread: show the host-key modal and block that thread until the operator decides.
        Quit, or a cancel of the engine call (Escape on the step), answers "reject" and closes the question."""
        from screens.modals import HostKeyModal

        decided = threading.Event()
        answer: dict = {}

        def record(decision) -> None:
            answer["accepted"] = bool(decision and decision.accepted)
            decided.set()

        token = self.ctx.cancel if self.ctx is not None else None
        if self._quitting.is_set():
            return False
        modal = HostKeyModal(host, fingerprint, key_type)
        try:
            self.call_from_thread(self.push_screen, modal, record)
        except RuntimeError:  # the app is shutting down
            return False
        while not decided.wait(0.05):
            if self._quitting.is_set() or not self.is_running:
                return False  # quit while the question was open: the key is not accepted
            if token is not None and token.cancelled:
                try:
                    self.call_from_thread(modal.action_reject)  # the question closes: the key is not accepted
                except RuntimeError:
                    pass
                return False
        return answer["accepted"]

    @work(exclusive=True, group="flow", name="flow")
    async def run_flow(self) -> None:
        from screens.welcome import WelcomeScreen
        from wizard.walk import Outcome, advance, first_step

        welcome = WelcomeScreen(self.target)
        started = self.push_screen(welcome, wait_for_dismiss=True)
        await welcome.painted.wait()  # first paint before the session's (heavier) engine imports compete for the GIL
        if not await self.open_session():
            return
        session = self.ctx.session
        question = resume_question(self.ctx)
        if question and self.screen is welcome:
            welcome.offer_resume(question)
        start: Start = await started
        if question and not start.asked:  # Start was pressed before the session was read: ask now
            from screens.modals import ResumeModal

            start = Start((await self.push_screen_wait(ResumeModal(question))).resume)
        step_id: str | None = first_step(session, start.resume)
        return_to: str | None = None  # Review, while the operator fixes an answer it refused
        while step_id is not None:
            self.current_step = step_id
            self.ctx.log(f"step {step_id}: shown")
            result = await self.push_screen_wait(screen_class(step_id)(self.ctx))
            if result is None:  # dismissed without a result: show the step again
                continue
            if isinstance(result, Fix):  # as the plain prompts do: there, then straight back to Review
                return_to, step_id = step_id, result.step
                session.go_to(step_id)
                continue
            outcome = (Outcome.BACK if isinstance(result, Back) else Outcome.SKIP if isinstance(result, Skip)
                       else Outcome.NEXT)
            step_id = advance(session, step_id, outcome, failed=isinstance(result, Next) and result.failed,
                              return_to=return_to if outcome is Outcome.NEXT else None)
            if step_id == return_to:
                return_to = None
        self.ctx.log("wizard finished")
        self.exit(0)


def build_app(ctx: WizardContext | None = None, *, opener: Callable[[], WizardContext] | None = None,
              target: str = "") -> WizardApp:
    """The wizard app over an open session and its hub context (tests), or with how to open it once the first screen
    is up (the command line: ``opener``, and ``target`` naming the hub meanwhile)."""
    return WizardApp(ctx, opener=opener, target=target)
