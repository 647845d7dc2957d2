"""Who can log in, decided by the real authenticator classes (JupyterHub 5.5.4, OAuthenticator 17, LDAPAuthenticator 2,
NativeAuthenticator 1.3, FirstUse) from the config.yaml the wizard renders.

Each case renders answers with ``wizard.tljh.config``, applies the result as TLJH's configurer does, constructs the
authenticator for real and logs sample identities in through ``Authenticator.get_authenticated_user`` (the class's
own ``authenticate``/``check_blocked_users``/``check_allowed``/``is_admin``), with a stub provider answering the
token/user-info/membership requests (``wizard.access.probe``). The probe runs in-process here (fast); the
subprocess and hub-side paths have their own tests.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import tempfile

import pytest

from tests.answers_samples import AUTHENTICATORS, documents
from wizard import access, yamlio
from wizard.access import probe
from wizard.answers import Answers, AnswersError
from wizard.diagnosis import Status
from wizard.tljh import config as tljh_config

OAUTH = {"client_id": "X", "client_secret": "s"}
GENERIC = {**OAUTH, "authorize_url": "https://id.example.edu/authorize", "token_url": "https://id.example.edu/token",
           "userdata_url": "https://id.example.edu/userinfo"}


def answers_with(auth: dict, https: str = "none", skip=()) -> Answers:
    document = {"version": 1, "authenticator": auth, "domain": {"name": "hub.example.edu"},
                "https": {"mode": https, **({"email": "admin@example.edu"} if https == "letsencrypt" else {})}}
    if skip:
        document["skip"] = list(skip)
    return Answers.from_documents(document, {"version": 1, "authenticator": {"client_secret": "s"}}
                                  if auth.get("type") in ("github", "google", "generic") else None)


def run(config: dict, extra=()) -> access.Preview:
    identities = access.sample_identities(config, [access.parse_identity(text) for text in extra])
    payload = {"config": access._without_secrets(config), "identities": identities}
    here, scratch = os.getcwd(), tempfile.mkdtemp(prefix="access-test-")
    logging.disable(logging.CRITICAL)
    try:
        os.chdir(scratch)  # as the probe's main() does: FirstUse keeps its passwords in the working directory
        data = asyncio.run(probe.run(json.loads(json.dumps(payload))))
    finally:
        os.chdir(here)
        shutil.rmtree(scratch, ignore_errors=True)
        logging.disable(logging.NOTSET)
    return access._parse(probe.MARK + json.dumps(data), "local")


def verdicts(preview: access.Preview) -> dict[str, str]:
    assert not preview.error, preview.error
    assert not preview.identity_errors, preview.identity_errors
    return {v.name: v.outcome for v in preview.verdicts}


def preview_for(auth: dict, extra=(), **kw) -> access.Preview:
    answers = answers_with(auth, **kw)
    assert auth_problems(answers) == []
    return run(access.rendered_config(answers), extra)


def auth_problems(answers: Answers) -> list[str]:
    return [str(p) for p in answers.problems() if p.key.startswith("authenticator")]


def _unused(answers, extra):
    return run(access.rendered_config(answers), extra)


# --------------------------------------------------------------------------------------------------------------
# the regression inputs of the issue

def test_google_hosted_domain_admits_the_domain_and_strips_the_admin_name():
    preview = preview_for({"type": "google", "client_id": "X", "hosted_domain": ["example.edu"],
                           "admin_users": ["teacher@example.edu"]}, extra=["someone@example.edu"])
    outcome = verdicts(preview)
    assert outcome["someone@example.edu"] == "allowed"
    assert outcome["outsider@gmail.com"] == "refused"
    assert outcome["teacher@example.edu"] == "admin"
    teacher = next(v for v in preview.verdicts if v.name == "teacher@example.edu")
    assert teacher.username == "teacher"
    rendered = tljh_config.render(answers_with({"type": "google", "client_id": "X", "hosted_domain": ["example.edu"],
                                                "admin_users": ["teacher@example.edu"]}))
    assert rendered["users"]["admin"] == ["teacher"]


def test_google_listed_users_narrow_the_domain():
    outcome = verdicts(preview_for({"type": "google", "client_id": "X", "hosted_domain": ["example.edu"],
                                    "allowed_users": ["ann"]}, extra=["someone@example.edu"]))
    assert outcome["ann@example.edu"] == "allowed"
    assert outcome["someone@example.edu"] == "refused"
    assert outcome["outsider@gmail.com"] == "refused"


def test_a_hosted_domain_alone_in_a_hub_config_admits_nobody():
    """The old rendering (hosted_domain without allow_all) lets nobody in: the preflight says so."""
    config = {"auth": {"type": "oauthenticator.google.GoogleOAuthenticator",
                       "GoogleOAuthenticator": {"client_id": "X", "hosted_domain": ["example.edu"],
                                                "oauth_callback_url": "https://hub.example.edu/hub/oauth_callback"}}}
    preview = run(config, extra=["someone@example.edu"])
    assert set(verdicts(preview).values()) == {"refused"}
    assert [d.status for d in preview.diagnoses() if d.id == access.PREFLIGHT][0] is Status.ERROR
    assert tljh_config.policy_problem("GoogleOAuthenticator", config["auth"]["GoogleOAuthenticator"], {})


def test_generic_groups_construct_with_manage_groups_and_admit_members():
    auth = {"type": "generic", **GENERIC, "groups_claim": "groups", "allowed_groups": ["students"]}
    rendered = tljh_config.render(answers_with(auth))["auth"]["GenericOAuthenticator"]
    assert rendered["manage_groups"] is True and rendered["auth_state_groups_key"] == "oauth_user.groups"
    preview = preview_for(auth, extra=["carol:groups=students", "dave:groups=staff"])
    assert preview.constructed
    outcome = verdicts(preview)
    assert outcome["carol"] == "allowed" and outcome["dave"] == "refused" and outcome["outsider"] == "refused"


def test_generic_groups_without_manage_groups_stop_the_hub():
    """What the old rendering wrote: the authenticator raises ValueError, so apply's preflight is an ERROR."""
    config = {"auth": {"type": "oauthenticator.generic.GenericOAuthenticator", "GenericOAuthenticator": {
        **{k: v for k, v in GENERIC.items()}, "allowed_groups": ["students"],
        "auth_state_groups_key": "oauth_user.groups"}}}
    preview = run(config)
    assert not preview.constructed and "manage_groups" in preview.error
    finding = preview.diagnoses()[0]
    assert finding.status is Status.ERROR and "manage_groups" in finding.fix


