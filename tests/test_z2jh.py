"""Z2JH export: every answer maps to its chart key, every export validates after a Helm-style merge over the chart's
defaults, mistakes are caught before anything is written, and secrets follow the answers export's split."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from tests.answers_samples import SENTINELS, combinations, documents
from tests.rig.pki import TestPKI
from wizard import yamlio, z2jh
from wizard.answers import Answers
from wizard.fields import ValidationError

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = "hub.example.edu"


@pytest.fixture(scope="module")
def pem_files(tmp_path_factory):
    """A real certificate chain and key on disk, for HTTPS mode "existing"."""
    pki = TestPKI()
    leaf = pki.leaf(DOMAIN, "www.hub.example.edu")
    directory = tmp_path_factory.mktemp("pem")
    (directory / "fullchain.pem").write_bytes(pki.fullchain(leaf))
    (directory / "privkey.pem").write_bytes(leaf.key_pem)
    return directory / "fullchain.pem", directory / "privkey.pem"


def answers_for(auth="github", https="letsencrypt", limits=True, pem=None, **changes) -> Answers:
    public, secret = documents(auth, https, limits)
    if https == "existing":
        public["https"].update(cert_path=str(pem[0]), key_path=str(pem[1]))
    for key, value in changes.items():
        section, _, name = key.partition("__")
        public.setdefault(section, {})[name] = value
    return Answers.from_documents(public, secret)


def exported(answers: Answers, include_secrets=False, **kwargs) -> tuple[dict, dict, str, str]:
    text, secrets_text = z2jh.export(answers, include_secrets, **kwargs)
    return yamlio.loads(text), (yamlio.loads(secrets_text) if secrets_text else {}), text, secrets_text


def helm_values(answers: Answers) -> dict:
    """The values Helm would see: values.yaml then secrets.yaml, merged over the chart's defaults."""
    values, secrets, _, _ = exported(answers)
    return z2jh.helm_merge(z2jh.helm_merge(z2jh.chart_defaults(), values), secrets)


# ---------------------------------------------------------------------------------------------------------------
# every combination validates

@pytest.mark.parametrize("auth,https,limits", list(combinations()))
def test_every_combination_validates_against_the_chart_schema_after_the_merge(auth, https, limits, pem_files):
    merged = helm_values(answers_for(auth, https, limits, pem_files))
    jsonschema.Draft7Validator(z2jh.chart_schema()).validate(merged)  # independently of z2jh.validate
    assert z2jh.validate(merged) == []


def test_the_values_file_alone_does_not_satisfy_the_schema_without_the_merge():
    values, _, _, _ = exported(answers_for())
    with pytest.raises(jsonschema.ValidationError, match="is a required property"):
        jsonschema.Draft7Validator(z2jh.chart_schema()).validate(values)


def test_helm_merge_merges_mappings_replaces_lists_and_scalars_and_null_deletes():
    base = {"a": {"keep": 1, "drop": 2, "list": [1, 2]}, "s": "x"}
    merged = z2jh.helm_merge(base, {"a": {"drop": None, "list": [3], "new": {"n": None, "m": 1}}, "s": "y"})
    assert merged == {"a": {"keep": 1, "list": [3], "new": {"m": 1}}, "s": "y"}
    assert base == {"a": {"keep": 1, "drop": 2, "list": [1, 2]}, "s": "x"}


# ---------------------------------------------------------------------------------------------------------------
# field mapping

CLASSES = {
    "github": ("oauthenticator.github.GitHubOAuthenticator", "GitHubOAuthenticator"),
    "google": ("oauthenticator.google.GoogleOAuthenticator", "GoogleOAuthenticator"),
    "generic": ("oauthenticator.generic.GenericOAuthenticator", "GenericOAuthenticator"),
    "ldap": ("ldapauthenticator.LDAPAuthenticator", "LDAPAuthenticator"),
    "native": ("nativeauthenticator.NativeAuthenticator", "NativeAuthenticator"),
    "firstuse": ("firstuseauthenticator.FirstUseAuthenticator", "FirstUseAuthenticator"),
    "dummy": ("jupyterhub.auth.DummyAuthenticator", "DummyAuthenticator"),
}


