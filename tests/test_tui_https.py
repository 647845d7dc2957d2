"""The HTTPS screen end to end on the fixtures: mode acme-dns, "Get the certificate now", the production
confirmation, then Pebble issues (staging first), BIND carries the DNS-01 challenges, the sshd hub receives the
certificate and a stand-in for TLJH's proxy serves it; the screen shows the verdict."""

from __future__ import annotations

import pytest

from screens.app import build_app
from tests.rig.pki import TLSServer
from tests.support.tui import SIZE, diagnosis_ids, rig_context, settle, wait_for_screen
from wizard import yamlio
from wizard.diagnosis import Status


@pytest.fixture
def proxy(tmp_path, sshd_hub):
    """Serves whatever the hub's https.tls files hold, at each connection (as Traefik would after a reload)."""
    tls_dir = sshd_hub.prefix / "state" / "tljh-wizard" / "tls"
    server = TLSServer(tmp_path, loader=lambda: (tls_dir / "fullchain.pem", tls_dir / "privkey.pem"))
    yield server
    server.close()


@pytest.mark.slow
async def test_https_screen_issues_a_certificate_with_dns_01(sshd_hub, bind_server, pebble, proxy, tmp_path):
    from screens.https import HttpsScreen
    from screens.modals import ConfirmModal, ResumeModal
    from wizard.https.issue import AcmeEnvironment

    hub = sshd_hub
    roots = tmp_path / "pebble-root.pem"
    roots.write_text(pebble.root_pem())
    ctx = rig_context("tui-https", hub, acme_env=AcmeEnvironment(**{
        "ca_bundle": str(pebble.ca_cert_path), "trust_roots": str(roots), "nameserver_port": bind_server.port,
        "verify_address": ("127.0.0.1", proxy.port), "verify_timeout": 30}))
    for key, value in {
        "connection.key_file": str(hub.client_key), "connection.tljh_prefix": str(hub.prefix),
        "connection.host_key": hub.host_key_fingerprint, "domain.name": "tui.wizard.test",
        "domain.reserved_ipv4": "203.0.113.10", "https.mode": "acme-dns", "https.email": "admin@wizard.test",
        "https.staging_directory": pebble.directory_url, "https.production_directory": pebble.directory_url,
        "https.tsig_server": bind_server.address, "https.tsig_zone": "wizard.test",
        "https.tsig_key_name": bind_server.key_name, "https.tsig_secret": bind_server.key_secret,
        "https.tos_agreed": True,
    }.items():
        ctx.session.accept(key, value)
    ctx.session.go_to("https", finished="domain")
    app = build_app(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_screen(pilot, ResumeModal)
        await pilot.press("enter")
        screen = await wait_for_screen(pilot, HttpsScreen)
        await pilot.click("#issue")
        modal = await wait_for_screen(pilot, ConfirmModal)
        assert "production certificate" in modal.body
        await pilot.click("#yes")
        screen = await wait_for_screen(pilot, HttpsScreen)
        await settle(pilot)
        assert diagnosis_ids(screen) == {"https.served.production": Status.OK}, screen.diagnoses
        assert "production certificate served for tui.wizard.test" in screen.diagnoses[0].summary
        shot = app.export_screenshot()
        await pilot.press("ctrl+q")
    ctx.close()
    tls = hub.prefix / "state" / "tljh-wizard" / "tls"
    config = yamlio.loads((hub.prefix / "config" / "config.yaml").read_text())
    assert config["https"]["tls"] == {"cert": str(tls / "fullchain.pem"), "key": str(tls / "privkey.pem")}
    assert ctx.session.record("https.certificate")["names"] == ["tui.wizard.test"]
    assert bind_server.key_secret not in shot  # the TSIG secret never shows
