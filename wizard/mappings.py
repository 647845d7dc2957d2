"""Nested mappings merged the one way the wizard needs it (config over defaults, secrets over values)."""

from __future__ import annotations

from typing import Any, Mapping


def deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict:
    """``overlay`` over ``base``: mappings present in both merge key by key, anything else from ``overlay`` replaces.
    Neither input is changed (untouched values are shared, not copied)."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