def test_native_admin_approval_lets_the_admin_in_after_sign_up():
    preview = preview_for({"type": "native", "admin_users": ["alice"]})
    outcome = verdicts(preview)
    assert outcome["alice"] == "admin"
    assert outcome["newcomer"] == "refused"  # waits for approval
    assert outcome["approved"] == "allowed"  # once an admin approves
    rendered = tljh_config.render(answers_with({"type": "native", "admin_users": ["alice"]}))
    assert rendered["auth"]["NativeAuthenticator"]["allow_all"] is True
    assert rendered["auth"]["NativeAuthenticator"]["open_signup"] is False


def test_native_without_allow_all_refuses_even_the_admin():
    """The upstream fact behind the rendering above: nativeauthenticator does not change check_allowed."""
    config = {"auth": {"type": "nativeauthenticator.NativeAuthenticator", "NativeAuthenticator": {}},
              "users": {"admin": ["alice"]}}
    assert set(verdicts(run(config)).values()) == {"refused"}


def test_a_stale_allow_all_is_removed_visibly_and_a_stranger_is_refused():
    base = yamlio.dump({"auth": {"type": "oauthenticator.github.GitHubOAuthenticator",
                                 "GitHubOAuthenticator": {"client_id": "c", "allow_all": True}}}, round_trip=True)
    answers = answers_with({"type": "github", "client_id": "c", "allowed_users": ["alice"]})
    new_text = tljh_config.update(base, tljh_config.render(answers))
    section = yamlio.loads(new_text)["auth"]["GitHubOAuthenticator"]
    assert section["allow_all"] is False  # rendered explicitly, never left behind
    diff = tljh_config.masked_diff(base, new_text)
    assert "-    allow_all: true" in diff and "+    allow_all: false" in diff
    outcome = verdicts(run(yamlio.loads(new_text), extra=["stranger"]))
    assert outcome["stranger"] == "refused" and outcome["alice"] == "allowed"


