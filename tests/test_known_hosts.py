"""known_hosts as OpenSSH reads it: the same file is given to OpenSSH's own client (the oracle, StrictHostKeyChecking
and BatchMode) and to the wizard's SSH target, against the rig's sshd; both must reach the same verdict — accepted,
refused as CHANGED, refused as revoked, or not known (never offered for acceptance without a terminal)."""

from __future__ import annotations

import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from wizard.hub import known_hosts
from wizard.hub.ssh import HostKeyRevoked, SSHTarget
from wizard.hub.target import ConnectError, HostKeyChanged, HostKeyUnknown


def public_line(key) -> str:
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


OTHER_ED25519 = public_line(ed25519.Ed25519PrivateKey.generate())
OTHER_ECDSA = public_line(ec.generate_private_key(ec.SECP256R1()))
CA_KEY = public_line(ed25519.Ed25519PrivateKey.generate())


def variants(hub) -> dict[str, tuple[str, bool]]:
    """name -> (known_hosts text, hash it with ssh-keygen -H)."""
    right, port = hub.host_public_key, hub.port
    return {
        "exact": (f"[127.0.0.1]:{port} {right}\n", False),
        "pattern-right-key": (f"[127.0.*]:{port} {right}\n", False),
        "pattern-other-key": (f"[127.0.*]:{port} {OTHER_ED25519}\n", False),
        "star-other-key": (f"* {OTHER_ED25519}\n", False),
        "question-mark-other-key": (f"[127.0.0.?]:{port} {OTHER_ED25519}\n", False),
        "negated-other-key": (f"[127.0.0.*]:{port},![127.0.0.1]:{port} {OTHER_ED25519}\n", False),
        "negated-right-key": (f"*,![127.0.0.1]:{port} {right}\n", False),
        "negated-both-right-key": (f"*,![127.0.0.1]:{port},!127.0.0.1 {right}\n", False),
        "portless-right-key": (f"127.0.0.1 {right}\n", False),
        "portless-other-key": (f"127.0.0.1 {OTHER_ED25519}\n", False),
        "other-port-other-key": (f"[127.0.0.1]:{port + 1} {OTHER_ED25519}\n", False),
        "hashed-right-key": (f"[127.0.0.1]:{port} {right}\n", True),
        "hashed-other-key": (f"[127.0.0.1]:{port} {OTHER_ED25519}\n", True),
        "other-type-only": (f"[127.0.0.1]:{port} {OTHER_ECDSA}\n", False),
        "second-line-right-key": (f"[127.0.0.1]:{port} {OTHER_ED25519}\n[127.0.*]:{port} {right}\n", False),
        "cert-authority-only": (f"@cert-authority * {CA_KEY}\n", False),
        "revoked": (f"@revoked * {right}\n[127.0.0.1]:{port} {right}\n", False),
        "damaged-lines-skipped": (f"garbage\n@unknown-marker x y z\n[127.0.0.1]:{port} ssh-ed25519 !!!\n"
                                  f"[127.0.0.1]:{port} {right}\n", False),
    }


def openssh_verdict(hub, path) -> str:
    argv = ["ssh", "-p", str(hub.port), "-i", str(hub.client_key), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={path}", "-o",
            "GlobalKnownHostsFile=/dev/null", "-o", "CheckHostIP=no", "-o", "LogLevel=ERROR",
            f"{hub.admin.name}@{hub.host}", "true"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if done.returncode == 0:
        return "accepted"
    if "REVOKED" in done.stderr:
        return "revoked"
    if "HAS CHANGED" in done.stderr:
        return "changed"
    assert "Host key verification failed" in done.stderr, done.stderr
    return "not known"


def wizard_verdict(hub, path, tmp_path) -> str:
    target = SSHTarget(hub.host, port=hub.port, user=hub.admin.name, key_file=str(hub.client_key),
                       allow_agent=False, look_for_keys=False, known_hosts_files=[path],
                       own_known_hosts=tmp_path / "own_known_hosts", accept_host_key=None)
    try:
        with target:
            target.connect()
        return "accepted"
    except HostKeyRevoked:
        return "revoked"
    except HostKeyChanged:
        return "changed"
    except HostKeyUnknown:
        return "not known"
    except ConnectError as exc:
        assert exc.kind == "host_key" and "@cert-authority" in str(exc), exc
        return "not known"


EXPECTED = {
    "exact": "accepted", "pattern-right-key": "accepted", "pattern-other-key": "changed",
    "star-other-key": "changed", "question-mark-other-key": "changed", "negated-other-key": "not known",
    "negated-right-key": "accepted",  # the port-less name still matches `*` (OpenSSH's second look-up)
    "negated-both-right-key": "not known", "portless-right-key": "accepted", "portless-other-key": "not known", "other-port-other-key": "not known", "hashed-right-key": "accepted",
    "hashed-other-key": "changed", "other-type-only": "changed", "second-line-right-key": "accepted",
    "cert-authority-only": "not known", "revoked": "revoked", "damaged-lines-skipped": "accepted",
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_the_wizard_agrees_with_openssh(sshd_rig, tmp_path, name):
    text, hashed = variants(sshd_rig)[name]
    path = tmp_path / "known_hosts"
    path.write_text(text)
    if hashed:
        subprocess.run(["ssh-keygen", "-H", "-f", str(path)], check=True, capture_output=True)
        assert "127.0.0.1" not in path.read_text()
    oracle = openssh_verdict(sshd_rig, path)
    assert oracle == EXPECTED[name], f"OpenSSH says {oracle}"
    assert wizard_verdict(sshd_rig, path, tmp_path) == oracle


def test_a_changed_key_names_the_file_and_line(sshd_rig, tmp_path):
    path = tmp_path / "known_hosts"
    path.write_text(f"# mine\nexample.org {OTHER_ECDSA}\n[127.0.*]:{sshd_rig.port} {OTHER_ED25519}\n")
    with pytest.raises(HostKeyChanged) as refused:
        SSHTarget(sshd_rig.host, port=sshd_rig.port, user=sshd_rig.admin.name, key_file=str(sshd_rig.client_key),
                  allow_agent=False, look_for_keys=False, known_hosts_files=[path],
                  own_known_hosts=tmp_path / "own").connect()
    assert f"{path}:3" in str(refused.value) and sshd_rig.host_key_fingerprint in str(refused.value)


def test_host_matching_rules():
    assert known_hosts.host_matches("hub.example.org", "*.EXAMPLE.org")
    assert not known_hosts.host_matches("hub.example.org", "*.example.org,!hub.*")
    assert known_hosts.host_matches("[10.0.0.5]:2222", "[10.0.0.?]:2222")
    assert not known_hosts.host_matches("[10.0.0.5]:2222", "10.0.0.5")
    assert not known_hosts.host_matches("a.b", "a?b.")  # a dot in a pattern is literal, not a regex dot
    assert not known_hosts.host_matches("axb", "a.b")
