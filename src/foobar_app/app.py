"""The foobar web application: a small message board, served by whichever node HAProxy picks.

Pages and JSON both say which node served them, so students can watch the load balancer at work.
Writes go to the primary database, reads come from the node's own database (see storage.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, make_response, redirect, render_template, request, url_for
from werkzeug.exceptions import BadRequest, HTTPException

from foobar_app import __version__
from foobar_app.config import Settings
from foobar_app.metrics import instrument
from foobar_app.storage import NOT_REPLICATING, Message, Replication, Side, Storage, StorageError

MAX_BODY = 500  # characters, the width of messages.body in schema.sql
#: The slow-server drill writes a number of milliseconds here: every answer of this node then waits that
#: long first, as if its disk or its CPU were overloaded. No file, no wait (/run is emptied at every boot).
DELAY_FILE = Path("/run/foobar-app-delay-ms")


class InvalidBody(ValueError):
    """A message body the board refuses; `status` is the HTTP status to answer with."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.status = status


def clean_body(value: object) -> str:
    """The body to store: text without surrounding blanks, not empty, at most MAX_BODY characters."""
    if value is None:
        raise InvalidBody("body is required")
    if not isinstance(value, str):
        raise InvalidBody("body must be a string")
    # Browsers send a textarea's line breaks as CRLF but count them as one character.
    body = value.replace("\r\n", "\n").strip()
    if not body:
        raise InvalidBody("body is empty")
    if len(body) > MAX_BODY:
        raise InvalidBody(f"body is longer than {MAX_BODY} characters", status=413)
    return body


def message_json(message: Message) -> dict[str, Any]:
    """A message as the JSON API shows it."""
    return {
        "id": message.id,
        "body": message.body,
        "node": message.node,
        "created_at": message.created_at.isoformat(),
    }


def json_error(reason: str, status: int) -> tuple[Response, int]:
    """An API error: {"error": reason} with the given status."""
    return jsonify(error=reason), status


def passes(check: Callable[[], None], errors: list[str]) -> bool:
    """Run a storage check: True if it passed, else False with its error added to `errors`."""
    try:
        check()
    except StorageError as exc:
        errors.append(str(exc))
        return False
    return True


def injected_delay(path: Path) -> float:
    """Seconds the slow-server drill asks every answer to wait (0 without its file, or with a bad one)."""
    try:
        return max(0, int(path.read_text().strip())) / 1000
    except (OSError, ValueError):
        return 0.0


WROTE_COOKIE = "foobar_wrote"  # set after a client's write when reads go to the primary for a while (FOOBAR_READ_OWN_WRITES_S)


def create_app(settings: Settings, storage: Storage, delay_file: Path = DELAY_FILE) -> Flask:
    """The Flask application for one node, on the given storage."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024  # far more than a message needs
    instrument(app, settings.metrics_port)

    @app.before_request
    def slow_down_when_asked() -> None:
        time.sleep(injected_delay(delay_file))

    @app.after_request
    def say_which_node(response: Response) -> Response:
        response.headers["X-App-Node"] = settings.node
        return response

    def remember_write(response: Response) -> Response:
        """Mark the client that just wrote: its reads go to the primary for a while, where its write is."""
        if settings.read_own_writes:
            response.set_cookie(WROTE_COOKIE, "1", max_age=settings.read_own_writes, httponly=True, samesite="Lax")
        return response

    def read_side() -> Side:
        """Where this request reads: the primary for a client that wrote moments ago (if the design says so)."""
        return "write" if settings.read_own_writes and request.cookies.get(WROTE_COOKIE) else "read"

    @app.errorhandler(HTTPException)
    def api_errors_as_json(exc: HTTPException) -> Any:
        """Errors under /api/ (404, 405, 413...) answer JSON like the rest of the API."""
        if request.path.startswith("/api/"):
            return json_error(exc.description or exc.name, exc.code or 500)
        return exc

    def reads_from(errors: list[str]) -> tuple[str, Replication | None]:
        """What this node reads from, "primary" or "replica" (with FOOBAR_DB_ROLE=auto, the read database says:
        it replicates, or not once promoted), and the replica's replication state."""
        if settings.db_role == "primary":
            return "primary", None
        try:
            state = storage.replication_status()
        except StorageError as exc:
            errors.append(f"cannot read replication status: {exc}")
            state = Replication.unknown(str(exc))
        role = "primary" if settings.db_role == "auto" and state.last_error == NOT_REPLICATING else "replica"
        return role, state if role == "replica" else None

    def board(error: str | None = None, draft: str = "", status: int = 200) -> tuple[str, int]:
        """The board page; after a refused post, with its error, status and draft."""
        errors = [error] if error else []
        messages: list[Message] = []
        try:
            messages = storage.latest_messages(read_side())
        except StorageError as exc:
            errors.append(f"cannot read messages: {exc}")
            status = 503 if status == 200 else status
        page = render_template(
            "index.html",
            settings=settings,
            reads_from=settings.db_role if settings.db_role != "auto" else reads_from([])[0],
            version=__version__,
            messages=messages,
            errors=errors,
            draft=draft,
            max_body=MAX_BODY,
        )
        return page, status

    @app.get("/")
    def index() -> Any:
        return board()

    @app.post("/messages")
    def post_message_form() -> Any:
        draft = request.form.get("body", "")
        try:
            storage.add_message(clean_body(draft), settings.node)
        except InvalidBody as exc:
            return board(str(exc), draft, exc.status)
        except StorageError as exc:
            return board(f"cannot store the message: {exc}", draft, 503)
        return remember_write(redirect(url_for("index"), code=303))

    @app.get("/api/messages")
    def list_messages() -> Any:
        try:
            messages = storage.latest_messages(read_side())
        except StorageError as exc:
            return json_error(str(exc), 503)
        return jsonify(node=settings.node, messages=[message_json(m) for m in messages])

    @app.post("/api/messages")
    def post_message() -> Any:
        if not request.is_json:
            return json_error("Content-Type must be application/json", 415)
        try:
            payload = request.get_json()
        except BadRequest:
            return json_error("request body is not valid JSON", 400)
        if not isinstance(payload, dict):
            return json_error("request body must be a JSON object", 400)
        try:
            message_id = storage.add_message(clean_body(payload.get("body")), settings.node)
        except InvalidBody as exc:
            return json_error(str(exc), exc.status)
        except StorageError as exc:
            return json_error(str(exc), 503)
        return remember_write(make_response(jsonify(id=message_id, node=settings.node), 201))

    @app.get("/api/health")
    def health() -> Any:
        """The node's state; 200 while it can serve reads, else 503 (HAProxy's health check).

        A dead primary shows as "writable": false but leaves the status at 200: the replica's
        node still serves the board, read-only.
        """
        errors: list[str] = []
        readable = passes(storage.check_readable, errors)
        writable = passes(storage.check_writable, errors)
        role, state = reads_from(errors)
        replication = asdict(state) if state is not None else None
        return jsonify(
            node=settings.node,
            role=role,
            version=__version__,
            database={"readable": readable, "writable": writable, "error": "; ".join(errors) or None},
            replication=replication,
        ), 200 if readable else 503

    return app

