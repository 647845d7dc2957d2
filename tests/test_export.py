"""Exports: answers without secrets, secrets 0600, TLJH config.yaml validated against both schemas, --base kept."""

import subprocess
import sys

import pytest

from tests.answers_samples import SENTINELS, combinations, documents
from wizard import yamlio
from wizard.answers import Answers
from wizard.export import REDACTED, render_tljh
from wizard.tljh import config as tljh_config


def _write(tmp_path, auth="github", https="letsencrypt", limits=True):
    public, secret = documents(auth, https, limits)
    (tmp_path / "answers.yaml").write_text(yamlio.dump(public))
    (tmp_path / "secrets.yaml").write_text(yamlio.dump(secret))
    return tmp_path / "answers.yaml", tmp_path / "secrets.yaml"


def _cli(*args, check=True):
    result = subprocess.run([sys.executable, "-m", "wizard", *args], capture_output=True, text=True, timeout=60)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_answers_export_leaves_every_secret_out_and_puts_them_in_a_0600_file(tmp_path):
    answers, secrets = _write(tmp_path, "ldap", "acme-dns")
    out, out_secrets = tmp_path / "out.yaml", tmp_path / "out-secrets.yaml"
    _cli("export", str(answers), "--secrets-from", str(secrets), "-o", str(out), "--secrets", str(out_secrets))
    text, secrets_text = out.read_text(), out_secrets.read_text()
    sentinels = [SENTINELS[k] for k in ("authenticator.lookup_dn_search_password", "https.tsig_secret",
                                        "connection.sudo_password", "connection.key_passphrase")]
    for value in sentinels:
        assert value not in text
        assert value in secrets_text
    assert out_secrets.stat().st_mode & 0o777 == 0o600
    # and the pair replays to the same answers
    assert Answers.load(out, out_secrets) == Answers.load(answers, secrets)


def test_answers_export_to_stdout_has_no_secret(tmp_path):
    answers, secrets = _write(tmp_path, "github")
    result = _cli("export", str(answers), "--secrets-from", str(secrets))
    assert "version: 1" in result.stdout
    assert not any(value in result.stdout for value in SENTINELS.values())


def test_include_secrets_writes_them_inline_in_a_0600_file(tmp_path):
    answers, secrets = _write(tmp_path, "github")
    out = tmp_path / "all.yaml"
    _cli("export", str(answers), "--secrets-from", str(secrets), "--include-secrets", "-o", str(out))
    assert SENTINELS["authenticator.client_secret"] in out.read_text()
    assert out.stat().st_mode & 0o777 == 0o600
    assert Answers.load(out).get("authenticator.client_secret") == SENTINELS["authenticator.client_secret"]


def test_export_from_a_session(tmp_path):
    from wizard.session import Session

    public, secret = documents("google")
    with Session.open("ubuntu@hub.example.edu:22") as session:
        session.answers = Answers.from_documents(public, secret)
        session.save()
    result = _cli("export", "ubuntu@hub.example.edu:22", "--format", "tljh")
    config = yamlio.loads(result.stdout)
    assert config["auth"]["GoogleOAuthenticator"]["hosted_domain"] == ["example.edu"]
    assert config["auth"]["GoogleOAuthenticator"]["client_secret"] == REDACTED
    assert SENTINELS["authenticator.client_secret"] not in result.stdout


@pytest.mark.parametrize("auth,https,limits", list(combinations()))
def test_tljh_export_validates_against_both_schemas(auth, https, limits):
    answers = Answers.from_documents(*documents(auth, https, limits))
    for version in ("2.0.0", "main"):
        text = render_tljh(answers, version, None, include_secrets=True)
        config = yamlio.loads(text)
        assert tljh_config.validate(config, version) == []
        assert config["auth"]["type"] == tljh_config.AUTH_CLASSES[auth]
        assert bool(config["limits"]) is limits
        assert config["https"]["enabled"] is (https != "none")
        assert config["services"]["cull"]["enabled"] is limits


