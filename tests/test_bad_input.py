"""Hostile input files: each ends in exit status 2 with one line naming the problem (the inputs of bench/bad_input.py,
which measures time and memory), never a traceback; the YAML bounds; secrets refused in a committable answers file."""

from __future__ import annotations

import os
import threading

import pytest

from bench.bad_input import inputs
from tests.support.cli import wizard, write_answers
from tests.support.hubs import sandbox_documents
from wizard import yamlio
from wizard.answers import Answers, AnswersError
from wizard.fields import ValidationError
from wizard.files import InputFileError, read_small

EXPECTED = {
    "deep-flow": "nested more than 64 levels deep",
    "deep-block": "nested too deeply",
    "list-key": "a list or a mapping used as a mapping key is not accepted",
    "alias-bomb": "YAML aliases (*a0) are not accepted in this file",
    "key-dev-zero": "connection.key_file /dev/zero: is a device, not a regular key file",
    "answers-dev-zero": "/dev/zero: is a device, not a regular file",
    "answers-fifo": "fifo.yaml: is a pipe, not a regular file",
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_each_hostile_input_is_one_line_and_exit_2(tmp_path, name):
    path = inputs(tmp_path)[name]
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("version: 1\nauthenticator: {client_secret: test-secret}\n")
    secrets.chmod(0o600)
    done = wizard("apply", path, "--secrets", secrets, "--dry-run", timeout=30)
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode == 2, done.stdout + done.stderr
    assert len(lines) == 1 and EXPECTED[name] in lines[0], lines
    assert "Traceback" not in done.stderr


def test_an_alias_bomb_is_refused_where_aliases_are_allowed():
    bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]\n" for level in range(1, 9))
    with pytest.raises(ValidationError, match="once its aliases are expanded"):
        yamlio.loads(bomb, "config.yaml")
    assert yamlio.loads("a: &x [1, 2]\nb: *x\n") == {"a": [1, 2], "b": [1, 2]}  # ordinary aliases still work


def test_brackets_inside_quotes_and_comments_are_not_nesting():
    text = "a: '" + "[" * 200 + "'\nb: \"" + "{" * 200 + "\"\n# " + "[" * 200 + "\nc: [1, [2]]\n"
    assert yamlio.loads(text)["c"] == [1, [2]]


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    outcome = []
    reader = threading.Thread(target=lambda: outcome.append(_refusal(fifo)), daemon=True)
    reader.start()
    reader.join(5)
    assert outcome and "is a pipe" in outcome[0]


def _refusal(path):
    try:
        read_small(path)
    except InputFileError as exc:
        return str(exc)
    return "read"


def test_a_large_file_is_refused_by_its_size(tmp_path):
    big = tmp_path / "answers.yaml"
    big.write_text("version: 1\n" + "# padding\n" * 10_000)
    with pytest.raises(ValidationError, match="more than the 48 KB"):
        yamlio.load_file(big)


def test_a_secret_in_a_committable_answers_file_is_refused_naming_the_key(tmp_path):
    public, secret = sandbox_documents()
    public["authenticator"]["client_secret"] = "placed-in-the-wrong-file"
    answers, _secrets = write_answers(tmp_path, public, {"version": 1})
    answers.chmod(0o644)
    with pytest.raises(AnswersError) as refused:
        Answers.load(answers)
    assert [e.key for e in refused.value.errors] == ["authenticator.client_secret"]
    assert "belongs in the secrets file" in str(refused.value)
    assert "placed-in-the-wrong-file" not in str(refused.value)
    done = wizard("apply", answers, "--sandbox", tmp_path / "hub", "--dry-run")
    assert done.returncode == 2 and "authenticator.client_secret: is a secret" in done.stderr
    assert "placed-in-the-wrong-file" not in done.stdout + done.stderr
    # A private file (what export --include-secrets writes, 0600) may hold them.
    answers.chmod(0o600)
    assert Answers.load(answers).get("authenticator.client_secret") == "placed-in-the-wrong-file"
