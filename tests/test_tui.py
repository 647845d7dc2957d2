"""The Textual wizard driven with Pilot against the real sshd fixture hub (and a real BIND world for DNS): the whole
flow up to a successful apply, asserted on the hub's config.yaml; a responsiveness check while a slow remote command
runs; host-key refusal. The Pilot helpers are in ``tests/support/tui.py``."""

from __future__ import annotations

import json
import time

import pytest

from screens.app import build_app
from tests.rig.bind import DnsWorld, ZoneSpec
from tests.support.tui import (
    SIZE,
    diagnosis_ids,
    fill,
    go_on,
    rig_context,
    settle,
    to_host_key_question,
    unpinned_rig_context,
    wait_for,
    wait_for_screen,
)
from wizard import yamlio
from wizard.diagnosis import Diagnosis, Status
from wizard.hub import sandbox

HUB_V4 = "203.0.113.10"
CLIENT_SECRET = "tui-client-Secret-91f3e2"  # a sentinel: must reach the hub's config.yaml and nothing else


@pytest.fixture(scope="module")
def dns_world(tmp_path_factory):
    with DnsWorld(tmp_path_factory.mktemp("tui-dns"), {"ok.test": ZoneSpec(f"hub IN A {HUB_V4}")}) as world:
        yield world


# ---------------------------------------------------------------------------------------------------------------
# the whole flow


