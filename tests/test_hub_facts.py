"""Host facts in one round trip, against the sshd rig; cloud metadata from a loopback server (never the real one)."""

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from wizard.hub import facts, sandbox
from wizard.hub.local import SandboxTarget
from wizard.hub.ssh import SSHTarget


def ssh_target(hub, user=None, password=None):
    return SSHTarget(hub.host, port=hub.port, user=user or hub.admin.name, key_file=str(hub.client_key),
                     allow_agent=False, look_for_keys=False, known_hosts_files=[hub.known_hosts],
                     prefix=str(hub.prefix), sudo_password=password)


class Metadata:
    """A loopback stand-in for a cloud metadata service: ``routes`` maps (method, path) to a body."""

    def __init__(self, routes, required_headers=None):
        required = required_headers or {}
        self.requests = []

        class Handler(BaseHTTPRequestHandler):
            def _answer(handler):
                self.requests.append((handler.command, handler.path, dict(handler.headers)))
                body = routes.get((handler.command, handler.path))
                needed = required.get(handler.path, {})
                if body is None or any(handler.headers.get(k) != v for k, v in needed.items()):
                    handler.send_response(404)
                    handler.end_headers()
                    return
                handler.send_response(200)
                handler.end_headers()
                handler.wfile.write(body.encode())

            do_GET = do_PUT = _answer

            def log_message(handler, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def unused_base():
    with socket.socket() as held:  # bound, never listening: every probe is refused at once
        held.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{held.getsockname()[1]}"


def test_facts_over_ssh_in_one_round_trip(sshd_hub, unused_base):
    with ssh_target(sshd_hub) as hub:
        found = facts.gather(hub, metadata_base=unused_base)
        assert hub.round_trips == 1
    assert found.tljh_version == sandbox.TLJH_VERSION
    assert found.config == {"users": {"admin": ["admin"]}}
    assert found.config_text == sandbox.PRISTINE_CONFIG
    env = found.user_environment
    assert (env["python"], env["conda_packages"], env["pip_packages"]) == (
        sandbox.USER_PYTHON, len(sandbox.CONDA_PACKAGES), len(sandbox.PIP_PACKAGES))
    assert found.ram_bytes > 0 and found.cpus >= 1
    assert found.disks["prefix"]["free"] > 0 and found.disks["root"]["total"] >= found.disks["root"]["free"]
    assert found.home_mount["mount_point"].startswith("/") and found.home_mount["fstype"]
    assert isinstance(found.home_on_root_device, bool)
    assert found.os["name"] != "unknown"
    assert (found.public_ip, found.provider, found.cloud) == ("unknown", "unknown", None)
    assert any(line.startswith("Public IP: unknown") for line in found.summary())


def test_facts_with_sudo_password(sshd_hub, unused_base):
    user = sshd_hub.password_user
    with ssh_target(sshd_hub, user.name, user.sudo_password) as hub:
        assert facts.gather(hub, metadata_base=unused_base).tljh_version == sandbox.TLJH_VERSION


def test_digitalocean_public_and_reserved_ip(sshd_hub):
    metadata = Metadata({
        ("GET", "/metadata/v1/interfaces/public/0/ipv4/address"): "203.0.113.7",
        ("GET", "/metadata/v1/reserved_ip/ipv4/active"): "true",
        ("GET", "/metadata/v1/reserved_ip/ipv4/ip_address"): "203.0.113.99",
    })
    try:
        with ssh_target(sshd_hub) as hub:
            found = facts.gather(hub, metadata_base=metadata.base)
    finally:
        metadata.close()
    assert (found.provider, found.public_ip, found.reserved_ip) == ("digitalocean", "203.0.113.7", "203.0.113.99")


def test_aws_imdsv2_token_flow(sshd_hub):
    metadata = Metadata({("PUT", "/latest/api/token"): "tok-123", ("GET", "/latest/meta-data/public-ipv4"): "198.51.100.4"},
                        required_headers={"/latest/meta-data/public-ipv4": {"X-aws-ec2-metadata-token": "tok-123"},
                                          "/latest/api/token": {"X-aws-ec2-metadata-token-ttl-seconds": "60"}})
    try:
        with ssh_target(sshd_hub) as hub:
            found = facts.gather(hub, metadata_base=metadata.base)
    finally:
        metadata.close()
    assert (found.provider, found.public_ip, found.reserved_ip) == ("aws", "198.51.100.4", None)


@pytest.mark.parametrize("provider,path,headers", [
    ("gcp", "/computeMetadata/v1/instance/network-interfaces/0/access-configs/0/external-ip", {"Metadata-Flavor": "Google"}),
    ("azure", "/metadata/instance/network/interface/0/ipv4/ipAddress/0/publicIpAddress?api-version=2021-02-01&format=text",
     {"Metadata": "true"}),
    ("hetzner", "/hetzner/v1/metadata/public-ipv4", {}),
])
def test_other_providers(tmp_path, provider, path, headers):
    metadata = Metadata({("GET", path): "192.0.2.10"}, required_headers={path: headers})
    target = SandboxTarget(tmp_path / "tljh")
    try:
        found = facts.gather(target, metadata_base=metadata.base)
    finally:
        metadata.close()
        target.close()
    assert (found.provider, found.public_ip) == (provider, "192.0.2.10")


def test_unparsable_config_is_reported_not_raised(tmp_path, unused_base):
    target = SandboxTarget(tmp_path / "tljh")
    (tmp_path / "tljh" / "config" / "config.yaml").write_text("users: [unclosed\n")
    try:
        found = facts.gather(target, metadata_base=unused_base)
    finally:
        target.close()
    assert found.config is None and "not valid YAML" in found.config_error
    assert json.dumps(found.user_environment)
