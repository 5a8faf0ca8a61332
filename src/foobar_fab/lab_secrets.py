"""Passwords generated per lab and kept in its state folder (0600), never in the repository.

Only a build creates them; every other command only reads them (to mask them in what it prints).
"""

from __future__ import annotations

import json
import secrets

from . import statefolder
from .statefolder import LabFolder

NAMES = ("db_app", "db_replication", "db_exporter", "db_guard")


def load(folder: LabFolder) -> dict[str, str]:
    """The lab's passwords as stored (empty when the lab was never built); never creates anything."""
    stored = statefolder.read_json(folder.secrets)
    return {str(k): str(v) for k, v in stored.items()} if isinstance(stored, dict) else {}


def load_or_create(folder: LabFolder) -> dict[str, str]:
    """The lab's passwords; missing ones are generated and saved (the file is 0600). For the build only."""
    stored = load(folder)
    if all(name in stored for name in NAMES):
        return stored
    for name in NAMES:
        stored.setdefault(name, secrets.token_urlsafe(24))
    statefolder.write_private(folder.secrets, json.dumps(stored, indent=2))
    return stored
