"""Regressions found by the security review: secrets reaching messages, files or the hub where they must not."""

from __future__ import annotations

import pytest

from wizard import yamlio
from wizard.answers import Answers
from wizard.fields import ValidationError

SENTINEL = "s3cr3t-SENTINEL-value"


def test_duplicate_key_error_does_not_quote_the_values(tmp_path):
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(f"version: 1\nauthenticator:\n  client_secret: {SENTINEL}\n  client_secret: other-{SENTINEL}\n")
    with pytest.raises(ValidationError) as caught:
        Answers.load(tmp_path / "secrets.yaml", secrets)
    assert "duplicate key" in str(caught.value) and "client_secret" in str(caught.value)
    assert SENTINEL not in str(caught.value)
    with pytest.raises(ValidationError) as caught:
        yamlio.loads(f"a: {SENTINEL}\na: x\n", round_trip=True)
    assert SENTINEL not in str(caught.value)


def _cli(capsys, *argv):
    """Run the CLI; (exit code, stderr). A traceback would escape as an exception and fail the test."""
    from wizard.cli import main

    code = main(list(argv))
    return code, capsys.readouterr().err


@pytest.mark.parametrize("pin", ["garbage", "ssh-ed25519 !!!notbase64", "SHA256:short"])
def test_a_malformed_host_key_pin_is_a_one_line_refusal(capsys, tmp_path, pin):
    for argv in (["backup", "127.0.0.1:1", "--host-key", pin],
                 ["restore-backup", "127.0.0.1:1", str(_bundle(tmp_path)), "--host-key", pin, "--yes"],
                 ["env", "list", "127.0.0.1:1", "--host-key", pin]):
        code, err = _cli(capsys, *argv)
        assert code == 2 and "host-key" in err.replace("host_key", "host-key") and len(err.strip().splitlines()) == 1


def test_a_malformed_pin_in_an_answers_file_names_the_key(tmp_path):
    (tmp_path / "a.yaml").write_text("version: 1\nconnection: {host: hub.example.edu, host_key: garbage}\n")
    with pytest.raises(ValidationError) as caught:
        Answers.load(tmp_path / "a.yaml")
    assert "connection.host_key" in str(caught.value)


def test_a_pinned_public_key_line_of_any_length_is_accepted():
    from wizard.fields import host_key
    from wizard.hub.ssh import fingerprint, normalise_pin

    blob = bytes(range(256)) * 2  # as long as an RSA key's blob
    import base64

    line = "ssh-rsa " + base64.b64encode(blob).decode() + " admin@hub"
    assert host_key(line) == line and normalise_pin(line) == fingerprint(blob)
    assert normalise_pin("SHA256:" + "A" * 43 + "=") == "SHA256:" + "A" * 43


def _bundle(tmp_path):
    import hashlib

    bundle = tmp_path / "tljh-backup.tar.gz"
    bundle.write_bytes(b"not really a tarball")
    (tmp_path / "tljh-backup.tar.gz.sha256").write_text(
        hashlib.sha256(bundle.read_bytes()).hexdigest() + "  tljh-backup.tar.gz\n")
    return bundle


@pytest.mark.parametrize("content", [None, "", "not-a-digest  x\n"])
def test_restore_refuses_a_missing_bundle_or_a_broken_checksum_file_in_one_line(capsys, tmp_path, content):
    bundle = tmp_path / "b.tar.gz"
    if content is not None:
        bundle.write_bytes(b"x")
        (tmp_path / "b.tar.gz.sha256").write_text(content)
    code, err = _cli(capsys, "restore-backup", "--sandbox", str(tmp_path / "hub"), str(bundle), "--yes")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert ("no such bundle" in err) if content is None else ("holds no sha256 digest" in err)
    assert not (tmp_path / "hub").exists()  # refused before the hub was touched


