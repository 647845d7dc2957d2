"""Every authenticator section the engine renders uses trait names the real, installed authenticator classes have.

A misspelt trait in config.yaml is only a warning in the hub's log while the setting silently does nothing (an
allow-list that is not applied), so the names are checked against ``Cls.class_traits(config=True)`` of the
OAuthenticator, LDAPAuthenticator, NativeAuthenticator and JupyterHub packages installed in the test environment.
"""

import importlib

import pytest

from wizard.answers import AUTH_TYPES, AUTHENTICATOR, Answers
from wizard.tljh import config as tljh_config

# A value for every field of the authenticator section, so every trait the renderer can emit is emitted.
VALUES = {
    "insecure_confirmed": True, "client_id": "client-id-123", "client_secret": "client-secret-456",
    "authorize_url": "https://id.example.edu/oauth2/authorize", "token_url": "https://id.example.edu/oauth2/token",
    "userdata_url": "https://id.example.edu/oauth2/userinfo", "username_claim": "preferred_username",
    "scope": ["openid", "profile", "email"], "groups_claim": "groups", "allowed_organizations": ["example-org"],
    "hosted_domain": ["example.edu"], "allowed_groups": ["jupyter-users"], "server_address": "ldap.example.edu",
    "server_port": 636, "tls_strategy": "on_connect", "bind_dn_template": ["uid={username},ou=people,dc=example,dc=edu"],
    "lookup_dn": True, "user_search_base": "ou=people,dc=example,dc=edu", "user_attribute": "uid",
    "lookup_dn_search_user": "cn=search,dc=example,dc=edu", "lookup_dn_search_password": "search-pw",
    "open_signup": True, "import_from_firstuse": False, "minimum_password_length": 14, "admin_users": ["alice"], "allowed_users": ["bob"],
    "blocked_users": ["mallory"], "allow_all": True,
}


def answers_for(kind: str) -> Answers:
    answers = Answers()
    answers.set("domain.name", "hub.example.edu")
    answers.set("https.mode", "none")  # this file is about auth; HTTPS rendering has its own tests
    answers.set("authenticator.type", kind)
    for item in AUTHENTICATOR.fields:
        if item.name != "type" and item.applies({"type": kind}):
            answers.set(f"authenticator.{item.name}", VALUES[item.name])
    return answers


def test_every_field_has_a_value_here():
    assert {f.name for f in AUTHENTICATOR.fields} - {"type"} == set(VALUES)


@pytest.mark.parametrize("kind", AUTH_TYPES)
def test_rendered_traits_exist_on_the_installed_class(kind):
    rendered = tljh_config.render(answers_for(kind))
    auth = rendered["auth"]
    module_name, class_name = auth["type"].rsplit(".", 1)
    cls = getattr(importlib.import_module(module_name), class_name)
    traits = set(cls.class_traits(config=True))
    sections = {key: value for key, value in auth.items() if key != "type"}
    assert list(sections) == [class_name]
    unknown = sorted(set(sections[class_name]) - traits)
    assert unknown == [], f"{class_name} has no configurable trait(s) {unknown}"
    assert sections[class_name], "every type renders at least one trait"


@pytest.mark.parametrize("kind", AUTH_TYPES)
def test_users_section_uses_tljh_keys_and_renders_valid_config(kind):
    rendered = tljh_config.render(answers_for(kind))
    assert rendered["users"] == {"admin": ["alice"], "allowed": ["bob"], "banned": ["mallory"]}
    assert tljh_config.validate(rendered) == []


def test_oauth_callback_url_is_derived_from_the_domain_and_https():
    for kind in ("github", "google", "generic"):
        answers = answers_for(kind)  # HTTPS off: the provider must redirect to http://
        section = tljh_config.render(answers)["auth"]
        class_section = next(value for key, value in section.items() if key != "type")
        assert class_section["oauth_callback_url"] == "http://hub.example.edu/hub/oauth_callback"
        answers.set("https.mode", "letsencrypt")
        answers.set("https.email", "admin@example.edu")
        section = tljh_config.render(answers)["auth"]
        class_section = next(value for key, value in section.items() if key != "type")
        assert class_section["oauth_callback_url"] == "https://hub.example.edu/hub/oauth_callback"


@pytest.mark.parametrize("kind", ["github", "google", "generic", "ldap"])
def test_a_production_authenticator_needs_an_access_policy(kind):
    answers = answers_for(kind)
    for name in ("allowed_users", "allowed_organizations", "hosted_domain", "allowed_groups", "allow_all"):
        answers.set(f"authenticator.{name}", None)
    keys = {error.key for error in answers.problems()}
    assert "authenticator.allowed_users" in keys
    answers.set("authenticator.allow_all", True)  # the explicit allow-all is a policy too
    assert "authenticator.allowed_users" not in {error.key for error in answers.problems()}


@pytest.mark.parametrize("kind", ["firstuse", "dummy"])
def test_insecure_authenticators_need_the_explicit_override(kind):
    answers = answers_for(kind)
    answers.set("authenticator.insecure_confirmed", False)
    assert "authenticator.insecure_confirmed" in {error.key for error in answers.problems()}
