"""What one wizard run knows beyond its answers: the session, how to reach the hub, the open connection, the host
facts, and what a step found that a later step reads. Both front-ends hold one ``WizardContext`` and hand it to
every engine call of a step (``wizard.steps``).

Importing this module is cheap: the engine types are named for type checkers only.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Literal

from wizard.diagnosis import Diagnosis

if TYPE_CHECKING:
    from wizard.answers import Answers
    from wizard.https.issue import AcmeEnvironment
    from wizard.https.letsencrypt import LetsEncryptEnvironment
    from wizard.https.progress import CancelToken
    from wizard.hub.facts import HostFacts
    from wizard.hub.target import HubTarget
    from wizard.session import Session
    from wizard.sshaccess.engine import SshdPaths
    from wizard.steps.review import Plan

# "ssh": over SSH; "local": on the hub itself (--local); "sandbox": the demo's sandbox hub on this machine.
Mode = Literal["ssh", "local", "sandbox"]
# (host as known_hosts names it, key type, SHA256 fingerprint) -> accept? Provided by the front-end; blocks until
# the operator decides (or the run is cancelled: then False).
HostKeyPrompt = Callable[[str, str, str], bool]
# (phase, message) -> None; called from worker threads.
Progress = Callable[[str, str], None]


def no_progress(phase: str, message: str) -> None:
    """The default progress callback: report nothing."""


def engine_available(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it): an optional engine, or a command's module."""
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


@dataclass
class RunOptions:
    """Where this run finds what surrounds the hub. Every default is the real world's; tests and the hidden
    command-line options for test rigs (``wizard.wizard_cli.add_rig_arguments``) point them at loopback stand-ins.

    ``known_hosts``: extra known_hosts files (None: the operator's ``~/.ssh/known_hosts``); ``hub_api_url``: where
    the hub's ``/hub/api`` answers, as seen from the hub; ``metadata_base``: the cloud metadata service's base URL
    (None: ``wizard.hub.facts.METADATA_BASE``); ``sshd_paths``: sshd's files on the hub (a rig's sshd has its
    own); ``skip_reachability``: no probe of ports 80/443 from this machine; ``web_ports``: the HTTP and HTTPS
    ports whose listeners are asked about; ``letsencrypt_env`` / ``acme_env``: how the CA and the hub are
    reached while a certificate is requested (by apply: ``wizard.https.work``); ``nameserver_port``: the port of
    the domain's authoritative nameservers (a rig's BIND listens on another than 53)."""

    known_hosts: list[str] | None = None
    hub_api_url: str | None = None
    metadata_base: str | None = None
    sshd_paths: SshdPaths | None = None
    skip_reachability: bool = False
    web_ports: tuple[int, int] = (80, 443)
    letsencrypt_env: LetsEncryptEnvironment | None = None
    acme_env: AcmeEnvironment | None = None
    nameserver_port: int = 53


@dataclass
class WizardContext:
    """What a wizard run knows beyond the answers.

    ``target`` is the open hub connection (None until Connect, or after it failed), ``facts`` the host facts
    gathered right after connecting; ``last_plan`` is the plan Review showed (apply executes that one and no
    other). ``dns_diagnoses`` and ``web_ports_held`` are what the Domain and HTTPS checks last found (Review
    refuses to plan while another program holds ports 80/443). ``cancel`` is the running engine call's
    ``CancelToken`` (set by the front-end's worker; a host-key question waiting on the operator gives up when it is
    cancelled)."""

    session: Session
    mode: Mode = "ssh"
    sandbox_prefix: Path | None = None
    host_key_prompt: HostKeyPrompt | None = None
    options: RunOptions = field(default_factory=RunOptions)
    target: HubTarget | None = None
    facts: HostFacts | None = None
    last_plan: Plan | None = None
    dns_diagnoses: list[Diagnosis] = field(default_factory=list)
    web_ports_held: list[str] = field(default_factory=list)
    cancel: CancelToken | None = None

    @property
    def answers(self) -> Answers:
        return self.session.answers

    @property
    def hub(self) -> HubTarget:
        """The open hub connection; ``HubError`` when there is none (call ``wizard.steps.connect.ensure_target``
        first)."""
        if self.target is None:
            from wizard.hub.target import HubError

            raise HubError("not connected to the hub: go back to Connect")
        return self.target

    def redact(self, text: str) -> str:
        """``text`` with every secret answer masked (``wizard.masking``)."""
        from wizard.masking import mask

        return mask(text, self.session.secret_values())

    def log(self, message: str) -> None:
        self.session.logger().info(message)

    def close(self) -> None:
        target, self.target = self.target, None
        if target is not None:
            target.close()


def describe_target(ctx: WizardContext) -> str:
    """One line naming the hub this run talks to."""
    return describe(ctx.mode, ctx.sandbox_prefix, ctx.answers.get)


def describe(mode: str, sandbox_prefix: Path | None, get: Callable[[str], object]) -> str:
    """``describe_target`` before a session is open: ``get`` looks an answer up (None when unanswered)."""
    if mode == "sandbox":
        return f"the demo sandbox hub at {sandbox_prefix}" if sandbox_prefix else "the demo sandbox hub"
    if mode == "local":
        return "this machine (--local)"
    return f"{get('connection.user') or 'root'}@{get('connection.host') or '?'}:{get('connection.port') or 22}"


def demo_prefix() -> Path:
    """Where `tljh-wizard demo` keeps its sandbox hub: beside the demo session, so it survives a resume."""
    from wizard.session import state_dir

    return state_dir() / "demo-hub" / "opt" / "tljh"


def open_context(session_name: str | None, *, mode: Mode = "ssh", prefill: dict[str, object] | None = None,
                 sandbox_prefix: Path | None = None, options: RunOptions | None = None) -> WizardContext:
    """Open (and lock) the session, pre-fill answers the command line gave, and describe the hub to reach.

    ``session_name`` None: the mode's own (``demo``, ``local``, or ``user@host:port`` from the prefilled
    connection); the demo's sandbox defaults to ``demo_prefix()``. Raises ``wizard.session.SessionError`` (the
    session is locked by another run, or unreadable) and ``ValidationError`` (a prefilled answer is refused)."""
    from wizard.session import Session
    from wizard.session import session_name as name_for

    prefill = dict(prefill or {})
    if mode == "sandbox" and sandbox_prefix is None:
        sandbox_prefix = demo_prefix()
        prefill.setdefault("connection.tljh_prefix", str(sandbox_prefix))
    if session_name is None:
        host, user, port = (prefill.get(f"connection.{name}") for name in ("host", "user", "port"))
        session_name = {"sandbox": "demo", "local": "local"}.get(mode) or name_for(
            str(host), str(user) if user else None, int(str(port)) if port else None)
    host = prefill.get("connection.host")
    session = Session.open(session_name, host=str(host) if host else None)
    changed = False
    for key, value in prefill.items():
        if value is not None and session.answers.get(key) != value:
            session.answers.set(key, value)  # validated like any answer; saved once below
            changed = True
    if changed:
        session.save()
    return WizardContext(session=session, mode=mode, sandbox_prefix=sandbox_prefix, options=options or RunOptions())