def test_tljh_render_maps_answers_to_tljh_keys():
    answers = Answers.from_documents(*documents("github", "letsencrypt"))
    config = tljh_config.render(answers, staging=True)
    section = config["auth"]["GitHubOAuthenticator"]
    assert section["oauth_callback_url"] == "https://hub.example.edu/hub/oauth_callback"
    assert section["client_secret"] == SENTINELS["authenticator.client_secret"]
    assert config["users"] == {"admin": ["alice"]}
    assert config["https"]["letsencrypt"] == {"email": "admin@example.edu", "staging": True,
                                              "domains": ["hub.example.edu", "www.hub.example.edu"]}
    assert config["limits"] == {"memory": "2G", "cpu": 1}
    assert config["services"]["cull"] == {"enabled": True, "timeout": 3600, "every": 300, "max_age": 0,
                                          "users": False}


def test_fractional_cpu_renders_on_main_and_is_refused_for_2_0_0():
    answers = Answers.from_documents(*documents("github"))
    answers.set("limits.cpu", "0.5")
    assert tljh_config.render(answers, tljh_version="main")["limits"]["cpu"] == 0.5
    with pytest.raises(ValueError, match="whole CPUs"):
        tljh_config.render(answers, tljh_version="2.0.0")


GOOD = {"auth": {"type": "oauthenticator.github.GitHubOAuthenticator",
                 "GitHubOAuthenticator": {"client_id": "x", "allowed_organizations": ["o"]}}}


@pytest.mark.parametrize("config,version,key,needle", [
    ({**GOOD, "limts": {"memory": "1G"}}, "2.0.0", "limts", "did you mean 'limits'"),
    ({"auth": {"type": "oauthenticator.github.GitHubOAuthenticator", "client_id": "x"}}, "2.0.0", "auth.client_id",
     "class names"),
    ({"auth": {"type": "oauthenticator.github.GitHubOAuthenticator", "GitHubOAuthenticator": "x"}}, "2.0.0",
     "auth.GitHubOAuthenticator", "mapping"),
    ({**GOOD, "limits": {"cpu": 0.5}}, "2.0.0", "limits.cpu", ""),
    ({**GOOD, "limits": {"cpu": 2.0}}, "2.0.0", "limits.cpu", "whole CPUs"),
    ({**GOOD, "limits": {"memory": "2Gi"}}, "main", "limits.memory", "'2G'"),
    ({"auth": {"type": "oauthenticator.github.GitHubOAuthenticator", "GitHubOAuthenticator": {"client_id": "x"}}},
     "2.0.0", "auth.GitHubOAuthenticator", "no allow policy"),
    ({**GOOD, "https": {"enabled": True}}, "2.0.0", "https", "without a certificate source"),
    ({**GOOD, "https": {"enabled": True, "letsencrypt": {"domains": ["hub.example.edu"]}}}, "2.0.0",
     "https.letsencrypt.email", "e-mail"),
    ({**GOOD, "https": {"enabled": True, "letsencrypt": {"email": "a@example.edu", "domains": "hub.example.edu"}}},
     "2.0.0", "https.letsencrypt.domains", "is not of type 'array'"),
    ({**GOOD, "auth": {"type": ""}}, "main", "auth.type", "class"),
])
def test_stricter_checks_reject_what_the_schema_misses(config, version, key, needle):
    errors = tljh_config.validate(config, version)
    assert any(e.key == key and needle in e.message for e in errors), errors


def test_the_upstream_schema_alone_misses_the_top_level_typo():
    import jsonschema

    jsonschema.validate({"limts": {}}, tljh_config.schema("2.0.0"))  # passes upstream: hence the stricter check
    assert tljh_config.validate({**GOOD, "limts": {}}, "2.0.0")


