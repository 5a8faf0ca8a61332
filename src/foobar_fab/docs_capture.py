"""`invoke docs.capture`: fill the docs' capture blocks with the real output of their commands.

A block in a Markdown file looks like this, and only the text between the fences is replaced:

    <!-- capture: invoke status -->
    ```text
    ...output...
    ```
    <!-- end capture -->
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

from .settings import PROJECT_ROOT

BLOCK = re.compile(r"(<!-- capture: (?P<command>.+?) -->\n```text\n)(?P<output>.*?)(```\n<!-- end capture -->)", re.S)
ANSI = re.compile(r"\x1b\[[0-9;]*m")
MAX_LINES = 90  # a drill's whole report, for a 20 s fault
PLACEHOLDER = "(captured by invoke docs.capture)"


def commands(text: str) -> list[str]:
    """The commands of every capture block in a document."""
    return [m.group("command") for m in BLOCK.finditer(text)]


def fill(text: str, run: Callable[[str], str]) -> str:
    """The document with each capture block's output replaced by what run(command) returns."""

    def replace(match: re.Match[str]) -> str:
        output = run(match.group("command")).rstrip("\n") + "\n"
        return match.group(1) + output + match.group(4)

    return BLOCK.sub(replace, text)


def run_command(command: str, root: Path = PROJECT_ROOT, timeout: float = 900) -> str:
    """Run a docs command from the repository root, with the project's tools first on PATH; output without colour."""
    env = {**os.environ, "PATH": f"{root / '.venv/bin'}:{os.environ.get('PATH', '')}", "NO_COLOR": "1"}
    proc = subprocess.run(
        ["bash", "-c", command], cwd=root, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    lines = ANSI.sub("", proc.stdout + proc.stderr).replace(str(root) + "/", "").splitlines()
    if len(lines) > MAX_LINES:
        lines = lines[:MAX_LINES] + [f"... ({len(lines) - MAX_LINES} more lines)"]
    return "\n".join(lines)


def capture_docs(paths: list[Path], only: str | None = None) -> list[tuple[Path, str]]:
    """Fill every capture block of the given files (those whose command contains `only`, if given)."""
    done: list[tuple[Path, str]] = []

    def run(command: str) -> str:
        done.append((path, command))
        print(f"$ {command}", flush=True)
        return run_command(command)

    for path in paths:
        text = path.read_text()
        new = fill(text, run) if only is None else BLOCK.sub(lambda m: fill(m.group(0), run) if only in m.group("command") else m.group(0), text)
        if new != text:
            path.write_text(new)
    return done
