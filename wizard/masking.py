"""Secret masking, written once: every place that shows, logs or bundles text a secret may reach masks it here.

A known secret value (a secret answer, a value under a secret key of config.yaml) is replaced by ``MASK`` wherever
it occurs, longest first, so a secret that contains another is never half-masked. ``Masker`` holds one set of
secrets and masks text, or a JSON-like value (mappings and lists of text) recursively. Masking by key (a secret
key's value in a YAML file or a diff) is ``wizard.tljh.config.masked_text``; masking by shape (an assignment to a
secret-shaped key, a PEM private key) is the support bundle's ``wizard.audit.bundle.Scrubber``, which masks the
known values through ``Masker`` first.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

MASK = "********"


class Masker:
    """Masks the given secret values in text: ``masker(text)``; ``masker.data(value)`` for a JSON-like value.

    Values that are not text, are empty, or are shorter than ``min_length`` are not masked (a one-letter "secret"
    would mask every such letter); each is masked as written and, with ``json_escaped``, also as it appears inside
    a JSON string (quotes and backslashes escaped)."""

    def __init__(self, secrets: Iterable[object], *, min_length: int = 1, json_escaped: bool = False) -> None:
        import json

        found = {value for value in secrets if isinstance(value, str) and value and len(value) >= min_length}
        if json_escaped:
            found |= {json.dumps(value)[1:-1] for value in found}
        self.secrets: list[str] = sorted(found, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def data(self, value: Any) -> Any:
        """``value`` with every string in it masked: text, mappings (values only) and lists/tuples (as lists)."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, Mapping):
            return {key: self.data(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.data(item) for item in value]
        return value


def mask(text: str, secrets: Iterable[object]) -> str:
    """``text`` with every secret value in ``secrets`` replaced by ``MASK`` (longest first)."""
    return Masker(secrets)(text)
