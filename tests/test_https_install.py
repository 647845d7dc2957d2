"""Installing a certificate on the sshd fixture hub: files root-owned, key 0600, TLJH configured, proxy reloaded."""

from __future__ import annotations

import os
import stat

import pytest

from tests.rig.pki import TestPKI
from tests.support.hubs import hub_target
from wizard import yamlio
from wizard.https.install import InstallError, install_certificate
from wizard.hub import sandbox


def test_install_writes_files_sets_tls_and_reloads_the_proxy(sshd_hub):
    pki = TestPKI()
    leaf = pki.leaf("hub.wizard.test")
    tls = sshd_hub.prefix / "state" / "tljh-wizard" / "tls"
    phases = []
    with hub_target(sshd_hub) as target:
        install_certificate(target, pki.fullchain(leaf), leaf.key_pem, str(tls / "fullchain.pem"),
                            str(tls / "privkey.pem"), progress=lambda phase, message: phases.append(phase))
    key_stat = (tls / "privkey.pem").stat()
    assert stat.S_IMODE(key_stat.st_mode) == 0o600 and key_stat.st_uid == 0 and key_stat.st_gid == 0
    assert stat.S_IMODE(tls.stat().st_mode) == 0o700 and tls.stat().st_uid == 0
    assert (tls / "privkey.pem").read_bytes() == leaf.key_pem
    assert (tls / "fullchain.pem").read_bytes() == pki.fullchain(leaf)
    assert (tls / "fullchain.pem").stat().st_uid == 0
    config = yamlio.loads((sshd_hub.prefix / "config" / "config.yaml").read_text())
    assert config["https"] == {"enabled": True, "tls": {"cert": str(tls / "fullchain.pem"),
                                                        "key": str(tls / "privkey.pem")}}
    assert [r["component"] for r in sandbox.reloads(sshd_hub.prefix)] == ["proxy"]
    assert set(phases) == {"install"}
    assert not [name for name in os.listdir(tls) if name.startswith(".")]  # no temp files left behind


def test_a_failing_proxy_reload_is_an_install_error(sshd_hub):
    pki = TestPKI()
    leaf = pki.leaf("hub.wizard.test")
    tls = sshd_hub.prefix / "state" / "tljh-wizard" / "tls"
    sandbox.script_reloads(sshd_hub.prefix, proxy=["fail"])
    with hub_target(sshd_hub) as target, pytest.raises(InstallError, match="tljh-config reload proxy failed"):
        install_certificate(target, pki.fullchain(leaf), leaf.key_pem, str(tls / "fullchain.pem"),
                            str(tls / "privkey.pem"))


@pytest.mark.parametrize("count", [1, 20])
def test_https_settings_take_two_round_trips_whatever_their_number(sshd_hub, count):
    from wizard.https.install import set_https

    (sshd_hub.prefix / "config" / "config.yaml").write_text("# the operator's note\nusers:\n  admin:\n  - admin\n")
    names = [f"name{i}.wizard.test" for i in range(count)]
    with hub_target(sshd_hub) as target:
        set_https(target, {"enabled": True, "letsencrypt": {"email": "a@wizard.test", "domains": names,
                                                            "staging": True}})
        assert target.round_trips == 2
    text = (sshd_hub.prefix / "config" / "config.yaml").read_text()
    assert text.startswith("# the operator's note\n")
    config = yamlio.loads(text)
    assert config["users"] == {"admin": ["admin"]} and config["https"]["letsencrypt"]["domains"] == names


def test_values_are_serialised_never_pasted_into_yaml(sshd_hub):
    from wizard.https.install import InstallError, set_https

    hostile = "x\nauth:\n  type: dummy"
    with hub_target(sshd_hub) as target, pytest.raises(InstallError, match="https settings would be invalid"):
        set_https(target, {"enabled": "yes\nauth: {type: dummy}"})
    with hub_target(sshd_hub) as target:
        set_https(target, {"enabled": True, "letsencrypt": {"email": hostile, "domains": ["a.wizard.test"]}})
    config = yamlio.loads((sshd_hub.prefix / "config" / "config.yaml").read_text())
    assert config["https"]["letsencrypt"]["email"] == hostile and "auth" not in config
