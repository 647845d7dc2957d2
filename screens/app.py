"""The Textual wizard: ``build_app(...)`` makes the app; its flow is one coroutine that awaits each step's screen.

The flow lives in a worker (``push_screen_wait`` needs one): welcome (and resume), then the steps in order, each
screen returning a typed result (Next, Back, Skip); Ctrl-Q quits from anywhere. Progress is saved in the session
after every result, so a wizard killed at any moment resumes at the same step with every accepted answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from textual import work
from textual.app import App
from textual.binding import Binding

from screens.results import Back, Next, Skip, Start
from wizard.context import WizardContext, describe_target
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
        import threading

        self.engine_lock = threading.Lock()  # one engine call at a time on the shared context (StepScreen.run_engine)
        self._quitting = threading.Event()  # set on quit: a worker waiting for the operator stops waiting

    def on_mount(self) -> None:
        self.run_flow()

    async def action_quit(self) -> None:
        """Quit from anywhere: the session keeps every accepted answer; exit code 3 says "stopped part-way". Not
        while an apply runs (Review's "Stop and roll back" is the way out of it)."""
        if getattr(self.screen, "applying", False):
            self.notify("The apply is running: wait for it, or press “Stop and roll back” first.",
                        severity="warning")
            return
        self._quitting.set()  # a host-key question still open is answered "reject": its worker ends
        for screen in self.screen_stack:
            token = getattr(screen, "cancel_token", None)
            if token is not None:
                token.cancel()
        if self.ctx is not None:
            self.ctx.log(f"quit at step {self.current_step or 'welcome'}")
        self.exit(3)

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
        """Called from a worker thread: show the host-key modal and block that thread until the operator decides."""
        import threading

        from screens.modals import HostKeyModal

        decided = threading.Event()
        answer: dict = {}

        def record(decision) -> None:
            answer["accepted"] = bool(decision and decision.accepted)
            decided.set()

        if self._quitting.is_set():
            return False
        try:
            self.call_from_thread(self.push_screen, HostKeyModal(host, fingerprint, key_type), record)
        except RuntimeError:  # the app is shutting down
            return False
        while not decided.wait(0.1):
            if self._quitting.is_set() or not self.is_running:
                return False  # quit while the question was open: the key is not accepted
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
        while step_id is not None:
            self.current_step = step_id
            self.ctx.log(f"step {step_id}: shown")
            result = await self.push_screen_wait(screen_class(step_id)(self.ctx))
            if result is None:  # dismissed without a result: show the step again
                continue
            outcome = (Outcome.BACK if isinstance(result, Back) else Outcome.SKIP if isinstance(result, Skip)
                       else Outcome.NEXT)
            step_id = advance(session, step_id, outcome, failed=isinstance(result, Next) and result.failed)
        self.ctx.log("wizard finished")
        self.exit(0)


def build_app(ctx: WizardContext | None = None, *, opener: Callable[[], WizardContext] | None = None,
              target: str = "") -> WizardApp:
    """The wizard app over an open session and its hub context (tests), or with how to open it once the first screen
    is up (the command line: ``opener``, and ``target`` naming the hub meanwhile)."""
    return WizardApp(ctx, opener=opener, target=target)
