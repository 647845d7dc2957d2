"""The HTTPS step changes nothing: the TUI and the plain wizard walk from the HTTPS step to Review with mode acme-dns
(Pebble and BIND ready to issue) and nothing is ordered or uploaded — no order at Pebble, no account, no TXT record,
no file on the hub, config.yaml byte-identical. Review lists the certificate actions; applying from Review (TUI) then
orders from Pebble, uploads chain and key and checks the stand-in proxy serves them."""

from __future__ import annotations

import itertools

import pytest

from screens.app import build_app
from tests.rig.traefik import TraefikStandIn
from tests.support.hubs import CLIENT_SECRET
from tests.support.tui import SIZE, rig_context, settle, wait_for_screen
from wizard import yamlio
from wizard.https.acme_dns import ACCOUNT_KEY

_serial = itertools.count(1)


@pytest.fixture
def proxy(tmp_path, sshd_hub):
    """TLJH's proxy: serves the https.tls files config.yaml names (as Traefik does after a reload)."""
    server = TraefikStandIn(sshd_hub.prefix, tmp_path)
    yield server
    server.close()


def prepare(ctx, hub, bind_server, pebble, label: str) -> str:
    name = f"{label}{next(_serial)}.wizard.test"
    bind_server.add(name + ".", "A", "127.0.0.1")
    for key, value in {
        "connection.key_file": str(hub.client_key), "connection.tljh_prefix": str(hub.prefix),
        "connection.host_key": hub.host_key_fingerprint,
        "authenticator.type": "github", "authenticator.client_id": "review-client",
        "authenticator.client_secret": CLIENT_SECRET, "authenticator.allowed_users": ["alice"],
        "domain.name": name, "domain.reserved_ipv4": "127.0.0.1", "domain.ip_reserved_confirmed": True,
        "domain.resolvers": [bind_server.address],
        "https.mode": "acme-dns", "https.email": "admin@wizard.test",
        "https.staging_directory": pebble.directory_url, "https.production_directory": pebble.directory_url,
        "https.tsig_server": bind_server.address, "https.tsig_zone": "wizard.test",
        "https.tsig_key_name": bind_server.key_name, "https.tsig_secret": bind_server.key_secret,
        "https.tos_agreed": True,
    }.items():
        ctx.session.accept(key, value)
    for section in ("limits", "environment", "backups", "ssh"):
        ctx.session.answers.skip(section)
    ctx.session.go_to("https", finished="domain")
    return name


def options(bind_server, pebble, proxy, tmp_path) -> dict:
    """``RunOptions`` fields: the test CA, the stand-in proxy's address, the test BIND's port."""
    from wizard.https.issue import AcmeEnvironment

    roots = tmp_path / "pebble-root.pem"
    roots.write_text(pebble.root_pem())
    return {"acme_env": AcmeEnvironment(ca_bundle=str(pebble.ca_cert_path), trust_roots=str(roots),
                                        nameserver_port=bind_server.port, verify_address=("127.0.0.1", proxy.port),
                                        verify_timeout=30),
            "nameserver_port": bind_server.port}


def untouched(hub, ctx, bind_server, pebble, name: str, config_before: bytes, orders_before: int) -> None:
    """Nothing was ordered, published or installed."""
    assert pebble.server.output().count("POST /order-plz") == orders_before
    assert ctx.session.read_secret(ACCOUNT_KEY) is None
    assert bind_server.query(f"_acme-challenge.{name}.", "TXT") == []
    assert not (hub.prefix / "state" / "tljh-wizard" / "tls").exists()
    assert (hub.prefix / "config" / "config.yaml").read_bytes() == config_before


