"""SVG snapshots of every screen in a meaningful state at 80x24 and 120x40: failing checks, warnings, refused
values, modals.

Deterministic: a pinned terminal size, no cursor blink, no temp paths or clock times on screen (the hub is
``hub.example.edu``; the resume prompt's age is pinned). Snapshots live in ``tests/snapshots/``; after an intended
change of the interface, review and update them with ``pytest tests/test_tui_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import pytest_textual_snapshot
from textual.widgets import Input

from screens.app import build_app
from tests.support.tui import fill, settle, wait_for, wait_for_screen
from wizard.context import open_context

SIZES = {"80x24": (80, 24), "120x40": (120, 40)}


@pytest.fixture(params=list(SIZES), autouse=True)
def size(request):
    """Every snapshot at the smallest supported terminal (80x24) and a roomy one (120x40)."""
    return SIZES[request.param]
SNAPSHOTS = Path(__file__).parent / "snapshots"


class _SnapshotsInTestsDir(pytest_textual_snapshot.SVGImageExtension):
    @classmethod
    def dirname(cls, *, test_location) -> str:
        return str(SNAPSHOTS / test_location.basename)


@pytest.fixture(autouse=True)
def _snapshot_dir(monkeypatch):
    monkeypatch.setattr(pytest_textual_snapshot, "SVGImageExtension", _SnapshotsInTestsDir)


COMPLETE = {
    "connection.host": "hub.example.edu", "connection.user": "ubuntu",
    "authenticator.type": "github", "authenticator.client_id": "hub-client",
    "authenticator.client_secret": "snapshot-Secret-77", "authenticator.allowed_organizations": "example-org",
    "authenticator.admin_users": "ada",
    "domain.name": "hub.example.edu", "domain.reserved_ipv4": "203.0.113.10",
    "https.mode": "letsencrypt", "https.email": "admin@example.edu",
    "limits.memory": "2G", "limits.cpu": "1",
}


def wizard_at(step: str, answers: dict, *, mode: str = "ssh", sandbox_prefix=None):
    """The app over a session stopped at ``step`` two hours ago, with ``answers`` accepted."""
    prefill = {"connection.host": "hub.example.edu", "connection.user": "ubuntu"}
    ctx = open_context("snapshots", mode=mode, prefill=prefill, sandbox_prefix=sandbox_prefix)
    for key, value in answers.items():
        ctx.session.accept(key, value)
    if step != "connect":
        ctx.session.go_to(step, finished="connect")
    ctx.session.state["updated"] = time.time() - 2 * 3600 - 60
    return ctx, build_app(ctx)


def steady(pilot) -> None:
    """No blinking cursor and no toast (toasts expire on a timer) in the picture."""
    for widget in pilot.app.screen.query(Input):
        widget.cursor_blink = False
    pilot.app.clear_notifications()


async def resume(pilot, screen_cls):
    from screens.modals import ResumeModal

    await wait_for_screen(pilot, ResumeModal)
    await pilot.press("enter")  # the resume modal's focused button: Resume
    return await wait_for_screen(pilot, screen_cls)


def test_welcome_with_resume_prompt(snap_compare, size):
    _ctx, app = wizard_at("https", COMPLETE)

    async def run_before(pilot):
        from screens.modals import ResumeModal

        modal = await wait_for_screen(pilot, ResumeModal)
        assert modal.question == "Resume hub.example.edu at HTTPS, stopped 2 h ago?"

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_connect_with_a_failing_connection(snap_compare, size):
    from screens.connect import ConnectScreen

    _ctx, app = wizard_at("connect", {"connection.host": "127.0.0.1", "connection.port": 1})

    async def run_before(pilot):
        await pilot.press("enter")  # Start
        await wait_for_screen(pilot, ConnectScreen)
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert [d.status.value for d in pilot.app.screen.diagnoses] == ["error"]
        steady(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_connect_host_key_modal(snap_compare, size):
    from screens.connect import ConnectScreen
    from screens.modals import HostKeyModal

    _ctx, app = wizard_at("connect", {})

    async def run_before(pilot):
        await pilot.press("enter")
        await wait_for_screen(pilot, ConnectScreen)
        steady(pilot)
        pilot.app.push_screen(HostKeyModal("hub.example.edu", "SHA256:kTz0mJ1mZrJvGfWl5Yp2mOQe5x4VtZlqV2qkq3m8a9s",
                                           "ssh-ed25519"))
        await wait_for_screen(pilot, HostKeyModal)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_authenticator_validation_errors(snap_compare, size):
    from screens.authenticator import AuthenticatorScreen

    _ctx, app = wizard_at("authenticator", {})

    async def run_before(pilot):
        screen = await resume(pilot, AuthenticatorScreen)
        fill(screen, authenticator__type="github", authenticator__client_secret="snapshot-Secret-77",
             authenticator__admin_users="ada lovelace/")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert isinstance(pilot.app.screen, AuthenticatorScreen)
        steady(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
    # The secret typed on this screen is masked in the picture.
    label = next(name for name, value in SIZES.items() if value == size)
    picture = (SNAPSHOTS / "test_tui_snapshots" / f"test_authenticator_validation_errors[{label}].svg").read_text()
    assert "snapshot-Secret-77" not in picture and "•" * len("snapshot-Secret-77") in picture


def test_authenticator_insecure_modal(snap_compare, size):
    from screens.authenticator import AuthenticatorScreen
    from screens.modals import ConfirmModal

    _ctx, app = wizard_at("authenticator", {})

    async def run_before(pilot):
        screen = await resume(pilot, AuthenticatorScreen)
        fill(screen, authenticator__type="dummy")
        await pilot.pause()
        steady(pilot)
        await pilot.press("ctrl+n")
        await wait_for_screen(pilot, ConfirmModal)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_domain_validation_errors(snap_compare, size):
    from screens.domain import DomainScreen

    _ctx, app = wizard_at("domain", {key: COMPLETE[key] for key in COMPLETE if key.startswith("authenticator")})

    async def run_before(pilot):
        screen = await resume(pilot, DomainScreen)
        fill(screen, domain__name="hub_example", domain__reserved_ipv4="300.1.2.3", domain__resolvers="1.1.1.1:99999")
        await pilot.press("ctrl+n")
        await pilot.pause()
        steady(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_domain_check_results_with_a_stale_aaaa_and_an_unconfirmed_ip(snap_compare, size):
    """The results of the DNS checks (not only a toast) at 80x24: the table, the summary line and the highlighted
    row's fix are on screen. The DNS rows are written here in the check's shape (a zone with a stale AAAA record
    and a resolver still serving an old answer), so the picture does not depend on this machine's network; the
    DNS check itself is tested against BIND in tests/test_dns_check.py. The reserved-IP row is the engine's own
    verdict."""
    from screens.domain import DomainScreen
    from wizard.diagnosis import Diagnosis, Status
    from wizard.dns.reserved_ip import check_reserved_ip

    _ctx, app = wizard_at("domain", COMPLETE)
    rows = [
        Diagnosis("dns.zone", Status.OK, "zone example.edu, delegated to ns1.example.edu, ns2.example.edu"),
        Diagnosis("dns.nameservers", Status.OK, "2 of 2 authoritative nameservers answered"),
        Diagnosis("dns.a", Status.OK, "hub.example.edu has A 203.0.113.10 at every authoritative nameserver"),
        Diagnosis("dns.aaaa", Status.ERROR, "hub.example.edu has AAAA 2001:db8::99 but no IPv6 was given: Let's "
                  "Encrypt prefers IPv6 and will fail", fix="delete the AAAA record, or give the VM's IPv6 address"),
        Diagnosis("dns.caa", Status.OK, "no CAA record at hub.example.edu or its parents: any CA may issue"),
        Diagnosis("dns.resolvers", Status.WARNING, "1.1.1.1 still answers 198.51.100.7 (TTL 3600 s)",
                  fix="wait for the TTL to pass, then press Ctrl-R"),
        check_reserved_ip("203.0.113.10", None, None, None, confirmed=False),
    ]

    async def run_before(pilot):
        screen = await resume(pilot, DomainScreen)
        screen.show_diagnoses(rows)
        await pilot.pause()
        steady(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_https_off_is_a_warning(snap_compare, size):
    from screens.https import HttpsScreen

    _ctx, app = wizard_at("https", {**COMPLETE, "https.mode": "none"})

    async def run_before(pilot):
        screen = await resume(pilot, HttpsScreen)
        await settle(pilot)  # whatever the step runs as it opens ends first: one re-run, one set of log lines
        await pilot.press("ctrl+r")  # re-run the checks without leaving the step
        await wait_for(pilot, lambda: not screen.busy, "the re-run to finish", 60)
        await settle(pilot)
        steady(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_https_existing_certificate_refused(snap_compare, size):
    from screens.https import HttpsScreen

    _ctx, app = wizard_at("https", {**COMPLETE, "https.mode": "existing", "https.cert_path": "./missing-fullchain.pem",
                                    "https.key_path": "./missing-privkey.pem"})

    async def run_before(pilot):
        await resume(pilot, HttpsScreen)
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert pilot.app.screen.diagnoses[0].status.value == "error"
        steady(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_limits_sizing_against_a_small_vm(snap_compare, size):
    from screens.limits import LimitsScreen
    from wizard.hub.facts import HostFacts

    ctx, app = wizard_at("limits", {**COMPLETE, "limits.memory": "4G", "limits.total_users": "60",
                                     "limits.cull_every": "7200"})
    gib = 1024 ** 3
    ctx.facts = HostFacts(os={"name": "Ubuntu 24.04 LTS"}, tljh_version="2.0.0",
                          memory={"total": 8 * gib, "available": 6 * gib}, cpus=2,
                          disks={"home": {"path": "/home", "total": 80 * gib, "free": 60 * gib}}, home_mount=None,
                          root_mount=None, home_on_root_device=True, config_text="", user_environment={}, cloud=None)

    async def run_before(pilot):
        await resume(pilot, LimitsScreen)
        await pilot.press("ctrl+r")
        await settle(pilot)
        statuses = {d.id: d.status.value for d in pilot.app.screen.diagnoses}
        assert statuses["limits.ram"] == "warning" and statuses["limits.cull.every"] == "warning"
        steady(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_environment_refuses_a_package_spec(snap_compare, size):
    from screens.environment import EnvironmentScreen

    _ctx, app = wizard_at("environment", COMPLETE)

    async def run_before(pilot):
        screen = await resume(pilot, EnvironmentScreen)
        fill(screen, environment__conda_packages="numpy pandas=2.2",
             environment__pip_packages="nbgitpuller $(touch /tmp/pwned)")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert isinstance(pilot.app.screen, EnvironmentScreen)
        steady(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


README_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKliLgpNHkbRxLHbGIKl8p2Dbuf0YUQgCwyZfDzhcQxE alice@laptop"


def test_ssh_access_refuses_a_forced_command_and_a_name_tljh_cannot_use(snap_compare, size):
    from screens.ssh import SshAccessScreen

    _ctx, app = wizard_at("ssh", COMPLETE)

    async def run_before(pilot):
        screen = await resume(pilot, SshAccessScreen)
        fill(screen, ssh__admin_keys=f'command="/bin/sh" {README_KEY}', ssh__user_keys=f"ann:lee: {README_KEY}")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert isinstance(pilot.app.screen, SshAccessScreen)
        steady(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_backups_home_on_the_root_disk(snap_compare, size):
    from screens.backups import BackupsScreen
    from wizard.hub.backup import home_report
    from wizard.hub.facts import HostFacts

    _ctx, app = wizard_at("backups", COMPLETE)
    facts = HostFacts(os={}, tljh_version="2.0.0", memory={}, cpus=2, disks={},
                      home_mount={"device": "/dev/vda1", "mount_point": "/", "fstype": "ext4"}, root_mount=None,
                      home_on_root_device=True, config_text="", user_environment={},
                      cloud={"provider": "digitalocean", "public_ip": "203.0.113.10"})

    async def run_before(pilot):
        screen = await resume(pilot, BackupsScreen)
        screen.show_diagnoses([home_report(facts)])  # the engine's verdict on a hub whose /home shares the root disk
        await pilot.pause()
        steady(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_review_not_ready_lists_missing_answers(snap_compare, size):
    from screens.review import ReviewScreen

    _ctx, app = wizard_at("review", {"authenticator.type": "google", "https.mode": "acme-dns"})

    async def run_before(pilot):
        await resume(pilot, ReviewScreen)
        await settle(pilot)
        assert pilot.app.screen.plan.problems
        steady(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_review_masked_diff_on_the_sandbox(snap_compare, tmp_path, size):
    from screens.review import ReviewScreen

    answers = {**COMPLETE, "https.mode": "none", "limits.total_users": "40"}
    _ctx, app = wizard_at("review", answers, mode="sandbox", sandbox_prefix=tmp_path / "hub")

    async def run_before(pilot):
        await resume(pilot, ReviewScreen)
        await settle(pilot)
        plan = pilot.app.screen.plan
        assert plan.diff and "snapshot-Secret-77" not in plan.diff and "********" in plan.diff
        steady(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_done_with_exports_and_cron_line(snap_compare, size):
    from screens.done import DoneScreen

    _ctx, app = wizard_at("done", COMPLETE)

    async def run_before(pilot):
        await resume(pilot, DoneScreen)
        await wait_for(pilot, lambda: not [w for w in pilot.app.workers if w.name == "hub-config" and w.is_running],
                       "Done to read config.yaml again")
        await pilot.pause()
        steady(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
