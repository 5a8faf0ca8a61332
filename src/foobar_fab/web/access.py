"""Who may open the lab's page: the holder of the lab's token, and for actions, of the page's CSRF token.

The lab's token is made once and kept 0600 in its state folder (the same URL works again next time);
tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
import secrets

from .. import statefolder
from ..statefolder import LabFolder

TOKEN_BYTES = 32


def lab_token(folder: LabFolder, renew: bool = False) -> str:
    """The lab's page token, made (or made again when `renew`) and kept 0600 in its state folder."""
    path = folder.web_token
    if not renew and path.exists():
        kept = path.read_text().strip()
        if kept:
            statefolder.protect(path)
            return kept
    token = secrets.token_urlsafe(TOKEN_BYTES)
    statefolder.write_private(path, token + "\n")
    return token


def new_csrf_token() -> str:
    """A token for the page's actions, new for each start of the server."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def same(given: str | None, expected: str) -> bool:
    """Whether the given token is the expected one, compared in constant time (None or empty: no)."""
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())