def test_stale_access_traits_go_in_the_own_section_and_in_sections_left_behind():
    base = yamlio.dump({"auth": {
        "type": "oauthenticator.github.GitHubOAuthenticator",
        "GitHubOAuthenticator": {"client_id": "c", "allowed_organizations": ["old-org"], "scope": ["read:org"],
                                 "allow_existing_users": True, "enable_auth_state": True},
        "GoogleOAuthenticator": {"allow_all": True}, "Authenticator": {"allow_all": True}},
        "users": {"allowed": ["old"], "admin": ["old-admin"]}}, round_trip=True)
    answers = answers_with({"type": "github", "client_id": "c", "allowed_users": ["alice"]})
    new = yamlio.loads(tljh_config.update(base, tljh_config.render(answers)))
    section = new["auth"]["GitHubOAuthenticator"]
    for trait in ("allowed_organizations", "scope", "allow_existing_users"):
        assert trait not in section
    assert section["enable_auth_state"] is True  # not an access trait: kept
    assert set(new["auth"]) == {"type", "GitHubOAuthenticator"}
    assert new["users"] == {"allowed": ["alice"]}


def test_export_base_drops_a_stale_allow_all_too(tmp_path):
    from wizard import export

    base = tmp_path / "config.yaml"
    base.write_text("auth:\n  type: oauthenticator.github.GitHubOAuthenticator\n  GitHubOAuthenticator:\n"
                    "    allow_all: true\n")
    public, secret = documents("github")
    public["authenticator"] = {"type": "github", "client_id": "c", "allowed_users": ["alice"]}
    path, secrets = tmp_path / "answers.yaml", tmp_path / "secrets.yaml"
    path.write_text(yamlio.dump(public))
    secrets.write_text(yamlio.dump(secret))
    out = tmp_path / "out.yaml"
    assert export.run(export_args(path, base, out, secrets)) == 0
    assert yamlio.loads(out.read_text())["auth"]["GitHubOAuthenticator"]["allow_all"] is False


def export_args(path, base, out, secrets):
    import argparse

    from wizard import export

    parser = argparse.ArgumentParser()
    export.add_arguments(parser)
    return parser.parse_args([str(path), "--format", "tljh", "--base", str(base), "-o", str(out),
                              "--secrets-from", str(secrets)])


def test_a_bind_dn_template_string_stays_one_template():
    template = "uid={username},ou=people,dc=example,dc=edu"
    answers = answers_with({"type": "ldap", "server_address": "ldap.example.edu", "bind_dn_template": template,
                            "allowed_users": ["alice"]})
    assert answers.get("authenticator.bind_dn_template") == [template]
    assert tljh_config.render(answers)["auth"]["LDAPAuthenticator"]["bind_dn_template"] == [template]
    two = Answers()
    two.set("authenticator.type", "ldap")
    two.set("authenticator.bind_dn_template", template + "\nuid={username},ou=staff,dc=example,dc=edu")
    assert len(two.get("authenticator.bind_dn_template")) == 2


def test_ldap_group_dns_and_names_are_checked():
    with pytest.raises(AnswersError, match="distinguished name"):
        answers_with({"type": "ldap", "server_address": "l.example.edu", "lookup_dn": True,
                      "user_search_base": "not a dn", "allow_all": True})
    problems = auth_problems(answers_with({"type": "ldap", "server_address": "l.example.edu",
                                           "bind_dn_template": "uid={username},dc=x",
                                           "allowed_groups": ["jupyter users"]}))
    assert any("distinguished name" in p for p in problems)


def test_group_names_keep_spaces_and_commas_split_nothing():
    answers = Answers()
    answers.set("authenticator.type", "generic")
    answers.set("authenticator.allowed_groups", "Jupyter Users, 2024\nstaff")
    assert answers.get("authenticator.allowed_groups") == ["Jupyter Users, 2024", "staff"]


