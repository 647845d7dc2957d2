"""The link to the hub cut mid-transfer (a TCP proxy in front of the rig's sshd stops forwarding at a chosen byte):
for config.yaml (the apply command, end to end) and for a certificate upload, the hub keeps the old file, the wizard
says the link was cut, and a re-run completes. Also the hub-side write itself: short input never replaces a file,
and a temp file left by a killed write is named and removed."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from tests.rig.cutproxy import CutProxy
from tests.rig.pki import TestPKI
from tests.support.cli import wizard, write_answers
from tests.support.hubs import hub_target, rig_documents
from wizard.https.install import InstallError, install_certificate
from wizard.hub import sandbox
from wizard.hub.local import LocalTarget
from wizard.hub.target import _WRITE_SCRIPT, TransferIncomplete

# An operator's long comment keeps config.yaml about 150 KB (the wizard keeps comments), so the transfer is long
# enough to be cut in its middle.
BIG_COMMENT = "".join(f"# note {i:05d}: {'the operator wrote this line by hand ' * 2}\n" for i in range(2000))


def temp_files(directory: Path) -> list[str]:
    return sorted(name for name in os.listdir(directory) if ".tljh-wizard-" in name and name.startswith("."))


def wait_for_no_temp_files(directory: Path, seconds: float = 10.0) -> list[str]:
    """The hub-side script notices the cut (stdin ends early) and removes its temp file a moment later."""
    deadline = time.monotonic() + seconds
    while temp_files(directory) and time.monotonic() < deadline:
        time.sleep(0.05)
    return temp_files(directory)


@pytest.mark.slow
def test_link_cut_during_the_config_transfer_keeps_the_old_file_and_a_rerun_completes(sshd_hub, tmp_path):
    config = sshd_hub.prefix / "config" / "config.yaml"
    config.write_text(BIG_COMMENT + sandbox.PRISTINE_CONFIG)
    original = config.read_bytes()
    assert len(original) > 140_000
    with CutProxy(sshd_hub.port) as proxy:
        public, secret = rig_documents(sshd_hub, https="none")  # no certificate work: the cut is the subject
        public["connection"]["port"] = proxy.port
        answers, secrets = write_answers(tmp_path, public, secret)
        common = ["--secrets", secrets, "--known-hosts", sshd_hub.known_hosts, "--hub-api-url", sshd_hub.hub_api_url]
        before = proxy.sent
        dry = wizard("apply", answers, *common, "--dry-run")
        assert dry.returncode == 0, dry.stdout + dry.stderr
        setup = proxy.sent - before  # connecting and reading config.yaml: what the apply sends before its write
        proxy.cut_at = proxy.sent + setup + 4_000 + 40_000  # + the backup command, then 40 KB into the transfer

        cut = wizard("apply", answers, *common, "--yes")
        output = cut.stdout + cut.stderr
        assert proxy.cuts == 1
        assert cut.returncode == 2, output
        assert "write config.yaml" in output and "dropped" in output, output
        assert "previous or the new file" in output and "Run apply again" in output, output
        assert "RESTORE FAILED" not in output
        assert config.read_bytes() == original
        assert wait_for_no_temp_files(config.parent) == []

        # A write killed on the hub (not merely cut) leaves its temp file: the next run names it and removes it.
        stale = config.parent / ".config.yaml.tljh-wizard-4242-1"
        stale.write_bytes(original[:32_704])
        proxy.heal()
        again = wizard("apply", answers, *common, "--yes")
        output = again.stdout + again.stderr
        assert again.returncode == 0, output
        assert f"removed {stale} (32704 bytes)" in output
    text = config.read_text()
    assert "GitHubOAuthenticator" in text and text.startswith(BIG_COMMENT)
    assert temp_files(config.parent) == []


def test_link_cut_during_a_certificate_upload_keeps_the_old_pair_and_a_rerun_completes(sshd_hub):
    pki = TestPKI()
    old, new = pki.leaf("hub.wizard.test"), pki.leaf("hub.wizard.test")
    tls = sshd_hub.prefix / "state" / "tljh-wizard" / "tls"
    key_path, cert_path = tls / "privkey.pem", tls / "fullchain.pem"
    with hub_target(sshd_hub) as target:  # the certificate in place before the renewal
        install_certificate(target, pki.fullchain(old), old.key_pem, str(cert_path), str(key_path),
                            configure=False, reload=False)
    old_key, old_cert = key_path.read_bytes(), cert_path.read_bytes()
    # A long chain (the root repeated) so the upload is long enough to be cut in its middle.
    chain = pki.fullchain(new) + pki.root_pem * 120
    assert len(chain) > 60_000
    with CutProxy(sshd_hub.port) as proxy:
        def arm(_phase, message):
            if message.startswith("writing the certificate"):  # two small commands, then the upload
                proxy.cut_at = proxy.sent + 30_000

        target = hub_target(sshd_hub)
        target.port = proxy.port
        target.known_hosts_files = []
        target.pinned = sshd_hub.host_key_fingerprint
        with target, pytest.raises(InstallError) as failed:
            install_certificate(target, chain, new.key_pem, str(cert_path), str(key_path), configure=False,
                                reload=False, progress=arm)
        assert proxy.cuts == 1
        assert "writing the certificate files failed" in str(failed.value) and "dropped" in str(failed.value)
        assert key_path.read_bytes() == old_key and cert_path.read_bytes() == old_cert
        assert wait_for_no_temp_files(tls) == []

        proxy.heal()
        with target:
            install_certificate(target, chain, new.key_pem, str(cert_path), str(key_path), configure=False,
                                reload=False)
    assert key_path.read_bytes() == new.key_pem and cert_path.read_bytes() == chain
    assert temp_files(tls) == []


@pytest.mark.parametrize("sent", [0, 100, 589])
def test_the_write_script_never_commits_short_input(tmp_path, sent):
    """The defect as first seen: 100 bytes of a 590-byte config piped through the write script replaced the file."""
    target = LocalTarget(str(tmp_path))
    path = tmp_path / "config.yaml"
    path.write_bytes(b"old")
    data = b"users:\n" + b"x" * 583
    assert len(data) == 590
    result = target.run(["sh", "-c", _WRITE_SCRIPT, "write-file", str(path), "600", "", str(len(data)),
                         hashlib.sha256(data).hexdigest()], stdin=data[:sent])
    assert result.exit_status == 65
    assert path.read_bytes() == b"old" and temp_files(tmp_path) == []


def test_same_size_other_bytes_are_refused_by_the_sha256(tmp_path):
    target = LocalTarget(str(tmp_path))
    path = tmp_path / "config.yaml"
    path.write_bytes(b"old")
    result = target.run(["sh", "-c", _WRITE_SCRIPT, "write-file", str(path), "600", "", "5",
                         hashlib.sha256(b"right").hexdigest()], stdin=b"wrong")
    assert result.exit_status == 65 and path.read_bytes() == b"old"


def test_a_short_transfer_is_named(tmp_path, monkeypatch):
    target = LocalTarget(str(tmp_path))
    path = tmp_path / "config.yaml"
    path.write_bytes(b"old")
    real_run = target.run

    def cut_stdin(argv, **options):  # the link drops after 100 bytes: the hub sees stdin end early
        options["stdin"] = options["stdin"][:100]
        return real_run(argv, **options)

    monkeypatch.setattr(target, "run", cut_stdin)
    with pytest.raises(TransferIncomplete, match=r"received 100 of the 590 bytes of .*config.yaml"):
        target.write_file(path, b"u" * 590)
    assert path.read_bytes() == b"old"