@pytest.mark.slow
async def test_tui_reaches_review_without_issuing_then_apply_issues(sshd_hub, bind_server, pebble, proxy, tmp_path):
    from screens.https import HttpsScreen
    from screens.modals import ConfirmModal, ResumeModal
    from screens.review import ReviewScreen

    hub = sshd_hub
    ctx = rig_context("tui-https", hub, **options(bind_server, pebble, proxy, tmp_path))
    name = prepare(ctx, hub, bind_server, pebble, "tui")
    config_before = (hub.prefix / "config" / "config.yaml").read_bytes()
    orders_before = pebble.server.output().count("POST /order-plz")
    app = build_app(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_screen(pilot, ResumeModal)
        await pilot.press("enter")
        screen = await wait_for_screen(pilot, HttpsScreen)
        await settle(pilot)
        assert not screen.query("#issue")  # no "get the certificate now": apply does it
        for _ in range(16):  # Next on HTTPS (its checks run), then Skip the later steps, to Review
            if isinstance(app.screen, ReviewScreen):
                break
            if isinstance(app.screen, ConfirmModal):
                await pilot.click("#yes")
            elif isinstance(app.screen, HttpsScreen):
                await pilot.press("ctrl+n")
            else:
                await pilot.press("ctrl+s")
            await pilot.pause()
            await settle(pilot)
        # the HTTPS step ran its checks (the DNS gate passed) and moved on
        assert ctx.dns_diagnoses and all(d.status.value != "error" for d in ctx.dns_diagnoses)
        screen = await wait_for_screen(pilot, ReviewScreen)
        await settle(pilot)
        assert screen.plan is not None and not screen.plan.problems, screen.plan and screen.plan.problems
        actions = "\n".join(screen.plan.actions)
        assert "order a test certificate" in actions and "order the certificate for" in actions
        assert "upload the chain" in actions and "check the hub serves the new certificate" in actions
        untouched(hub, ctx, bind_server, pebble, name, config_before, orders_before)

        await pilot.press("ctrl+n")
        await wait_for_screen(pilot, ConfirmModal)
        await pilot.click("#yes")
        screen = await wait_for_screen(pilot, ReviewScreen)
        await settle(pilot)
        assert screen.applied, screen.diagnoses
        shot = app.export_screenshot()
        await pilot.press("ctrl+q")
    ctx.close()
    assert pebble.server.output().count("POST /order-plz") == orders_before + 2  # staging, then production
    tls = hub.prefix / "state" / "tljh-wizard" / "tls"
    config = yamlio.loads((hub.prefix / "config" / "config.yaml").read_text())
    assert config["https"]["tls"] == {"cert": str(tls / "fullchain.pem"), "key": str(tls / "privkey.pem")}
    assert oct((tls / "privkey.pem").stat().st_mode)[-3:] == "600"
    assert ctx.session.record("https.certificate")["names"] == [name]
    assert bind_server.key_secret not in shot  # the TSIG secret never shows


def test_plain_reaches_review_without_issuing(sshd_hub, bind_server, pebble, proxy, tmp_path, monkeypatch):
    from wizard.context import open_context
    from wizard.plain import EXIT_STOPPED, ScriptedPrompter, run_plain

    monkeypatch.chdir(tmp_path)
    hub = sshd_hub
    session_name = f"plain-https{next(_serial)}"
    ctx = open_context(session_name, mode="ssh", prefill={
        "connection.host": hub.host, "connection.port": hub.port, "connection.user": hub.admin.name})
    name = prepare(ctx, hub, bind_server, pebble, "plain")
    ctx.close()
    ctx.session.close()
    config_before = (hub.prefix / "config" / "config.yaml").read_bytes()
    orders_before = pebble.server.output().count("POST /order-plz")
    prompter = ScriptedPrompter(confirms={"Resume": True, "Apply these changes": False},
                                choices={"A check failed": "continue"})
    from tests.rig.bind import free_port
    from wizard.context import RunOptions

    run_options = RunOptions(hub_api_url=hub.hub_api_url, skip_reachability=True,
                             metadata_base=f"http://127.0.0.1:{free_port()}",
                             **options(bind_server, pebble, proxy, tmp_path))
    code = run_plain(session_name, mode="ssh", prefill={}, prompter=prompter, options=run_options)
    transcript = "\n".join(prompter.transcript)
    assert code == EXIT_STOPPED, transcript
    assert "order the certificate for" in transcript and "upload the chain" in transcript, transcript
    assert "Get the certificate now" not in transcript

    from wizard.session import Session

    with Session.open(session_name, create=False, lock=False) as session:
        assert session.read_secret(ACCOUNT_KEY) is None
    assert pebble.server.output().count("POST /order-plz") == orders_before
    assert bind_server.query(f"_acme-challenge.{name}.", "TXT") == []
    assert not (hub.prefix / "state" / "tljh-wizard" / "tls").exists()
    assert (hub.prefix / "config" / "config.yaml").read_bytes() == config_before