@pytest.mark.slow
async def test_whole_flow_against_the_sshd_hub_applies_config(sshd_hub, dns_world, tmp_path, monkeypatch,
                                                              _isolated_state, request):
    """Also the secrets test: the key passphrase, the sudo password and the OAuth client secret are sentinels; after
    entry none of them shows on any screen, in the session's log or state, or in an export without secrets."""
    from screens.authenticator import AuthenticatorScreen
    from screens.backups import BackupsScreen
    from screens.connect import ConnectScreen
    from screens.domain import DomainScreen
    from screens.done import DoneScreen
    from screens.environment import EnvironmentScreen
    from screens.https import HttpsScreen
    from screens.limits import LimitsScreen
    from screens.modals import ConfirmModal, HostKeyModal
    from screens.review import ReviewScreen
    from screens.ssh import SshAccessScreen

    monkeypatch.chdir(tmp_path)
    from tests.rig.traefik import TraefikStandIn

    hub = sshd_hub
    from wizard.https.letsencrypt import LetsEncryptEnvironment

    # TLJH's proxy: Let's Encrypt's staging CA, then production, played by test CAs (tests/rig/traefik.py)
    (tmp_path / "traefik").mkdir()
    traefik = TraefikStandIn(hub.prefix, tmp_path / "traefik")
    request.addfinalizer(traefik.close)
    (tmp_path / "roots.pem").write_bytes(traefik.cas["production"].root_pem)
    ctx = rig_context("tui-flow", hub, letsencrypt_env=LetsEncryptEnvironment(
        verify_address=("127.0.0.1", traefik.port), trust_roots=str(tmp_path / "roots.pem"), staging_timeout=30,
        production_timeout=30))
    sentinels = (CLIENT_SECRET, hub.key_passphrase, hub.sudo_password)
    screenshots = []
    app = build_app(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")  # welcome: Start
        screen = await wait_for_screen(pilot, ConnectScreen)
        # A login whose sudo asks for a password, and a key with a passphrase: both secrets, both masked.
        fill(screen, connection__user=hub.password_user.name, connection__key_file=str(hub.passphrase_key),
             connection__key_passphrase=hub.key_passphrase, connection__sudo_password=hub.sudo_password,
             connection__tljh_prefix=str(hub.prefix))
        await pilot.press("ctrl+n")
        # The host is unknown to every known_hosts file: the modal shows OpenSSH's fingerprint and waits.
        modal = await wait_for_screen(pilot, HostKeyModal)
        screenshots.append(app.export_screenshot())
        assert modal.fingerprint == hub.host_key_fingerprint
        await pilot.click("#accept")
        screen = await wait_for_screen(pilot, ConnectScreen)
        await settle(pilot)
        # Connected: the host facts stay on screen until Next; Next then goes on without connecting again.
        assert diagnosis_ids(screen)["connect.facts"] is Status.OK
        assert ctx.facts is not None and ctx.facts.tljh_version == sandbox.TLJH_VERSION
        target = ctx.target
        await pilot.press("ctrl+n")
        screen = await wait_for_screen(pilot, AuthenticatorScreen)
        assert ctx.target is target and target.connections == 1

        # Authenticator: a missing client id is refused inline, by the engine's rule.
        fill(screen, authenticator__type="github", authenticator__allowed_users="alice, bob",
             authenticator__admin_users="alice")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert isinstance(app.screen, AuthenticatorScreen)
        assert "required for github" in str(screen.query_one("#row-authenticator-client-id .field-error").render())
        fill(screen, authenticator__client_id="tui-client", authenticator__client_secret=CLIENT_SECRET)
        await pilot.press("ctrl+n")

        screen = await wait_for_screen(pilot, DomainScreen)
        screenshots.append(app.export_screenshot())
        fill(screen, domain__name="hub.ok.test", domain__reserved_ipv4=HUB_V4, domain__ip_reserved_confirmed=True,
             domain__resolvers=", ".join(dns_world.resolvers))
        await go_on(pilot, screen)
        screen = await wait_for_screen(pilot, HttpsScreen)
        assert ctx.dns_diagnoses and all(d.status is not Status.ERROR for d in ctx.dns_diagnoses)

        fill(screen, https__mode="letsencrypt", https__email="admin@example.edu")
        await go_on(pilot, screen)
        screen = await wait_for_screen(pilot, LimitsScreen)
        screenshots.append(app.export_screenshot())

        fill(screen, limits__memory="1G", limits__cpu="1", limits__total_users="4")
        await go_on(pilot, screen)
        screen = await wait_for_screen(pilot, EnvironmentScreen)
        await pilot.press("ctrl+s")  # Skip: asks first
        await wait_for_screen(pilot, ConfirmModal)
        await pilot.click("#yes")

        screen = await wait_for_screen(pilot, BackupsScreen)
        screenshots.append(app.export_screenshot())
        fill(screen, backups__bundle_dir=str(tmp_path / "bundles"), backups__snapshots_confirmed=True)
        await go_on(pilot, screen)  # the bundle is pulled once, even when warnings need a second Next
        await wait_for_screen(pilot, SshAccessScreen)
        await pilot.press("ctrl+s")  # Skip: the rig's sshd is not laid out like a hub's (tests/test_sshaccess_tui.py)
        await wait_for_screen(pilot, ConfirmModal)
        await pilot.click("#yes")

        screen = await wait_for_screen(pilot, ReviewScreen)
        await settle(pilot)
        assert screen.plan is not None and not screen.plan.problems
        assert "********" in screen.plan.diff and CLIENT_SECRET not in screen.plan.diff
        await pilot.press("ctrl+n")
        await wait_for_screen(pilot, ConfirmModal)
        await pilot.click("#yes")
        screen = await wait_for_screen(pilot, ReviewScreen)
        await settle(pilot)
        assert screen.applied, screen.diagnoses
        assert diagnosis_ids(screen)["apply"] is Status.OK
        screenshots.append(app.export_screenshot())
        await pilot.press("ctrl+n")

        screen = await wait_for_screen(pilot, DoneScreen)
        screenshots.append(app.export_screenshot())
        await pilot.click("#export-answers")
        await pilot.click("#export-tljh")
        screenshots.append(app.export_screenshot())
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.return_code is not None, "the app to exit")
    assert app.return_value == 0

    config = yamlio.loads((hub.prefix / "config" / "config.yaml").read_text())
    github = config["auth"]["GitHubOAuthenticator"]
    assert config["auth"]["type"] == "oauthenticator.github.GitHubOAuthenticator"
    assert github["client_id"] == "tui-client" and github["client_secret"] == CLIENT_SECRET
    assert github["oauth_callback_url"] == "https://hub.ok.test/hub/oauth_callback"
    assert config["users"] == {"admin": ["alice"], "allowed": ["alice", "bob"]}
    assert config["https"]["letsencrypt"] == {"email": "admin@example.edu", "domains": ["hub.ok.test"],
                                              "staging": False}
    assert config["limits"] == {"memory": "1G", "cpu": 1}
    # staging first (config.yaml, reloads), then production after acme.json was cleared: one more proxy reload
    assert [r["component"] for r in sandbox.reloads(hub.prefix)] == ["proxy", "hub", "proxy"]
    assert json.loads((hub.prefix / "state" / "acme.json").read_text()) == {"stage": "production"}
    assert ctx.session.record("https.certificate")["verified"] == "ok"
    bundles = list((tmp_path / "bundles").glob("tljh-backup-*.tar.gz"))
    assert len(bundles) == 1 and (bundles[0].stat().st_mode & 0o777) == 0o600
    exported = (tmp_path / "tljh-wizard-exports" / "answers.yaml").read_text()
    assert "hub.ok.test" in exported and CLIENT_SECRET not in exported
    state = ctx.session.state
    assert state["current_step"] == "done" and "environment" in state["answers"]["skip"]

    # The secrets: on the hub's config.yaml where they belong, in the 0600 secret store, and nowhere else.
    session_dir = _isolated_state / "sessions" / "tui-flow"
    assert (session_dir / "secrets.json").stat().st_mode & 0o777 == 0o600
    assert set(json.loads((session_dir / "secrets.json").read_text())["connection"]) == {
        "key_passphrase", "sudo_password"}
    tljh_export = (tmp_path / "tljh-wizard-exports" / "config.yaml").read_text()
    assert "GitHubOAuthenticator" in tljh_export
    for sentinel in sentinels:
        for text, where in [(exported, "answers export"), (tljh_export, "TLJH config export"),
                            ((session_dir / "state.json").read_text(), "state.json"),
                            ((session_dir / "wizard.log").read_text(), "wizard.log"),
                            *((shot, f"screen {n}") for n, shot in enumerate(screenshots))]:
            assert sentinel not in text, f"a secret leaked into the {where}"
    assert len(screenshots) == 7


