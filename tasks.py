"""Invoke entry point: `invoke --list` shows the tasks; they live in src/foobar_fab/tasks/."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from foobar_fab.tasks import ns

__all__ = ["ns"]
