"""Backups: /home report, and the bundle round trip over the real sshd (pull, change, restore, identical bytes)."""

import subprocess
import tarfile

import pytest

from wizard.diagnosis import Status
from wizard.hub import backup
from wizard.hub.facts import HostFacts
from wizard.hub.ssh import SSHTarget


def ssh_target(hub, user=None, password=None):
    return SSHTarget(hub.host, port=hub.port, user=user or hub.admin.name, key_file=str(hub.client_key),
                     allow_agent=False, look_for_keys=False, known_hosts_files=[hub.known_hosts],
                     prefix=str(hub.prefix), sudo_password=password)


def test_bundle_round_trip(sshd_hub, tmp_path):
    config = sshd_hub.prefix / "config" / "config.yaml"
    config.write_bytes(b"# hand-written\nusers:\n  admin: [admin]\nlimits: {memory: 1G}\n")
    original = config.read_bytes()
    database = (sshd_hub.prefix / "state" / "jupyterhub.sqlite").read_bytes()
    user = sshd_hub.password_user
    with ssh_target(sshd_hub, user.name, user.sudo_password) as hub:
        bundle = backup.pull(hub, tmp_path / "backups")
        pulled_in = hub.round_trips

        assert bundle.path.stat().st_mode & 0o777 == 0o600
        assert bundle.checksum_path.stat().st_mode & 0o777 == 0o600
        assert (tmp_path / "backups").stat().st_mode & 0o777 == 0o700
        checked = subprocess.run(["sha256sum", "-c", bundle.checksum_path.name], cwd=bundle.path.parent,
                                 capture_output=True, text=True)
        assert checked.returncode == 0 and checked.stdout.strip().endswith(": OK")
        with tarfile.open(bundle.path) as tar:
            names = set(tar.getnames())
        assert {"config/config.yaml", "state/jupyterhub.sqlite", "state/jupyterhub_cookie_secret"} <= names
        assert not any(name.startswith("user") for name in names)

        config.write_bytes(b"users: {}\n")
        (sshd_hub.prefix / "state" / "acme.json").write_text("{}")
        before = hub.round_trips
        backup.restore(hub, bundle.path)
        assert hub.round_trips - before == 1
    assert pulled_in <= 2  # the sudo probe (password user) + the one tar stream
    assert config.read_bytes() == original
    assert config.stat().st_mode & 0o777 == 0o600 and config.stat().st_uid == 0
    assert (sshd_hub.prefix / "config").stat().st_mode & 0o777 == 0o700
    assert (sshd_hub.prefix / "state" / "jupyterhub.sqlite").read_bytes() == database
    assert not (sshd_hub.prefix / "state" / "acme.json").exists()
    assert not list(sshd_hub.prefix.glob(".*restore*"))


def test_damaged_bundle_is_refused_and_the_hub_untouched(sshd_hub, tmp_path):
    with ssh_target(sshd_hub) as hub:
        bundle = backup.pull(hub, tmp_path)
        data = bytearray(bundle.path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        bundle.path.write_bytes(bytes(data))
        config = sshd_hub.prefix / "config" / "config.yaml"
        config.write_bytes(b"users: {}\n")
        with pytest.raises(ValueError, match="damaged"):
            backup.restore(hub, bundle.path)
    assert config.read_bytes() == b"users: {}\n"


def _facts(home_on_root, device="/dev/vda1", fstype="ext4", provider=None):
    return HostFacts(os={}, tljh_version="2.0.0", memory={}, cpus=2, disks={},
                     home_mount={"device": device, "fstype": fstype, "mount_point": "/home"}, root_mount=None,
                     home_on_root_device=home_on_root, config_text=None, user_environment={},
                     cloud={"provider": provider, "public_ip": "203.0.113.5"} if provider else None)


def test_home_report():
    shared = backup.home_report(_facts(True, provider="digitalocean"))
    assert shared.status is Status.WARNING and "same disk" in shared.summary and "Droplet" in shared.fix
    separate = backup.home_report(_facts(False, "/dev/mapper/vg-home", "ext4", provider="aws"))
    assert separate.status is Status.OK and separate.data["snapshots"] == "lvm" and "EBS" in separate.fix
    assert backup.home_report(_facts(False, "tank/home", "zfs")).data["snapshots"] == "zfs"
