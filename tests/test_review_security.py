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
