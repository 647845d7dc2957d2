"""YAML in and out through ruamel.yaml: the only way YAML is read or written in the project.

Values are always serialised by the library (never formatted into YAML text), so a value such as ``a\\nb: c`` stays
one string and can never become a key.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from wizard.fields import ValidationError


def _yaml(typ: str = "safe"):
    from ruamel.yaml import YAML

    yaml = YAML(typ=typ, pure=True)
    yaml.default_flow_style = False
    yaml.allow_duplicate_keys = False
    yaml.width = 4096
    if typ == "safe":
        from ruamel.yaml.scalarstring import SingleQuotedScalarString

        yaml.representer.add_representer(SingleQuotedScalarString, lambda representer, value: (
            representer.represent_scalar("tag:yaml.org,2002:str", str(value), style="'")))
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


# Plain scalars a YAML 1.1 reader (PyYAML and other tools that read config.yaml) would not read back as the same
# string: booleans (yes/no/on/off/y/n), octal/hex/binary/sexagesimal integers and floats (00123, 12:30), null, dates.
# ruamel (YAML 1.2) quotes only what 1.2 would misread, so these get quotes here. Source: the YAML 1.1 type
# repository (yaml.org/type/bool.html, int.html, float.html, null.html, timestamp.html).
_YAML11_NOT_TEXT = re.compile(r"""^(?:
    y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF
  | ~|null|Null|NULL
  | [-+]?0b[0-1_]+ | [-+]?0[0-7_]+ | [-+]?(?:0|[1-9][0-9_]*) | [-+]?0x[0-9a-fA-F_]+
  | [-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+
  | [-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)? | [-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
  | [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]* | [-+]?\.(?:inf|Inf|INF) | \.(?:nan|NaN|NAN)
  | [0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}.*)?
  | = | <<
)$""", re.VERBOSE)


def _quote_ambiguous(node: Any) -> Any:
    """``node`` with every string a YAML 1.1 reader would misread wrapped so it is written in single quotes."""
    from ruamel.yaml.scalarstring import ScalarString, SingleQuotedScalarString

    if isinstance(node, str):
        if not isinstance(node, ScalarString) and _YAML11_NOT_TEXT.match(node):
            return SingleQuotedScalarString(node)
        return node
    if isinstance(node, dict):
        for key in list(node):
            node[key] = _quote_ambiguous(node[key])
        return node
    if isinstance(node, list):
        for index, item in enumerate(node):
            node[index] = _quote_ambiguous(item)
        return node
    return node


def dump(data: Any, header: str = "", round_trip: bool = False) -> str:
    """Serialise ``data``; ``header`` becomes leading ``#`` comment lines. Strings are always written so that a YAML
    1.1 or 1.2 reader reads them back as the same strings (``'00123'``, ``'no'``, ``'12:30'``)."""
    import copy

    data = _quote_ambiguous(data if round_trip else copy.deepcopy(data))
    stream = io.StringIO()
    if header:
        stream.write("".join(f"# {line}".rstrip() + "\n" for line in header.splitlines()))
    _yaml("rt" if round_trip else "safe").dump(data, stream)
    return stream.getvalue()
