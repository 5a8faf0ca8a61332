"""Who may open the lab's page: the holder of the lab's token, and for actions, of the page's CSRF token.

The lab's token is made once and kept 0600 in its state folder (the same URL works again next time);
tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path

from flask import Flask, Response, abort, request

from .. import statefolder
from ..statefolder import LabFolder

TOKEN_BYTES = 32


def lab_token(folder: LabFolder, renew: bool = False) -> str:
    """The lab's page token, made (or made again when `renew`) and kept 0600 in its state folder."""
    return token_at(folder.web_token, renew)


def token_at(path: Path, renew: bool = False) -> str:
    """The token kept 0600 in this file, made (or made again when `renew`) when there is none."""
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


def close(app: Flask, token: str, cookie: str, refusal: str) -> None:
    """Every request to the app needs the token (in the URL, or the cookie the page set), and one that names
    its origin must come from the page's own; its answers may not be framed, cached or sent on as a referrer."""

    @app.before_request
    def guard() -> None:
        if not same(request.args.get("token") or request.cookies.get(cookie), token):
            abort(403, refusal)
        origin = request.headers.get("Origin")
        if origin is not None and origin != request.host_url.rstrip("/"):
            abort(403, "a request from another site's page")

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-store"
        return response


def keep(response: Response, cookie: str, token: str, secure: bool) -> Response:
    """Set the token as the page's cookie, for the page's own path (a class serves a page per student on one
    host, each with its own token); HttpOnly, SameSite=Lax, and over TLS only when served over TLS."""
    response.set_cookie(cookie, token, httponly=True, samesite="Lax", secure=secure, path=request.script_root + "/")
    return response