@pytest.mark.parametrize("secrets, message", [
    ("version: 1\nconnection: [1, 2]\n", "expected a mapping"),
    ("version: 1\nconnection: {sudo_password: 12345}\n", "connection.sudo_password"),
])
def test_a_malformed_connection_secrets_file_is_a_one_line_refusal(capsys, tmp_path, secrets, message):
    (tmp_path / "s.yaml").write_text(secrets)
    code, err = _cli(capsys, "backup", "127.0.0.1:1", "--secrets", str(tmp_path / "s.yaml"))
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_renew_refuses_a_bad_verify_address_in_one_line(capsys):
    from wizard.session import Session

    Session.open("root@127.0.0.1:1").close()
    code, err = _cli(capsys, "renew", "root@127.0.0.1:1", "--verify-address", "hub:notaport")
    assert code == 2 and "expected HOST or HOST:PORT" in err and len(err.strip().splitlines()) == 1


def test_a_restore_that_fails_half_way_puts_the_swapped_part_back(tmp_path, monkeypatch):
    """config/ is swapped in, then moving state/ in fails: the hub must keep its old config/ and state/."""
    import shutil

    from wizard.hub import backup
    from wizard.hub.local import SandboxTarget
    from wizard.hub.target import CommandFailed

    hub_dir = tmp_path / "hub"
    with SandboxTarget(hub_dir) as hub:
        bundle = backup.pull(hub, tmp_path / "bundles")
    config = hub_dir / "config" / "config.yaml"
    config.write_bytes(b"# changed after the backup\n")
    (hub_dir / "state" / "acme.json").write_text("{}")
    before = {path.relative_to(hub_dir): path.read_bytes() for path in hub_dir.rglob("*") if path.is_file()}
    faults = tmp_path / "faults"
    faults.mkdir()
    (faults / "mv").write_text(  # a stand-in mv that fails only for the second swap
        "#!/bin/sh\n"
        'case "$2" in */state) if [ "$3" = state ]; then echo "mv: injected failure" >&2; exit 1; fi;; esac\n'
        f'exec {shutil.which("mv")} "$@"\n')
    (faults / "mv").chmod(0o755)
    monkeypatch.setenv("PATH", f"{faults}:{__import__('os').environ['PATH']}")
    with SandboxTarget(hub_dir) as hub, pytest.raises(CommandFailed, match="injected failure"):
        backup.restore(hub, bundle.path)
    after = {path.relative_to(hub_dir): path.read_bytes() for path in hub_dir.rglob("*") if path.is_file()}
    assert after == before
    assert not list(hub_dir.glob(".*restore*"))


def test_hand_written_secrets_in_the_hubs_config_are_masked_in_the_diff():
    """The auth section is replaced whole, so a hub's own authenticator settings show up as removed lines."""
    from wizard.tljh.config import masked_diff, masked_text

    old = ("auth:\n  type: jupyterhub.authenticators.shared.SharedPasswordAuthenticator\n"
           "  SharedPasswordAuthenticator:\n    user_password: SENTINEL-user-pw\n    admin_password: SENTINEL-admin-pw\n"
           "  GenericOAuthenticator:\n    token_url: https://id.example.edu/token\n    access_token: SENTINEL-tok\n"
           "  NativeAuthenticator:\n    minimum_password_length: 12\n")
    diff = masked_diff(old, "auth:\n  type: oauthenticator.github.GitHubOAuthenticator\n")
    assert "SENTINEL" not in diff and diff.count("********") == 3
    assert "token_url: https://id.example.edu/token" in diff and "minimum_password_length: 12" in diff
    assert "SENTINEL" not in masked_text(old)


def test_a_hub_config_that_is_not_utf8_is_a_one_line_refusal(capsys, tmp_path):
    from tests.answers_samples import documents
    from wizard.https.install import InstallError, set_https
    from wizard.hub.local import SandboxTarget

    public, secret = documents("github", "letsencrypt")
    (tmp_path / "a.yaml").write_text(yamlio.dump(public))
    (tmp_path / "s.yaml").write_text(yamlio.dump(secret))
    hub = tmp_path / "hub"
    SandboxTarget(hub).close()
    config = hub / "config" / "config.yaml"
    config.write_bytes(b"\xff\xfe not text\n")
    code, err = _cli(capsys, "apply", str(tmp_path / "a.yaml"), "--secrets", str(tmp_path / "s.yaml"),
                     "--sandbox", str(hub), "--dry-run")
    assert code == 2 and "not UTF-8" in err and len(err.strip().splitlines()) == 1
    with SandboxTarget(hub) as target, pytest.raises(InstallError, match="not UTF-8"):
        set_https(target, {"enabled": False})
    assert config.read_bytes() == b"\xff\xfe not text\n"


