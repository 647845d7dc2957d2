"""YAML in and out through ruamel.yaml: the only way YAML is read or written in the project.

Values are always serialised by the library (never formatted into YAML text), so a value such as ``a\\nb: c`` stays
one string and can never become a key.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from wizard.fields import ValidationError


def _yaml(typ: str = "safe"):
    from ruamel.yaml import YAML

    yaml = YAML(typ=typ, pure=True)
    yaml.default_flow_style = False
    yaml.allow_duplicate_keys = False
    yaml.width = 4096
    if typ == "rt":
        yaml.preserve_quotes = True
        yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def loads(text: str, origin: str = "<text>", round_trip: bool = False) -> Any:
    """Parse YAML; a syntax error becomes a ``ValidationError`` naming the file and line."""
    from ruamel.yaml.constructor import DuplicateKeyError
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return _yaml("rt" if round_trip else "safe").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context
        if isinstance(exc, DuplicateKeyError):  # ruamel quotes both values, and they may be secrets
            problem = problem.split(" with value ", 1)[0]
        raise ValidationError(f"{origin}:{where}: not valid YAML: {problem}") from None
    except YAMLError as exc:
        raise ValidationError(f"{origin}: not valid YAML: {exc}") from None


def load_file(path: str | Path, round_trip: bool = False) -> Any:
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValidationError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{path}: cannot read ({exc})") from None
    return loads(text, str(path), round_trip=round_trip)


def dump(data: Any, header: str = "", round_trip: bool = False) -> str:
    """Serialise ``data``; ``header`` becomes leading ``#`` comment lines."""
    stream = io.StringIO()
    if header:
        stream.write("".join(f"# {line}".rstrip() + "\n" for line in header.splitlines()))
    _yaml("rt" if round_trip else "safe").dump(data, stream)
    return stream.getvalue()