@pytest.mark.parametrize("auth", list(CLASSES))
def test_the_authenticator_class_is_set(auth):
    config = helm_values(answers_for(auth))["hub"]["config"]
    assert config["JupyterHub"]["authenticator_class"] == CLASSES[auth][0]


def test_github_section_and_access_lists():
    answers = answers_for("github", authenticator__allowed_users=["bob"], authenticator__blocked_users=["mallory"])
    config = helm_values(answers)["hub"]["config"]
    assert config["GitHubOAuthenticator"] == {
        "client_id": "gh-id", "client_secret": SENTINELS["authenticator.client_secret"],
        "allowed_organizations": ["example-org"], "oauth_callback_url": f"https://{DOMAIN}/hub/oauth_callback",
        "scope": ["read:org"], "allow_all": False}
    assert config["Authenticator"] == {"admin_users": ["alice"], "allowed_users": ["bob"],
                                       "blocked_users": ["mallory"]}


def test_google_and_generic_sections():
    google = helm_values(answers_for("google"))["hub"]["config"]["GoogleOAuthenticator"]
    assert google["hosted_domain"] == ["example.edu"] and google["client_id"] == "g-id.apps.example"
    generic = helm_values(answers_for("generic"))["hub"]["config"]["GenericOAuthenticator"]
    assert generic["authorize_url"] == "https://id.example.edu/authorize"
    assert generic["token_url"] == "https://id.example.edu/token"
    assert generic["userdata_url"] == "https://id.example.edu/userinfo"
    assert generic["allowed_groups"] == ["students", "staff"]
    assert generic["auth_state_groups_key"] == "oauth_user.groups"
    assert generic["scope"] == ["openid", "profile", "email"]
    assert generic["oauth_callback_url"] == f"https://{DOMAIN}/hub/oauth_callback"


def test_ldap_native_firstuse_dummy_sections():
    ldap = helm_values(answers_for("ldap"))["hub"]["config"]["LDAPAuthenticator"]
    assert ldap == {"server_address": "ldap.example.edu", "server_port": 636, "tls_strategy": "on_connect",
                    "lookup_dn": True, "user_search_base": "ou=people,dc=example,dc=edu", "user_attribute": "uid",
                    "lookup_dn_search_user": "cn=search,dc=example,dc=edu",
                    "lookup_dn_search_password": SENTINELS["authenticator.lookup_dn_search_password"],
                    "allowed_groups": ["cn=jupyter,ou=groups,dc=example,dc=edu"], "allow_all": False}
    native = helm_values(answers_for("native"))["hub"]["config"]["NativeAuthenticator"]
    # admin approval: open sign-up off, allow_all on (nativeauthenticator leaves check_allowed to JupyterHub)
    assert native == {"open_signup": False, "minimum_password_length": 12, "import_from_firstuse": False,
                      "allow_all": True}
    firstuse = helm_values(answers_for("firstuse"))["hub"]["config"]
    assert firstuse["FirstUseAuthenticator"] == {"create_users": False, "allow_all": False}
    assert firstuse["Authenticator"] == {"allowed_users": ["alice", "bob"]}
    assert helm_values(answers_for("dummy"))["hub"]["config"]["DummyAuthenticator"] == {"allow_all": True}


def test_letsencrypt_https_production_and_staging():
    https = helm_values(answers_for(https="letsencrypt"))["proxy"]["https"]
    assert https["enabled"] is True and https["type"] == "letsencrypt"
    assert https["hosts"] == [DOMAIN, "www.hub.example.edu"]
    assert https["letsencrypt"] == {"contactEmail": "admin@example.edu",
                                    "acmeServer": "https://acme-v02.api.letsencrypt.org/directory"}
    values, _, _, _ = exported(answers_for(https="letsencrypt"), staging=True)
    assert values["proxy"]["https"]["letsencrypt"]["acmeServer"] == \
        "https://acme-staging-v02.api.letsencrypt.org/directory"