def test_a_secret_echoed_in_a_failed_actions_error_is_masked_in_state_json():
    from wizard.session import Session

    with Session.open("demo") as session:
        session.accept("connection.sudo_password", SENTINEL)
        entry = session.journal("reload-hub", "failed", error=f"tljh-config said: bad value {SENTINEL!r}",
                                lines=[f"x {SENTINEL}"], step="reload-hub")
        state = (session.dir / "state.json").read_text()
    assert SENTINEL not in state and SENTINEL not in str(entry)
    assert entry["error"] == "tljh-config said: bad value '********'" and entry["step"] == "reload-hub"


def _ssh(hub, known_hosts, tmp_path, **options):
    from wizard.hub.ssh import SSHTarget

    return SSHTarget(hub.host, port=hub.port, user=hub.admin.name, key_file=str(hub.client_key), allow_agent=False,
                     look_for_keys=False, known_hosts_files=[known_hosts], own_known_hosts=tmp_path / "own",
                     prefix=str(hub.prefix), **options)


CA_LINE = "@cert-authority *.example.edu ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


def test_known_hosts_with_marker_and_damaged_lines_still_verifies_the_hub(sshd_hub, tmp_path):
    """An SSH CA line (common where hosts have certificates) made paramiko's loader raise: a traceback."""
    known = tmp_path / "known_hosts"
    known.write_text(f"{CA_LINE}\nbroken.example.edu ssh-ed25519 !!notbase64\n{sshd_hub.known_hosts_line}\n")
    with _ssh(sshd_hub, known, tmp_path, accept_host_key=lambda *shown: pytest.fail("the key is known")) as hub:
        assert hub.run(["true"]).ok
        assert hub.host_key_fingerprint == sshd_hub.host_key_fingerprint


@pytest.mark.parametrize("also_known", [False, True])
def test_a_revoked_host_key_is_refused_and_never_offered(sshd_hub, tmp_path, also_known):
    from wizard.hub.ssh import HostKeyRevoked

    known = tmp_path / "known_hosts"
    known.write_text(f"@revoked * {sshd_hub.host_public_key}\n" + (sshd_hub.known_hosts_line + "\n") * also_known)
    offered = []
    with pytest.raises(HostKeyRevoked) as caught:
        _ssh(sshd_hub, known, tmp_path, accept_host_key=lambda *shown: offered.append(shown) or True).connect()
    assert offered == [] and sshd_hub.host_key_fingerprint in str(caught.value) and str(known) in str(caught.value)
    assert not (tmp_path / "own").exists()


@pytest.mark.parametrize("option", ["--ca-bundle", "--trust-roots"])
def test_renew_refuses_a_missing_ca_file_before_ordering(capsys, tmp_path, option):
    from wizard.session import Session

    Session.open("root@127.0.0.1:1").close()
    code, err = _cli(capsys, "renew", "root@127.0.0.1:1", option, str(tmp_path / "missing.pem"))
    assert code == 2 and f"{option} " in err and "no such file" in err and len(err.strip().splitlines()) == 1


