"""`tljh-wizard apply ANSWERS --yes` replays the whole wizard in one run on the sshd rig: the backup bundle, package
installs (the environment frozen before them), the freeze, an existing certificate uploaded (verified on the hub) and
served, config.yaml pointing at it — and records the session, which `export SESSION` reads back.

The DNS gate runs against the test BIND; the served certificate is checked at a TLS stand-in for Traefik
(``tests/rig/traefik.py``). The user environment is a real venv (pip from local wheels), conda a recording stand-in."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest

from tests.rig.pki import TestPKI
from tests.rig.traefik import TraefikStandIn
from tests.support.hubs import rig_documents
from wizard import yamlio
from wizard.environment import sample
from wizard.session import Session, session_name

WIZARD = [sys.executable, "-m", "wizard"]
_serial = itertools.count(1)


@pytest.fixture
def hub(env_hub):
    """The rig's hub with a sample user environment (``tests/rig/userenv.py``)."""
    return env_hub


@pytest.mark.slow
def test_replay_of_certificate_packages_and_backups_does_each_and_records_the_session(hub, bind_server, tmp_path):
    name = f"replay{next(_serial)}.wizard.test"
    bind_server.add(name + ".", "A", "127.0.0.1")
    pki = TestPKI("Operator")
    leaf = pki.leaf(name)
    (tmp_path / "fullchain.pem").write_bytes(pki.fullchain(leaf))
    (tmp_path / "privkey.pem").write_bytes(leaf.key_pem)
    (tmp_path / "privkey.pem").chmod(0o600)
    (tmp_path / "root.pem").write_bytes(pki.root_pem)
    bundles = tmp_path / "bundles"
    public, secret = rig_documents(hub, https="none")
    public["domain"] = {"name": name, "reserved_ipv4": "127.0.0.1", "ip_reserved_confirmed": True,
                        "resolvers": [bind_server.address]}
    public["https"] = {"mode": "existing", "cert_path": str(tmp_path / "fullchain.pem"),
                       "key_path": str(tmp_path / "privkey.pem")}
    public["environment"] = {"default_app": "jupyterlab", "conda_packages": ["xarray"],
                             "pip_packages": ["ipywidgets==8.1.5"], "freeze": True}
    public["backups"] = {"pull_bundle": True, "bundle_dir": str(bundles)}
    (tmp_path / "answers.yaml").write_text(yamlio.dump(public))
    (tmp_path / "secrets.yaml").write_text(yamlio.dump(secret))
    (tmp_path / "secrets.yaml").chmod(0o600)
    traefik = TraefikStandIn(hub.prefix, tmp_path)
    argv = [*WIZARD, "apply", str(tmp_path / "answers.yaml"), "--secrets", str(tmp_path / "secrets.yaml"),
            "--known-hosts", str(hub.known_hosts), "--hub-api-url", hub.hub_api_url, "--no-smoke",
            "--nameserver-port", str(bind_server.port), "--yes", "--verify-address", f"127.0.0.1:{traefik.port}",
            "--trust-roots", str(tmp_path / "root.pem")]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    finally:
        traefik.close()
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    # the bundle, first
    assert len(list(bundles.glob("tljh-backup-*.tar.gz"))) == 1
    # the installs and the freeze
    assert sample.conda_log(hub.prefix)[-1] == ["install", "--yes", "--prefix", f"{hub.prefix}/user", "xarray"]
    assert list((hub.prefix / "user").glob("lib/python*/site-packages/ipywidgets-8.1.5.dist-info"))
    assert len(list((hub.prefix / "state/tljh-wizard/environment").glob("*.json"))) == 2
    # the certificate, uploaded and served; config.yaml points at it
    tls = hub.prefix / "state" / "tljh-wizard" / "tls"
    assert (tls / "fullchain.pem").read_bytes() == pki.fullchain(leaf)
    config = yamlio.loads((hub.prefix / "config" / "config.yaml").read_text())
    assert config["https"]["tls"] == {"cert": str(tls / "fullchain.pem"), "key": str(tls / "privkey.pem")}
    assert leaf.key_pem.decode() not in output
    # the session: answers, host, every step finished; export reads it back
    session = session_name(hub.host, hub.admin.name, hub.port)
    with Session.open(session, create=False, lock=False) as saved:
        assert {"environment", "backups", "https", "review"} <= set(saved.state["finished_steps"])
        journal = {(entry["action"], entry["phase"]) for entry in saved.state["journal"]}
        assert {("backup-bundle", "done"), ("env-conda", "done"), ("env-pip", "done"), ("env-freeze", "done"),
                ("write-config", "done")} <= journal
    exported = subprocess.run([*WIZARD, "export", session, "--format", "answers"], capture_output=True, text=True,
                              timeout=120, cwd=Path(__file__).resolve().parent.parent)
    assert exported.returncode == 0 and "ipywidgets==8.1.5" in exported.stdout and "existing" in exported.stdout