def test_existing_certificate_is_manual_with_inline_pem_and_the_key_in_the_secrets(pem_files):
    answers = answers_for(https="existing", pem=pem_files)
    values, secrets, text, secrets_text = exported(answers)
    https = values["proxy"]["https"]
    assert https["type"] == "manual" and https["hosts"] == [DOMAIN]
    assert https["manual"]["cert"] == pem_files[0].read_text()
    assert "key" not in https["manual"] and "PRIVATE KEY" not in text
    assert secrets["proxy"] == {"https": {"manual": {"key": pem_files[1].read_text()}}}
    assert "cert: |" in text  # a literal block, readable as PEM


def test_existing_certificate_that_cannot_be_read_is_named(tmp_path, pem_files):
    answers = answers_for(https="existing", pem=(tmp_path / "missing.pem", pem_files[1]))
    with pytest.raises(ValidationError) as caught:
        z2jh.export(answers, False)
    assert caught.value.key == "https.cert_path"
    (tmp_path / "notpem.txt").write_text("hello\n")
    answers = answers_for(https="existing", pem=(pem_files[0], tmp_path / "notpem.txt"))
    with pytest.raises(ValidationError) as caught:
        z2jh.export(answers, False)
    assert caught.value.key == "https.key_path"


def test_acme_dns_certificate_becomes_a_tls_secret_with_a_warning():
    values, secrets, text, _ = exported(answers_for(https="acme-dns"))
    assert values["proxy"]["https"] == {"enabled": True, "hosts": [DOMAIN], "type": "secret",
                                        "secret": {"name": "jupyterhub-tls", "key": "tls.key", "crt": "tls.crt"}}
    assert "kubectl create secret tls jupyterhub-tls" in text
    assert SENTINELS["https.tsig_secret"] not in text + str(secrets)  # the TSIG key has no place on the cluster


def test_https_none_disables_https():
    assert helm_values(answers_for(https="none"))["proxy"]["https"]["enabled"] is False


def test_limits_keep_the_tljh_memory_string_and_a_numeric_cpu_with_explicit_guarantees():
    merged = helm_values(answers_for(limits__memory="1.5G", limits__cpu=0.5))
    assert merged["singleuser"]["memory"] == {"limit": "1.5G", "guarantee": "1.5G"}
    assert merged["singleuser"]["cpu"] == {"limit": 0.5, "guarantee": 0.5}
    values, _, text, _ = exported(answers_for(limits__memory="4G", limits__cpu=2))
    assert values["singleuser"]["memory"]["limit"] == "4G" and not re.search(r"\d[KMGT]i", text)
    assert values["singleuser"]["cpu"]["limit"] == 2 and isinstance(values["singleuser"]["cpu"]["limit"], int)


def test_unset_limits_remove_the_chart_default_guarantee_and_warn():
    values, _, text, _ = exported(answers_for(limits=False))
    assert values["singleuser"]["memory"] == {"limit": None, "guarantee": None}
    merged = helm_values(answers_for(limits=False))
    assert "guarantee" not in merged["singleuser"]["memory"]  # the chart's 1G default is gone
    assert z2jh.chart_defaults()["singleuser"]["memory"]["guarantee"] == "1G"
    assert "# - No memory and cpu limit" in text


def test_culling_is_written_explicitly_and_can_be_off():
    cull = exported(answers_for(limits__cull_timeout=1800, limits__cull_every=120, limits__cull_max_age=86400,
                                limits__cull_users=True))[0]["cull"]
    assert cull == {"enabled": True, "timeout": 1800, "every": 120, "maxAge": 86400, "users": True,
                    "concurrency": 5, "removeNamedServers": False, "adminUsers": True}
    assert helm_values(answers_for(limits=False))["cull"]["enabled"] is False