async def test_unknown_host_key_refused_leaves_the_wizard_at_connect(sshd_hub):
    from screens.authenticator import AuthenticatorScreen
    from screens.connect import ConnectScreen
    from screens.modals import HostKeyModal

    hub = sshd_hub
    ctx = unpinned_rig_context("tui-refuse", hub)
    app = build_app(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await to_host_key_question(pilot)
        await pilot.click("#reject")
        screen = await wait_for_screen(pilot, ConnectScreen)
        await settle(pilot)
        assert diagnosis_ids(screen) == {"connect.ssh": Status.ERROR}
        assert hub.host_key_fingerprint in screen.diagnoses[0].summary
        await pilot.press("ctrl+n")  # a failed connection is a hard gate: Next again retries, never proceeds
        await wait_for_screen(pilot, HostKeyModal)
        await pilot.click("#reject")
        await settle(pilot)
        assert not isinstance(app.screen, AuthenticatorScreen)
        assert ctx.session.current_step == "connect"
        await pilot.press("ctrl+q")


# ---------------------------------------------------------------------------------------------------------------
# responsiveness


@pytest.mark.slow
async def test_keys_are_handled_while_a_5_s_remote_command_runs(sshd_hub, monkeypatch):
    """A limits check that runs `sleep 5` on the hub over the session's SSH connection: while it runs, typing
    reaches the form and the screen updates; the check's worker is still running when it does."""
    from textual.widgets import Input

    from screens.limits import LimitsScreen

    hub = sshd_hub
    started = {}

    def slow_check(ctx, progress):
        started["at"] = time.monotonic()
        ctx.target.run(["sleep", "5"], timeout=30)
        return [Diagnosis("slow", Status.OK, "slept 5 s")]

    monkeypatch.setattr(LimitsScreen, "check", staticmethod(slow_check))
    ctx = rig_context("tui-responsive", hub)
    for key, value in {"connection.key_file": str(hub.client_key), "connection.tljh_prefix": str(hub.prefix),
                       "connection.host_key": hub.host_key_fingerprint}.items():
        ctx.session.accept(key, value)
    ctx.session.go_to("limits")
    from wizard.steps.connect import connect

    assert {d.status for d in connect(ctx)} == {Status.OK}  # the session's one connection, open before the test
    app = build_app(ctx)
    async with app.run_test(size=SIZE) as pilot:
        from screens.modals import ResumeModal

        await wait_for_screen(pilot, ResumeModal)
        await pilot.press("enter")  # Resume
        screen = await wait_for_screen(pilot, LimitsScreen)
        await pilot.press("ctrl+n")
        worker = next(w for w in app.workers if w.name == "checks")
        await wait_for(pilot, lambda: "at" in started, "the remote command to start")
        field = screen.query_one("#field-limits-total-users", Input)
        field.focus()
        await pilot.pause()
        for key in "12345":
            await pilot.press(key)  # returns once the key was processed and the screen refreshed
        # The outcome, not a timing: every key reached the form while the 5 s command was still running on the hub.
        assert field.value.endswith("12345")
        assert screen.busy and worker.is_running
        assert time.monotonic() - started["at"] < 5
        await pilot.press("escape")  # cancel: asked at once; a remote command already running ends first
        assert screen.cancel_token is not None and screen.cancel_token.cancelled
        await pilot.press("ctrl+r")  # no second engine call on the same connection meanwhile
        assert [w.name for w in app.workers if w.name == "checks" and w.is_running] == ["checks"]
        await settle(pilot)
        assert not screen.busy
        await pilot.press("ctrl+q")
    ctx.close()
