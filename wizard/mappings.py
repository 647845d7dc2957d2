"""Nested mappings merged the one way the wizard needs it (config over defaults, secrets over values)."""

from __future__ import annotations

from typing import Any, Mapping


def section(mapping: Mapping[str, Any], *keys: str) -> Mapping[str, Any]:
    """The mapping at ``mapping[k1][k2]...``, or an empty one where a key is missing or holds something else (a
    config.yaml section left empty reads as None; a hand-edited one may hold a string)."""
    current: Mapping[str, Any] = mapping
    for key in keys:
        value = current.get(key)
        current = value if isinstance(value, Mapping) else {}
    return current


def deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """``overlay`` over ``base``: mappings present in both merge key by key, anything else from ``overlay`` replaces.
    Neither input is changed (untouched values are shared, not copied)."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