@pytest.mark.parametrize("app,url", [("jupyterlab", "/lab"), ("classic", "/tree")])
def test_default_url_follows_the_default_app(app, url):
    assert exported(answers_for(environment__default_app=app))[0]["singleuser"]["defaultUrl"] == url


def test_reserved_ip_is_the_load_balancer_ip_with_its_comment():
    values, _, text, _ = exported(answers_for())
    assert values["proxy"]["service"] == {"loadBalancerIP": "203.0.113.10"}
    before = text.split("loadBalancerIP:")[0].splitlines()[:-1]  # the lines above the key
    assert before[-1].strip().startswith("#") and "static IP of its own" in "\n".join(before[-2:])


def test_header_lists_what_has_no_kubernetes_equivalent():
    _, _, text, _ = exported(answers_for("firstuse"))
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    assert "users.extra_user_groups" in header
    assert "FirstUse passwords" in header
    assert "/opt/tljh/user" in header
    assert "FirstUse passwords" not in exported(answers_for("github"))[2]


# ---------------------------------------------------------------------------------------------------------------
# secrets

@pytest.mark.parametrize("auth", ["github", "google", "generic", "ldap"])
def test_secrets_go_to_the_overlay_only(auth):
    answers = answers_for(auth)
    values, secrets, text, secrets_text = exported(answers)
    for sentinel in SENTINELS.values():
        assert sentinel not in text
    secret_name = "lookup_dn_search_password" if auth == "ldap" else "client_secret"
    class_name = CLASSES[auth][1]
    assert secrets == {"hub": {"config": {class_name: {
        secret_name: SENTINELS[f"authenticator.{secret_name}"]}}}}
    for unrelated in ("connection.sudo_password", "connection.key_passphrase"):
        assert SENTINELS[unrelated] not in secrets_text


def test_include_secrets_puts_them_inline_and_leaves_no_overlay():
    text, secrets_text = z2jh.export(answers_for("github"), True)
    assert secrets_text == ""
    assert yamlio.loads(text)["hub"]["config"]["GitHubOAuthenticator"]["client_secret"] == \
        SENTINELS["authenticator.client_secret"]
    assert "HOLDS SECRETS" in text


# ---------------------------------------------------------------------------------------------------------------
# mistakes are caught

def good_values() -> dict:
    values, secrets, _, _ = exported(answers_for())
    return z2jh.helm_merge(values, secrets)


def problem_keys(values) -> list[str]:
    return [error.key for error in z2jh.validate(values)]


def test_kubernetes_gi_memory_is_refused():
    values = good_values()
    values["singleuser"]["memory"]["limit"] = "4Gi"
    with pytest.raises(ValidationError) as caught:
        z2jh.check(values)
    assert caught.value.key == "singleuser.memory.limit"
    assert "'4G'" in str(caught.value)  # the suggestion


def test_cpu_as_a_string_is_refused():
    values = good_values()
    values["singleuser"]["cpu"]["limit"] = "2"
    assert problem_keys(values) == ["singleuser.cpu.limit"]


def test_a_missing_host_is_refused():
    values = good_values()
    values["proxy"]["https"]["hosts"] = []
    assert problem_keys(values) == ["proxy.https.hosts"]
    del values["proxy"]["https"]["hosts"]
    assert problem_keys(values) == ["proxy.https.hosts"]


