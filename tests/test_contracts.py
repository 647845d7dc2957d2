"""Layering contracts: the engine (``wizard/``) never imports the Textual front-end or Textual itself, at module
level or inside a function; the plain front-end is part of the engine's package and holds to the same rule.
(``lint-imports``, run by tests/run.sh, checks the static imports too; these also see ``import_module("...")``.)
The tests share helpers through ``tests/support`` and ``tests/rig``, never by importing another test module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("textual", "screens")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module an ``import``/``from … import`` statement names anywhere in the file (line, dotted name)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            found.append((node.lineno, str(node.args[0].value)))
    return found


ENGINE_FILES = sorted((ROOT / "wizard").rglob("*.py"))
# The launcher hands a run to the front-end the operator chose: the one engine module that may name the Textual
# front-end, and only its entry point, imported inside the function that starts it.
LAUNCHER, LAUNCHED = ROOT / "wizard" / "wizard_cli.py", "screens.app"


@pytest.mark.parametrize("path", ENGINE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_engine_never_imports_the_textual_front_end(path):
    bad = [f"line {line}: {name}" for line, name in imported_modules(path) if name.split(".")[0] in FORBIDDEN
           and not (path == LAUNCHER and name == LAUNCHED)]
    assert not bad, f"{path.relative_to(ROOT)} imports a UI module: {bad}"


def test_the_launcher_imports_the_front_end_only_when_it_starts_it():
    tree = ast.parse(LAUNCHER.read_text(encoding="utf-8"))
    top_level = [node.module for node in tree.body if isinstance(node, ast.ImportFrom)]
    top_level += [alias.name for node in tree.body if isinstance(node, ast.Import) for alias in node.names]
    assert not [name for name in top_level if name.split(".")[0] in FORBIDDEN]
    assert LAUNCHED in [name for _line, name in imported_modules(LAUNCHER)]


def test_the_contract_sees_an_import_inside_a_function(tmp_path):
    """The checker itself: a lazy import inside a function counts."""
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from textual.app import App\n    import importlib\n"
                      "    importlib.import_module('screens.app')\n")
    assert [name for _line, name in imported_modules(sample)] == ["textual.app", "importlib", "screens.app"]


TEST_FILES = sorted((ROOT / "tests").rglob("*.py")) + sorted((ROOT / "bench").rglob("*.py"))


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_imports_a_test_module(path):
    bad = [f"line {line}: {name}" for line, name in imported_modules(path)
           if name.startswith("tests.test_") or name.startswith("test_")]
    bad += [f"line {node.lineno}: tests.{alias.name}" for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.ImportFrom) and node.module == "tests" for alias in node.names
            if alias.name.startswith("test_")]
    assert not bad, f"{path.relative_to(ROOT)} imports a test module (share it through tests/support): {bad}"
