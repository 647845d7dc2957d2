"""YAML in and out through ruamel.yaml: the only way YAML is read or written in the project.

Values are always serialised by the library (never formatted into YAML text), so a value such as ``a\\nb: c`` stays
one string and can never become a key.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wizard.fields import ValidationError

if TYPE_CHECKING:
    from ruamel.yaml import YAML



def _yaml(typ: str = "safe") -> YAML:
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


MAX_DEPTH = 64  # nesting of mappings and sequences; the deepest real config.yaml or answers file has about 6
MAX_NODES = 200_000  # nodes after expanding aliases: a few aliases must not turn 500 bytes into gigabytes
MAX_TEXT = 1 << 20  # characters


def _flow_depth(text: str, origin: str) -> None:
    """Refuse deeply nested flow collections (``[[[[...``) from the raw text: the scanner's time grows with the
    square of their depth (1,000 levels take seconds) before any event could be counted. Quoted scalars and
    comments are skipped; a bracket inside a plain scalar counts too, which only errs on the safe side."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return
    depth, quote, line = 0, "", 1
    index, length = 0, len(text)
    while index < length:
        char = text[index]
        if quote:
            if char == "\\" and quote == '"':
                index += 1
            elif char == quote:
                quote = ""
        elif char in "'\"" and (index == 0 or text[index - 1] in " \t\n[{,:-?"):
            quote = char
        elif char == "#" and (index == 0 or text[index - 1] in " \t\n"):
            end = text.find("\n", index)
            index = length if end < 0 else end
            continue
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise ValidationError(f"{origin}: line {line}: nested more than {MAX_DEPTH} levels deep")
        elif char in "]}":
            depth = max(0, depth - 1)
        if char == "\n":
            line += 1
        index += 1


def _bounds(text: str, origin: str, aliases: bool) -> None:
    """Refuse, before anything is built, YAML that is too deep (the composer recurses: 1,000 levels raise
    RecursionError), too large once its aliases are expanded (an alias bomb), or holding any alias at all when
    ``aliases`` is false. One pass over the parser's events: linear time, constant memory per anchor."""
    from ruamel.yaml import YAML
    from ruamel.yaml.events import (
        AliasEvent,
        CollectionEndEvent,
        CollectionStartEvent,
        NodeEvent,
    )

    if len(text) > MAX_TEXT:
        raise ValidationError(f"{origin}: {len(text)} characters, more than the {MAX_TEXT // 1024} KB allowed")
    _flow_depth(text, origin)
    if "&" not in text and "*" not in text:
        return  # no anchor, no alias: nothing to expand; block nesting is bounded by the loader's own recursion
    sizes: dict[str, int] = {}  # anchor -> nodes it stands for (expanded)
    stack: list[list[Any]] = []  # open collections: [anchor, nodes so far]
    total = 0
    for event in YAML(typ="safe", pure=True).parse(text):
        if isinstance(event, AliasEvent):
            if not aliases:
                raise ValidationError(f"{origin}: line {event.start_mark.line + 1}: YAML aliases (*{event.anchor}) "
                                      "are not accepted in this file: write the value out")
            count = sizes.get(event.anchor, 1)
        elif isinstance(event, CollectionStartEvent):
            if len(stack) >= MAX_DEPTH:
                raise ValidationError(f"{origin}: line {event.start_mark.line + 1}: nested more than {MAX_DEPTH} "
                                      "levels deep")
            stack.append([event.anchor, 1])
            continue
        elif isinstance(event, CollectionEndEvent):
            anchor, count = stack.pop()
            if anchor is not None:
                sizes[anchor] = count
        elif isinstance(event, NodeEvent):  # a scalar
            count = 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
        else:
            continue
        if stack:
            stack[-1][1] += count
        total += count if isinstance(event, AliasEvent) else (1 if not isinstance(event, CollectionEndEvent) else 0)
        if total > MAX_NODES or (stack and stack[-1][1] > MAX_NODES):
            raise ValidationError(f"{origin}: more than {MAX_NODES} values once its aliases are expanded "
                                  "(an alias bomb?)")


def loads(text: str, origin: str = "<text>", round_trip: bool = False, aliases: bool = True) -> Any:
    """Parse YAML; a syntax error becomes a ``ValidationError`` naming the file and line, and so does text that is
    too large, nested too deeply (flow collections: ``MAX_DEPTH``), too large once its aliases are expanded
    (``MAX_NODES``), holding an alias when ``aliases`` is false, or using a list or a mapping as a mapping key."""
    from ruamel.yaml.constructor import DuplicateKeyError
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        _bounds(text, origin, aliases)
        return _yaml("rt" if round_trip else "safe").load(text)
    except TypeError as exc:  # an unhashable key, e.g. ``? [a] : 1``: the safe constructor cannot build it
        raise ValidationError(f"{origin}: a list or a mapping used as a mapping key is not accepted "
                              f"({str(exc)[:60]})") from None
    except RecursionError:
        raise ValidationError(f"{origin}: nested too deeply") from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context
        if isinstance(exc, DuplicateKeyError):  # ruamel quotes both values, and they may be secrets
            problem = problem.split(" with value ", 1)[0]
        raise ValidationError(f"{origin}:{where}: not valid YAML: {problem}") from None
    except YAMLError as exc:
        raise ValidationError(f"{origin}: not valid YAML: {exc}") from None


MAX_FILE = 48 << 10  # an answers file is about 1 KB; 48 KB holds the 1,000 allowed users a list may have, and more


def load_file(path: str | Path, round_trip: bool = False, aliases: bool = True, limit: int = MAX_FILE) -> Any:
    """A YAML file: a regular file of at most ``limit`` bytes (``wizard.files.read_small``; the pure-Python parser
    needs about 0.5 s for 64 KB of list items), UTF-8, within ``loads``' bounds."""
    from wizard.files import InputFileError, read_small

    try:
        text = read_small(path, limit, what="file").decode("utf-8")
    except InputFileError as exc:
        raise ValidationError(str(exc)) from None
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    return loads(text, str(path), round_trip=round_trip, aliases=aliases)


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