@pytest.mark.parametrize("path,value,key", [
    (("proxy", "https", "hostz"), ["x"], "proxy.https"),  # a typo: additionalProperties
    (("proxy", "https", "letsencrypt", "contactEmail"), None, "proxy.https.letsencrypt.contactEmail"),
    (("singleuser", "memory", "guarantee"), "8G", "singleuser.memory.guarantee"),
    (("proxy", "service", "loadBalancerIP"), "203.0.113", "proxy.service.loadBalancerIP"),
    (("cull", "timeout"), "1h", "cull.timeout"),
    (("hub", "config", "lowercase"), {"a": 1}, "hub.config"),
])
def test_other_mistakes_name_their_path(path, value, key):
    values = good_values()
    node = values
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    assert key in problem_keys(values)


def test_a_bad_render_is_caught_before_anything_is_written(tmp_path, monkeypatch, capsys):
    """The CLI's export refuses (exit 2, no file) when the values do not validate."""
    from wizard import cli

    public, secret = documents()
    (tmp_path / "answers.yaml").write_text(yamlio.dump(public))
    (tmp_path / "secrets.yaml").write_text(yamlio.dump(secret))
    real_render = z2jh.render

    def gi_render(answers, **kwargs):
        out = real_render(answers, **kwargs)
        out.values["singleuser"]["memory"]["limit"] = "2Gi"
        return out

    monkeypatch.setattr(z2jh, "render", gi_render)
    target = tmp_path / "values.yaml"
    code = cli.main(["export", str(tmp_path / "answers.yaml"), "--secrets-from", str(tmp_path / "secrets.yaml"),
                     "--format", "z2jh", "-o", str(target)])
    assert code == 2
    assert not target.exists()
    assert "singleuser.memory.limit" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------------------
# the command line

def run_export(tmp_path, *args) -> subprocess.CompletedProcess:
    public, secret = documents("generic")
    (tmp_path / "answers.yaml").write_text(yamlio.dump(public))
    (tmp_path / "secrets.yaml").write_text(yamlio.dump(secret))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "wizard", "export", str(tmp_path / "answers.yaml"),
                           "--secrets-from", str(tmp_path / "secrets.yaml"), "--format", "z2jh", *args],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)


def test_cli_export_without_secrets_leaves_them_out(tmp_path):
    result = run_export(tmp_path)
    assert result.returncode == 0, result.stderr
    assert yamlio.loads(result.stdout)["hub"]["config"]["JupyterHub"]["authenticator_class"] == \
        "oauthenticator.generic.GenericOAuthenticator"
    for sentinel in SENTINELS.values():
        assert sentinel not in result.stdout + result.stderr


def test_cli_export_with_a_secrets_file_writes_it_0600(tmp_path):
    result = run_export(tmp_path, "-o", "values.yaml", "--secrets", "z2jh-secrets.yaml")
    assert result.returncode == 0, result.stderr
    values_text = (tmp_path / "values.yaml").read_text()
    assert SENTINELS["authenticator.client_secret"] not in values_text
    secrets_file = tmp_path / "z2jh-secrets.yaml"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert yamlio.loads(secrets_file.read_text()) == {"hub": {"config": {"GenericOAuthenticator": {
        "client_secret": SENTINELS["authenticator.client_secret"]}}}}
    merged = z2jh.helm_merge(yamlio.loads(values_text), yamlio.loads(secrets_file.read_text()))
    assert z2jh.validate(merged) == []


def test_cli_export_with_include_secrets_is_private(tmp_path):
    result = run_export(tmp_path, "-o", "values.yaml", "--include-secrets")
    assert result.returncode == 0, result.stderr
    target = tmp_path / "values.yaml"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert SENTINELS["authenticator.client_secret"] in target.read_text()


def test_skipped_steps_leave_the_chart_defaults_and_say_so():
    from tests.answers_samples import documents
    from wizard.answers import Answers
    from wizard.z2jh import render

    public, secret = documents("github")
    public["skip"] = ["https", "limits", "environment"]
    values = render(Answers.from_documents(public, secret))
    assert "https" not in values.values.get("proxy", {})
    assert "memory" not in values.values.get("singleuser", {}) and "cull" not in values.values
    assert any("https step was skipped" in warning for warning in values.warnings)