def test_base_keeps_comments_and_unrelated_keys(tmp_path):
    answers, secrets = _write(tmp_path, "github", "none", limits=False)
    base = tmp_path / "config.yaml"
    base.write_text("# Managed by the ops team — keep this line\n"
                    "http:\n  port: 8080  # behind the campus proxy\n"
                    "limits:\n  memory: 1G\n"
                    "auth:\n  type: firstuseauthenticator.FirstUseAuthenticator\n"
                    "  FirstUseAuthenticator:\n    create_users: true\n")
    result = _cli("export", str(answers), "--secrets-from", str(secrets), "--format", "tljh", "--base", str(base),
                  "--include-secrets")
    text = result.stdout
    assert "# Managed by the ops team — keep this line" in text
    assert "port: 8080  # behind the campus proxy" in text
    config = yamlio.loads(text)
    assert config["http"] == {"port": 8080}
    assert "limits" not in config or "memory" not in config["limits"]  # the answers set no limit: removed
    assert config["auth"]["type"] == "oauthenticator.github.GitHubOAuthenticator"
    assert "FirstUseAuthenticator" not in config["auth"]
    assert tljh_config.validate(config) == []


def test_invalid_base_is_a_clear_error(tmp_path):
    answers, secrets = _write(tmp_path)
    base = tmp_path / "config.yaml"
    base.write_text("auth: [unclosed\n")
    result = _cli("export", str(answers), "--secrets-from", str(secrets), "--format", "tljh", "--base", str(base),
                  check=False)
    assert result.returncode == 2
    assert "not valid YAML" in result.stderr and "Traceback" not in result.stderr


def test_incomplete_answers_name_the_missing_key(tmp_path):
    (tmp_path / "a.yaml").write_text("version: 1\nconnection:\n  host: hub.example.edu\n")
    result = _cli("export", str(tmp_path / "a.yaml"), "--format", "tljh", check=False)
    assert result.returncode == 2
    assert "domain.name" in result.stderr and "Traceback" not in result.stderr


def test_masked_diff_never_shows_a_secret():
    answers = Answers.from_documents(*documents("github"))
    new = tljh_config.dump(tljh_config.render(answers))
    diff = tljh_config.masked_diff("", new)
    assert "client_secret: '********'" in diff
    assert SENTINELS["authenticator.client_secret"] not in diff


def test_a_skipped_step_leaves_the_hubs_settings_as_they_are(tmp_path):
    public, secret = documents("github", "letsencrypt")
    public["skip"] = ["https", "limits"]
    del public["https"], public["limits"]
    answers = Answers.from_documents(public, secret)
    assert answers.problems() == []
    base = ("https:\n  enabled: true\n  tls:\n    cert: /etc/ssl/hub.pem\n    key: /etc/ssl/hub.key\n"
            "limits:\n  memory: 4G\nservices:\n  cull:\n    timeout: 7200\n")
    config = yamlio.loads(tljh_config.update(base, tljh_config.render(answers)))
    assert config["https"] == {"enabled": True, "tls": {"cert": "/etc/ssl/hub.pem", "key": "/etc/ssl/hub.key"}}
    assert config["limits"] == {"memory": "4G"}
    assert config["services"] == {"cull": {"timeout": 7200}}
    # the skip survives a save and load, and a section that cannot be skipped is refused
    answers.save(tmp_path / "a.yaml", tmp_path / "s.yaml")
    assert Answers.load(tmp_path / "a.yaml", tmp_path / "s.yaml").skipped == {"https", "limits"}
    with pytest.raises(ValueError, match="'authenticator' cannot be skipped"):
        Answers.from_documents({"version": 1, "skip": ["authenticator"]})


def test_an_emptied_access_list_is_removed_from_the_hub():
    answers = Answers.from_documents(*documents("github"))
    base = "users:\n  allowed: [mallory]\n  admin: [alice]\n"
    config = yamlio.loads(tljh_config.update(base, tljh_config.render(answers)))
    assert config["users"] == {"admin": ["alice"]}