@pytest.mark.parametrize("name", ["00123", "1e3", "no", "on", "12:30"])
def test_values_are_kept_as_typed_and_quoted(name):
    answers = answers_with({"type": "firstuse", "insecure_confirmed": True, "allowed_users": [name]})
    text = tljh_config.dump(tljh_config.render(answers))
    assert f"- '{name}'" in text
    import yaml as pyyaml  # a YAML 1.1 reader reads it back as the same string

    assert pyyaml.safe_load(text)["users"]["allowed"] == [name]


def test_an_unquoted_number_in_an_answers_file_is_refused_with_a_hint(tmp_path):
    path = tmp_path / "answers.yaml"
    path.write_text("version: 1\nauthenticator: {type: firstuse, insecure_confirmed: true, allowed_users: [00123]}\n")
    with pytest.raises(AnswersError) as caught:
        Answers.load(path)
    message = str(caught.value)
    assert "authenticator.allowed_users" in message and "quotes" in message and "Traceback" not in message


def test_a_pasted_github_url_becomes_the_organization_with_a_note():
    from wizard.fields import check_noted

    spec = access_field("allowed_organizations")
    value, notes = check_noted(spec, ["https://github.com/example-course"], "authenticator.allowed_organizations")
    assert value == ["example-course"] and notes and "example-course" in notes[0]
    answers = answers_with({"type": "github", "client_id": "c",
                            "allowed_organizations": ["https://github.com/example-course"]})
    assert answers.get("authenticator.allowed_organizations") == ["example-course"]
    rendered = tljh_config.render(answers)["auth"]["GitHubOAuthenticator"]
    assert rendered["allowed_organizations"] == ["example-course"] and rendered["scope"] == ["read:org"]


def test_the_note_reaches_the_operator_of_apply(tmp_path):
    public, secret = documents("github")
    public["authenticator"]["allowed_organizations"] = ["https://github.com/example-course"]
    answers = Answers.from_documents(public, secret)
    assert any("example-course" in note for note in answers.notes)


def test_the_authenticator_step_shows_the_callback_url_and_a_switch_warning():
    from types import SimpleNamespace

    from wizard.steps import authenticator

    answers = answers_with({"type": "native", "admin_users": ["alice"]})
    facts = SimpleNamespace(config={"auth": {"type": "firstuseauthenticator.FirstUseAuthenticator"}},
                            config_text="")
    ctx = SimpleNamespace(answers=answers, facts=facts, target=None, redact=lambda text: text)
    found = {d.id: d for d in authenticator.access_checks(ctx)}
    assert found["access.switch"].status is Status.WARNING and "import_from_firstuse" in found["access.switch"].fix
    answers.set("authenticator.import_from_firstuse", True)
    assert {d.id: d for d in authenticator.access_checks(ctx)}["access.switch"].status is Status.OK

    github = answers_with({"type": "github", "client_id": "c", "allowed_users": ["alice"]}, skip=["https"])
    ctx = SimpleNamespace(answers=github, facts=None, target=None, redact=lambda text: text)
    found = {d.id: d for d in authenticator.access_checks(ctx)}
    assert found["access.callback"].summary.endswith("http://hub.example.edu/hub/oauth_callback")
    assert found["access.preview"].status is Status.OK


def access_field(name):
    from wizard.answers import AUTHENTICATOR

    return AUTHENTICATOR.field(name)


@pytest.mark.parametrize("bad", ["example org", "-org", "a" * 40, "org--x", "https://gitlab.com/x"])
def test_github_organizations_follow_githubs_rules(bad):
    with pytest.raises(AnswersError) as caught:
        answers_with({"type": "github", "client_id": "c", "allowed_organizations": [bad]})
    assert "authenticator.allowed_organizations" in str(caught.value)
    assert len(str(caught.value)) < 400


def test_github_with_https_skipped_uses_an_http_callback():
    answers = answers_with({"type": "github", "client_id": "c", "allowed_users": ["alice"]}, skip=["https"])
    assert tljh_config.oauth_callback_url(answers) == "http://hub.example.edu/hub/oauth_callback"
    section = tljh_config.render(answers)["auth"]["GitHubOAuthenticator"]
    assert section["oauth_callback_url"] == "http://hub.example.edu/hub/oauth_callback"


