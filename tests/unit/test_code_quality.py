"""The code passes its linter and its type checker (settings in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from foobar_fab.settings import PROJECT_ROOT

TOOLS = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_finds_nothing() -> None:
    result = run(str(TOOLS / "ruff"), "check", "--no-cache", "src", "tests", "tasks.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_nothing() -> None:
    result = run(str(TOOLS / "mypy"), "--no-incremental")
    assert result.returncode == 0, result.stdout + result.stderr
