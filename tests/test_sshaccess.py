"""The SSH access step without a hub: key lines judged like OpenSSH's tools judge them (fingerprints against the
real ``ssh-keygen -l``), TLJH's account names against the real ``useradd``, sshd's rules, bad input on the command
line (one line per problem, exit 2)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from wizard import yamlio
from wizard.answers import Answers
from wizard.fields import ValidationError
from wizard.sshaccess import keys, naming, sshd


@pytest.fixture(scope="module")
def keydir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("keys")
    for kind, extra in (("ed25519", []), ("rsa", ["-b", "3072"]), ("ecdsa", ["-b", "384"]), ("dsa", []),
                        ("rsa1024", ["-t", "rsa", "-b", "1024"])):
        argv = ["ssh-keygen", "-q", "-N", "", "-C", f"me@{kind}", "-f", str(directory / kind)]
        argv += extra if kind == "rsa1024" else ["-t", kind, *extra]
        if subprocess.run(argv, capture_output=True).returncode != 0:
            assert kind == "dsa"  # OpenSSH builds without DSA cannot make one: the line below is then a stand-in
            (directory / "dsa.pub").write_text("ssh-dss AAAAB3NzaC1kc3MAAACBAP me@dsa\n")
    return directory


@pytest.mark.parametrize("kind", ["ed25519", "rsa", "ecdsa"])
def test_fingerprints_are_what_ssh_keygen_prints(keydir, kind):
    line = (keydir / f"{kind}.pub").read_text()
    key = keys.parse_public_key(line)
    printed = subprocess.run(["ssh-keygen", "-l", "-f", str(keydir / f"{kind}.pub")], capture_output=True, text=True,
                             check=True).stdout.split()
    # ssh-keygen -l: BITS SHA256:... COMMENT (TYPE)
    assert (str(key.bits), key.fingerprint, key.comment, f"({key.label})") == (printed[0], printed[1], printed[2],
                                                                               printed[-1])
    assert key.line == line.strip()


def refused(raw) -> str:
    with pytest.raises(ValidationError) as caught:
        keys.parse_public_key(raw)
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_bad_key_lines_are_refused_with_one_line_each(keydir):
    good = (keydir / "ed25519.pub").read_text().strip()
    private = (keydir / "ed25519").read_text()
    message = refused(private)
    assert "PRIVATE key" in message and private.splitlines()[1][:20] not in message
    assert "truncated or damaged" in refused(good.split()[0] + " " + good.split()[1][:-12])
    assert "truncated or damaged" in refused(good.split()[0] + " " + good.split()[1][:30] + "===")
    assert "options before the key" in refused(f'command="/bin/sh -c id" {good}')
    assert "options before the key" in refused(f"no-pty,from=\"10.0.0.1\" {good}")
    assert "options before the key" in refused(f"restrict {good}")
    assert "ssh-dss" in refused((keydir / "dsa.pub").read_text())
    assert "2048" in refused((keydir / "rsa1024.pub").read_text())
    assert "certificate" in refused("ssh-ed25519-cert-v01@openssh.com AAAA c")
    assert "not an OpenSSH public key type" in refused("ssh-foo AAAA")
    assert "line breaks" in refused(good + "\n" + good)  # two lines handed in as one value


def test_admin_keys_take_lines_lists_and_drop_duplicates(keydir):
    a, b = ((keydir / f"{k}.pub").read_text().strip() for k in ("ed25519", "ecdsa"))
    assert keys.key_lines(f"{a}\n{b}\n{a}") == [a, b]
    assert keys.key_lines(f"{a}, {b}") == [a, b]  # how a list is shown in one input line
    assert keys.key_lines([a, b]) == [a, b]
    with pytest.raises(ValidationError, match="key 2: "):
        keys.key_lines([a, "ssh-ed25519 AAAA"])


def test_merge_keeps_other_lines_and_is_idempotent(keydir):
    a, b = (keys.parse_public_key((keydir / f"{k}.pub").read_text()) for k in ("ed25519", "ecdsa"))
    own = (keydir / "rsa.pub").read_text().strip()
    text = f"# mine\n{own}\n"
    first = keys.merge(text, [a, b])
    assert first.text == f"# mine\n{own}\n{a.line} {keys.MARK}\n{b.line} {keys.MARK}\n"
    assert keys.merge(first.text, [a, b]).changed is False
    second = keys.merge(first.text, [b])
    assert [k.fingerprint for k in second.removed] == [a.fingerprint]
    assert second.text == f"# mine\n{own}\n{b.line} {keys.MARK}\n"
    # A key the user already has (not the wizard's line) is neither added again nor ever removed.
    mine = keys.merge(f"{a.line} laptop\n", [a])
    assert not mine.changed
    restricted = f'restrict,from="10.0.0.0/8" {a.line}\n'
    assert keys.merge(restricted, [a]).changed is False  # the operator's restriction keeps deciding
    assert keys.merge(f"{a.line} laptop\n", []).changed is False


def test_system_names_follow_tljh(keydir):
    assert naming.system_username("alice") == "jupyter-alice"
    assert naming.system_username("Alice") == "jupyter-alice"  # JupyterHub lower-cases names first
    long = "a-very-long-hub-user-name-indeed"
    name = naming.system_username(long)
    assert len(name) == 32 and name.startswith("jupyter-a-very-long-hub-us-")
    assert naming.system_username("a" * 17) == "jupyter-" + "a" * 17  # 25 characters: kept as is
    assert len(naming.system_username("a" * 18)) == 32


@pytest.mark.parametrize("name", ["ann:lee", "ann,lee"])
def test_names_tljh_cannot_make_an_account_for_are_refused_as_useradd_refuses_them(name):
    with pytest.raises(ValidationError, match="useradd"):
        naming.check_hub_user(name)
    account = "jupyter-" + name
    done = subprocess.run(["useradd", "--no-create-home", account], capture_output=True, text=True)
    try:
        assert done.returncode != 0 and "invalid user name" in done.stderr
    finally:
        if done.returncode == 0:
            subprocess.run(["userdel", account])


def test_names_tljh_accepts_are_accepted_by_useradd():
    import secrets

    for stem in ("ann.lee@example.edu", "o'neil", "ann_lee-1"):
        value = naming.check_hub_user(stem)
        account = naming.system_username(value + secrets.token_hex(2))
        done = subprocess.run(["useradd", "--no-create-home", account], capture_output=True, text=True)
        try:
            assert done.returncode == 0, done.stderr
        finally:
            subprocess.run(["userdel", account], capture_output=True)


def test_login_verdicts_follow_sshd_allowed_user():
    config = sshd.parse_effective("allowusers ubuntu\nallowusers admin@10.0.0.*\npubkeyauthentication yes\n"
                                  "authorizedkeysfile .ssh/authorized_keys .ssh/authorized_keys2\nusepam yes\n")
    assert config["allowusers"] == ["ubuntu", "admin@10.0.0.*"]
    assert sshd.login_verdict(config, "ubuntu", []).ok
    blocked = sshd.login_verdict(config, "jupyter-alice", [])
    assert not blocked.ok and "AllowUsers" in blocked.problems[0]
    assert sshd.login_verdict(config, "admin", [], host="h", addr="10.0.0.7").ok
    assert not sshd.login_verdict(config, "admin", [], host="h", addr="192.0.2.1").ok
    assert sshd.login_verdict(config, "admin", []).notes  # from anywhere: only from 10.0.0.*
    groups = sshd.parse_effective("denygroups jupyterhub-users\nusepam no\nauthorizedkeysfile /etc/keys/%u\n")
    verdict = sshd.login_verdict(groups, "jupyter-bob", ["jupyterhub-users"], locked=True)
    assert len(verdict.problems) == 3  # DenyGroups, AuthorizedKeysFile elsewhere, locked account without PAM
    assert sshd.match_list("10.1.2.3", "10.*,!10.1.*") is False
    assert not sshd.login_verdict(sshd.parse_effective("permitrootlogin no\n"), "root", ["root"]).ok
    assert sshd.login_verdict(sshd.parse_effective("permitrootlogin without-password\n"), "root", ["root"]).ok


def test_includes_reads_sshd_config_like_sshd():
    assert sshd.includes("Include /etc/ssh/sshd_config.d/*.conf\nPort 22\n", "/etc/ssh/sshd_config.d",
                         "01-tljh-wizard.conf")
    assert sshd.includes("include sshd_config.d/*.conf\n", "/etc/ssh/sshd_config.d", "01-tljh-wizard.conf")
    assert not sshd.includes("#Include /etc/ssh/sshd_config.d/*.conf\n", "/etc/ssh/sshd_config.d", "01-x.conf")
    assert not sshd.includes("Match User bob\n Include /etc/ssh/sshd_config.d/*.conf\n", "/etc/ssh/sshd_config.d",
                             "01-x.conf")


def test_user_keys_text_and_mapping(keydir):
    a = (keydir / "ed25519.pub").read_text().strip()
    answers = Answers()
    assert answers.set("ssh.user_keys", f"Bob: {a}\ncarol: {a}") == {"bob": [a], "carol": [a]}
    assert answers.set("ssh.user_keys", {"bob": a}) == {"bob": [a]}
    with pytest.raises(ValidationError, match="useradd"):
        answers.set("ssh.user_keys", {"ann:lee": [a]})


def _run_apply(tmp_path, ssh_section, admins=("alice",)):
    public = {"version": 1, "authenticator": {"type": "native", "admin_users": list(admins)}, "ssh": ssh_section}
    path = tmp_path / "answers.yaml"
    path.write_text(yamlio.dump(public))
    return subprocess.run([sys.executable, "-m", "wizard", "apply", str(path), "--sandbox", str(tmp_path / "hub"),
                           "--dry-run"], capture_output=True, text=True, timeout=60)


def test_bad_input_on_the_command_line_is_one_line_each_and_exit_2(keydir, tmp_path):
    good = (keydir / "ed25519.pub").read_text().strip()
    private = (keydir / "ed25519").read_text()
    cases = {
        "private": ({"admin_keys": [private]}, "PRIVATE key"),
        "truncated": ({"admin_keys": [" ".join(good.split()[:2])[:-8]]}, "truncated or damaged"),
        "command": ({"admin_keys": [f'command="curl x|sh" {good}']}, "options before the key"),
        "user": ({"user_keys": {"ann:lee": [good]}}, "useradd refuses"),
    }
    for name, (section, expected) in cases.items():
        done = _run_apply(tmp_path, section)
        assert done.returncode == 2, (name, done.stdout, done.stderr)
        lines = [line for line in done.stderr.splitlines() if "ssh." in line]
        assert len(lines) == 1 and len(done.stderr.splitlines()) <= 2, (name, done.stderr)  # one line per problem
        assert expected in lines[0] and "Traceback" not in done.stderr
        assert private.splitlines()[1] not in done.stderr + done.stdout
    done = _run_apply(tmp_path, {"admin_keys": [good]}, admins=("ann,lee",))
    assert done.returncode == 2 and "ssh.admin_keys" in done.stderr and "useradd refuses" in done.stderr
