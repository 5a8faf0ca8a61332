"""A class's pages on one server: each student's lab page under /student/NAME/, opened by that student's
token only, and the instructor's page at / with a row for every student (class.status's rows), opened
by the instructor's token only."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, render_template
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from . import access

COOKIE = "foobar_class_token"
ROWS_KEPT = 30.0  # seconds the instructor's rows are shown again before they are measured anew


class Rows:
    """The class's rows, measured at most every ROWS_KEPT seconds (each measure runs every lab's checks)."""

    def __init__(self, measure: Callable[[], list[dict[str, Any]]], kept: float = ROWS_KEPT) -> None:
        self.measure = measure
        self.kept = kept
        self.lock = threading.Lock()
        self.rows: list[dict[str, Any]] = []
        self.taken_at: float | None = None

    def latest(self) -> tuple[list[dict[str, Any]], float]:
        """The rows and when they were measured (time.time())."""
        with self.lock:
            if self.taken_at is None or time.time() - self.taken_at >= self.kept:
                self.rows, self.taken_at = self.measure(), time.time()
            return self.rows, self.taken_at


def student_path(name: str) -> str:
    return f"/student/{name}"


def create_class_app(name: str, token: str, pages: dict[str, Flask], rows: Rows, secure: bool = False) -> DispatcherMiddleware:
    """The instructor's page at /, each student's page (made with their own token) under /student/NAME/."""
    app = Flask(__name__)

    access.close(app, token, COOKIE, "this page needs the instructor's token: open the URL `invoke class.web` printed")

    @app.get("/")
    def instructor() -> Response:
        found, taken_at = rows.latest()
        page = render_template("class.html", name=name, rows=found, taken=time.strftime("%H:%M:%S", time.localtime(taken_at)), students=sorted(pages))
        return access.keep(Response(page), COOKIE, token, secure)

    return DispatcherMiddleware(app, {student_path(student): page for student, page in pages.items()})