# --------------------------------------------------------------------------------------------------------------
# every type x policy form

def test_github_org_members_need_read_org_to_be_seen():
    auth = {"type": "github", "client_id": "c", "allowed_organizations": ["example-org"], "admin_users": ["alice"]}
    outcome = verdicts(preview_for(auth))
    assert outcome == {"alice": "admin", "member-of-example-org": "allowed", "outsider": "refused"}
    # without read:org (the old rendering) a private member is refused by GitHubOAuthenticator's own check
    config = access.rendered_config(answers_with(auth))
    config["auth"]["GitHubOAuthenticator"].pop("scope")
    assert verdicts(run(config))["member-of-example-org"] == "refused"


def test_github_team_and_listed_users():
    outcome = verdicts(preview_for({"type": "github", "client_id": "c", "allowed_organizations": ["org:tas"],
                                    "allowed_users": ["bob"], "blocked_users": ["mallory"]},
                                   extra=["mallory:orgs=org:tas", "eve:orgs=org"]))
    assert outcome["bob"] == "allowed" and outcome["member-of-org"] == "allowed"
    assert outcome["mallory"] == "refused" and outcome["eve"] == "refused" and outcome["outsider"] == "refused"


def test_github_confirmed_allow_all_admits_everybody_and_says_so():
    answers = answers_with({"type": "github", "client_id": "c", "allow_all": True})
    preview = run(access.rendered_config(answers))
    assert verdicts(preview)["outsider"] == "allowed"
    assert all(d.status is not Status.ERROR for d in preview.diagnoses(allow_all_confirmed=True))
    assert any(d.status is Status.ERROR for d in preview.diagnoses(allow_all_confirmed=False))
    assert any(d.status is Status.WARNING for d in preview.diagnoses(live=True))


def test_allow_all_with_lists_is_refused_as_meaningless():
    with pytest.raises(AnswersError, match="allow_all"):
        raise AnswersError([p for p in answers_with({"type": "github", "client_id": "c", "allow_all": True,
                                                     "allowed_users": ["alice"]}).problems()
                            if p.key.startswith("authenticator")])


def test_google_several_domains_keep_full_addresses():
    outcome = verdicts(preview_for({"type": "google", "client_id": "X", "hosted_domain": ["a.edu", "b.edu"],
                                    "admin_users": ["t@b.edu"]}, extra=["s@a.edu", "x@c.edu"]))
    assert outcome == {"t@b.edu": "admin", "student@a.edu": "allowed", "outsider@gmail.com": "refused",
                       "s@a.edu": "allowed", "x@c.edu": "refused"}


def test_google_names_follow_the_domain_rules():
    problems = auth_problems(answers_with({"type": "google", "client_id": "X", "hosted_domain": ["example.edu"],
                                           "admin_users": ["t@other.edu"]}))
    assert problems and "hosted domain" in problems[0]


def test_ldap_templates_groups_and_lists():
    auth = {"type": "ldap", "server_address": "ldap.example.edu",
            "bind_dn_template": ["uid={username},ou=people,dc=example,dc=edu"],
            "allowed_groups": ["cn=jupyter,ou=groups,dc=example,dc=edu"], "allowed_users": ["alice"],
            "admin_users": ["alice"]}
    outcome = verdicts(preview_for(auth, extra=["Bad_Name", "zed:groups=cn=other,ou=groups,dc=example,dc=edu"]))
    assert outcome["alice"] == "admin" and outcome["groupmember"] == "allowed"
    assert outcome["outsider"] == "refused" and outcome["zed"] == "refused"
    assert outcome["Bad_Name"] == "refused"  # valid_username_regex


def test_ldap_admin_outside_the_groups_is_flagged():
    preview = preview_for({"type": "ldap", "server_address": "ldap.example.edu",
                           "bind_dn_template": ["uid={username},ou=people,dc=example,dc=edu"],
                           "allowed_groups": ["cn=jupyter,ou=groups,dc=example,dc=edu"], "admin_users": ["alice"]})
    assert verdicts(preview)["alice"] == "refused"
    assert any(d.status is Status.WARNING and "alice" in d.summary for d in preview.diagnoses())


