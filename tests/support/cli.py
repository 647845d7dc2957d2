"""Running ``tljh-wizard`` as the operator does: a subprocess, its answers files written as they would be."""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from wizard import yamlio

WIZARD = [sys.executable, "-m", "wizard"]


def wizard(*argv: object, stdin: Any = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``tljh-wizard ARGV...`` (no terminal: standard input is empty unless ``stdin`` is given)."""
    return subprocess.run([*WIZARD, *map(str, argv)], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL if stdin is None else stdin)


def write_answers(tmp_path: Path, public: dict[str, Any], secret: dict[str, Any]) -> tuple[Path, Path]:
    """answers.yaml and secrets.yaml (0600) in ``tmp_path``."""
    (tmp_path / "answers.yaml").write_text(yamlio.dump(public))
    (tmp_path / "secrets.yaml").write_text(yamlio.dump(secret))
    os.chmod(tmp_path / "secrets.yaml", 0o600)
    return tmp_path / "answers.yaml", tmp_path / "secrets.yaml"
