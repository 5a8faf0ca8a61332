"""Passwords generated per lab and kept in its state folder (0600), never in the repository."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

NAMES = ("db_app", "db_replication")


def load_or_create(state_dir: Path) -> dict[str, str]:
    """The lab's passwords; missing ones are generated and saved (the file is 0600)."""
    path = state_dir / "secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    if all(name in stored for name in NAMES):
        return stored
    for name in NAMES:
        stored.setdefault(name, secrets.token_urlsafe(24))
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(stored, handle, indent=2)
    os.chmod(path, 0o600)
    return stored