def test_firstuse_listed_users_only():
    outcome = verdicts(preview_for({"type": "firstuse", "insecure_confirmed": True, "allowed_users": ["alice"]}))
    assert outcome == {"alice": "allowed", "outsider": "refused"}


def test_an_empty_policy_admits_nobody_and_blocks_apply():
    config = {"auth": {"type": "oauthenticator.github.GitHubOAuthenticator",
                       "GitHubOAuthenticator": {"client_id": "c"}}}
    preview = run(config)
    assert any(d.status is Status.ERROR and "nobody" in d.summary for d in preview.diagnoses())


# --------------------------------------------------------------------------------------------------------------
# the samples, the identities, the probe as a script

@pytest.mark.parametrize("auth", list(AUTHENTICATORS))
def test_every_answers_sample_passes_the_preview_without_surprise(auth):
    public, secret = documents(auth, "letsencrypt")
    answers = Answers.from_documents(public, secret)
    preview = run(access.rendered_config(answers))
    verdicts(preview)
    findings = preview.diagnoses(allow_all_confirmed=access.allow_all_confirmed(answers))
    assert [d for d in findings if d.status is not Status.OK] == [], preview.table()


def test_parse_identity_keeps_dns_whole():
    identity = access.parse_identity("zed:groups=cn=a,ou=g,dc=x;cn=b,ou=g,dc=x:orgs=o1,o2:approved")
    assert identity["groups"] == ["cn=a,ou=g,dc=x", "cn=b,ou=g,dc=x"]
    assert identity["orgs"] == ["o1", "o2"] and identity["approved"] is True
    assert access.parse_identity("alice@example.edu:groups=students")["domain"] == "example.edu"


def test_the_script_carries_no_secret_and_runs_as_a_child_process():
    answers = answers_with({"type": "github", "client_id": "c", "allowed_users": ["alice"]})
    config = access.rendered_config(answers)
    config["auth"]["GitHubOAuthenticator"]["client_secret"] = "SENTINEL-secret-1234"
    assert b"SENTINEL-secret-1234" not in access.script(config, access.sample_identities(config))
    preview = access.run_local(config, access.sample_identities(config))
    assert preview.where == "local" and verdicts(preview) == {"alice": "allowed", "outsider": "refused"}


FORMS = [
    ("native open sign-up, confirmed", {"type": "native", "open_signup": True, "allow_all": True},
     [], {"newcomer": "allowed", "approved": "allowed", "outsider": "allowed"}),
    ("native listed users", {"type": "native", "allowed_users": ["ann"], "admin_users": ["alice"]},
     [], {"alice": "admin", "ann": "allowed", "newcomer": "refused", "approved": "refused", "outsider": "refused"}),
    ("dummy, insecure", {"type": "dummy", "insecure_confirmed": True}, [], {"outsider": "allowed"}),
    ("generic listed users", {"type": "generic", **GENERIC, "allowed_users": ["ann"], "admin_users": ["boss"]},
     [], {"boss": "admin", "ann": "allowed", "outsider": "refused"}),
    ("ldap lookup_dn", {"type": "ldap", "server_address": "ldap.example.edu", "lookup_dn": True,
                        "user_search_base": "ou=people,dc=example,dc=edu", "allowed_users": ["ann"]},
     [], {"ann": "allowed", "outsider": "refused"}),
    ("google every account, confirmed", {"type": "google", "client_id": "X", "allow_all": True},
     ["x@gmail.com"], {"outsider@gmail.com": "allowed", "x@gmail.com": "allowed"}),
]


@pytest.mark.parametrize("title, auth, extra, expected", FORMS, ids=[form[0] for form in FORMS])
def test_more_policy_forms(title, auth, extra, expected):
    preview = preview_for(auth, extra=extra)
    assert verdicts(preview) == expected
    answers = answers_with(auth)
    errors = [d for d in preview.diagnoses(allow_all_confirmed=access.allow_all_confirmed(answers))
              if d.status is Status.ERROR]
    assert errors == []
