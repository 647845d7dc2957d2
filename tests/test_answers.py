"""The answers model: round trips, version and key checks, field-named errors, public/secret split."""

import pytest

from tests.answers_samples import SENTINELS, documents
from wizard import yamlio
from wizard.answers import SECTIONS, Answers, AnswersError, keys


def test_load_save_load_is_identical(tmp_path):
    public, secret = documents("ldap", "acme-dns")
    (tmp_path / "a.yaml").write_text(yamlio.dump(public))
    (tmp_path / "s.yaml").write_text(yamlio.dump(secret))
    first = Answers.load(tmp_path / "a.yaml", tmp_path / "s.yaml")
    first.save(tmp_path / "a2.yaml", tmp_path / "s2.yaml")
    second = Answers.load(tmp_path / "a2.yaml", tmp_path / "s2.yaml")
    assert first == second
    assert second.get("authenticator.lookup_dn_search_password") == SENTINELS["authenticator.lookup_dn_search_password"]
    second.save(tmp_path / "a3.yaml", tmp_path / "s3.yaml")
    assert (tmp_path / "a3.yaml").read_bytes() == (tmp_path / "a2.yaml").read_bytes()
    assert (tmp_path / "s3.yaml").stat().st_mode & 0o777 == 0o600


def test_saved_answers_hold_no_secret_and_secrets_file_holds_them_all(tmp_path):
    public, secret = documents("generic", "acme-dns")
    answers = Answers.from_documents(public, secret)
    answers.save(tmp_path / "answers.yaml", tmp_path / "secrets.yaml")
    text = (tmp_path / "answers.yaml").read_text()
    secrets_text = (tmp_path / "secrets.yaml").read_text()
    for value in answers.secret_values():
        assert value not in text
        assert value in secrets_text


@pytest.mark.parametrize("version", [None, 2, "1", 0])
def test_unknown_version_is_refused_with_a_clear_message(version):
    document = {"connection": {"host": "hub.example.edu"}}
    if version is not None:
        document["version"] = version
    with pytest.raises(AnswersError) as info:
        Answers.from_documents(document)
    assert "version" in str(info.value)
    assert "reads version 1" in str(info.value)


def test_unknown_keys_are_errors_with_a_suggestion():
    with pytest.raises(AnswersError) as info:
        Answers.from_documents({"version": 1, "conection": {"host": "x.example.edu"},
                                "authenticator": {"type": "github", "client_idd": "x"}})
    message = str(info.value)
    assert "conection: unknown section (did you mean 'connection'?)" in message
    assert "authenticator.client_idd: unknown key (did you mean 'client_id'?)" in message


def test_errors_name_the_field_and_say_what_is_expected():
    with pytest.raises(AnswersError) as info:
        Answers.from_documents({"version": 1, "connection": {"host": "hub.example.edu", "port": 70000},
                                "limits": {"memory": "2Gi"}, "domain": {"reserved_ipv4": "300.1.1.1"}})
    errors = {e.key: e.message for e in info.value.errors}
    assert "at most 65535" in errors["connection.port"]
    assert "'2G'" in errors["limits.memory"]
    assert "IPv4" in errors["domain.reserved_ipv4"]


def test_a_secret_in_the_secrets_file_must_be_a_secret_field():
    with pytest.raises(AnswersError, match="connection.host: is not a secret"):
        Answers.from_documents({"version": 1}, {"version": 1, "connection": {"host": "hub.example.edu"}})


def test_keys_of_another_choice_are_refused():
    public, _ = documents("github")
    public["authenticator"]["hosted_domain"] = ["example.edu"]
    with pytest.raises(AnswersError, match="authenticator.hosted_domain: does not apply"):
        Answers.from_documents(public)


def test_missing_answers_name_their_keys():
    answers = Answers.from_documents({"version": 1, "authenticator": {"type": "github"}})
    problems = {e.key for e in answers.problems()}
    assert {"connection.host", "authenticator.client_id", "authenticator.client_secret", "domain.name",
            "domain.reserved_ipv4", "authenticator.allowed_users"} <= problems


def test_insecure_authenticators_need_explicit_confirmation():
    public, secret = documents("firstuse")
    del public["authenticator"]["insecure_confirmed"]
    answers = Answers.from_documents(public, secret)
    assert any(e.key == "authenticator.insecure_confirmed" and "insecure" in e.message for e in answers.problems())


def test_an_access_policy_is_mandatory_and_allow_all_counts_only_when_confirmed():
    public, secret = documents("github")
    del public["authenticator"]["allowed_organizations"]
    answers = Answers.from_documents(public, secret)
    assert any("access policy" in e.message for e in answers.problems())
    answers.set("authenticator.allow_all", "yes")
    assert answers.problems() == []


def test_every_declared_key_is_reachable_and_secrets_are_declared():
    secret_keys = {k for k in keys() if SECTIONS[k.split(".")[0]].field(k.split(".")[1]).secret}
    assert set(SENTINELS) <= secret_keys
    assert {"connection.sudo_password", "connection.key_passphrase", "authenticator.client_secret",
            "authenticator.lookup_dn_search_password", "https.tsig_secret"} == secret_keys


def test_the_readme_example_is_a_valid_answers_file():
    import re
    from pathlib import Path

    text = (Path(__file__).parent.parent / "README.md").read_text()
    example = yamlio.loads(re.search(r"```yaml\n(.*?)```", text, re.S).group(1))
    answers = Answers.from_documents(example, {"version": 1, "authenticator": {"client_secret": "x"}})
    assert answers.problems() == [] and answers.skipped == {"environment"}