def test_backup_into_an_existing_shared_folder_leaves_its_mode_alone(capsys, tmp_path):
    """`backup -o /tmp` chmod'ed /tmp to 0700; the bundle's own files are 0600, which is what keeps it private."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    code, _err = _cli(capsys, "backup", "--sandbox", str(tmp_path / "hub"), "-o", str(shared))
    assert code == 0 and shared.stat().st_mode & 0o7777 == 0o1777
    bundles = list(shared.glob("tljh-backup-*"))
    assert len(bundles) == 2 and all(path.stat().st_mode & 0o777 == 0o600 for path in bundles)
    code, _err = _cli(capsys, "backup", "--sandbox", str(tmp_path / "hub"), "-o", str(tmp_path / "new" / "dir"))
    assert code == 0 and (tmp_path / "new" / "dir").stat().st_mode & 0o777 == 0o700


def test_the_hub_side_backup_of_config_yaml_is_0600_even_when_the_original_is_not(tmp_path):
    from tests.answers_samples import documents
    from wizard.hub import apply
    from wizard.hub.local import SandboxTarget
    from wizard.session import Session

    public, secret = documents("github", "letsencrypt")
    answers = Answers.from_documents(public, secret)
    with SandboxTarget(tmp_path / "hub") as hub, Session.open("demo") as session:
        config = tmp_path / "hub" / "config" / "config.yaml"
        config.write_text("auth: {type: jupyterhub.auth.DummyAuthenticator}\n# an old secret lives here\n")
        config.chmod(0o644)
        _plan, result = apply.apply(hub, answers, session)
    assert result.ok, result.summary()
    (backup,) = (tmp_path / "hub" / "config").glob("config.yaml.tljh-wizard-*.bak")
    assert backup.stat().st_mode & 0o777 == 0o600 and "an old secret lives here" in backup.read_text()


@pytest.mark.parametrize("content, message", [
    ("[]", "damaged (not a JSON object)"),
    ('{"version": 1, "current_step": [1], "finished_steps": 5}', "damaged (current_step, finished_steps)"),
])
def test_a_damaged_state_file_is_a_one_line_refusal(capsys, content, message):
    from wizard.session import sessions_dir

    (sessions_dir() / "broken").mkdir(parents=True)
    (sessions_dir() / "broken" / "state.json").write_text(content)
    for argv in (["export", "broken"], ["check", "broken"], ["renew", "broken"]):
        code, err = _cli(capsys, *argv)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert _cli(capsys, "sessions")[0] == 0


def test_renew_of_a_session_without_an_ssh_hub_is_a_one_line_refusal(capsys):
    from wizard.session import Session

    Session.open("demo").close()
    code, err = _cli(capsys, "renew", "demo")
    assert code == 2 and "connection.host is not set" in err and len(err.strip().splitlines()) == 1


def test_a_logged_traceback_is_masked_too():
    from wizard.session import Session

    with Session.open("demo") as session:
        session.accept("authenticator.type", "github")
        session.accept("authenticator.client_secret", SENTINEL)
        log = session.logger()
        try:
            raise RuntimeError(f"the hub said {SENTINEL}")
        except RuntimeError:
            log.exception("reload failed for %s", SENTINEL)
        text = session.log_path.read_text()
    assert "RuntimeError: the hub said ********" in text and "reload failed for ********" in text
    assert SENTINEL not in text


def test_apply_from_files_masks_the_files_secrets_in_the_sessions_log_and_journal(capsys, tmp_path):
    """The session of `apply` holds no answers of its own: the answers file's secrets must still be masked."""
    from tests.answers_samples import SENTINELS, documents
    from wizard.hub.local import SandboxTarget
    from wizard.session import sessions_dir

    public, secret = documents("github", "letsencrypt")
    (tmp_path / "a.yaml").write_text(yamlio.dump(public))
    (tmp_path / "s.yaml").write_text(yamlio.dump(secret))
    hub = tmp_path / "hub"
    SandboxTarget(hub).close()
    client_secret = SENTINELS["authenticator.client_secret"]
    # A stand-in for a hub whose reload fails quoting a config value back.
    (hub / "hub" / "bin" / "tljh-config").write_text(f"#!/bin/sh\necho 'bad value: {client_secret}' >&2\nexit 1\n")
    from wizard.cli import main

    code = main(["apply", str(tmp_path / "a.yaml"), "--secrets", str(tmp_path / "s.yaml"), "--sandbox", str(hub),
                 "--yes"])
    out = "".join(capsys.readouterr())
    assert code in (2, 3) and "bad value: ********" in out and client_secret not in out
    session = sessions_dir() / "demo"
    for name in ("wizard.log", "state.json"):
        text = (session / name).read_text()
        assert "bad value: ********" in text and client_secret not in text, name
