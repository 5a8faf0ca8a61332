"""Passwords generated per lab and kept in its state folder (0600), never in the repository.

Only a build creates them; every other command only reads them (to mask them in what it prints).
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

NAMES = ("db_app", "db_replication", "db_exporter", "db_guard")
FILE = "secrets.json"


def load(state_dir: Path) -> dict[str, str]:
    """The lab's passwords as stored (empty when the lab was never built); never creates anything."""
    path = state_dir / FILE
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in stored.items()} if isinstance(stored, dict) else {}


def load_or_create(state_dir: Path) -> dict[str, str]:
    """The lab's passwords; missing ones are generated and saved (the file is 0600). For the build only."""
    stored = load(state_dir)
    if all(name in stored for name in NAMES):
        return stored
    for name in NAMES:
        stored.setdefault(name, secrets.token_urlsafe(24))
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = state_dir / FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(stored, handle, indent=2)
    os.chmod(path, 0o600)
    return stored
