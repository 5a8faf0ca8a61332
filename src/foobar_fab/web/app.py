"""The lab's page as a Flask application: the diagram, its live state by Server-Sent Events, a terminal on
each node by WebSocket, and one action (a node's power), each behind the lab's token.

Every request needs the token (from the URL `invoke web` printed, then from the cookie the page sets);
an action is a POST with the page's CSRF token in a header, and from the page's own origin.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from flask import Flask, Response, abort, render_template, request, send_file
from flask_sock import Sock

from ..errors import LabError
from ..topology import Lab
from . import access, picture, reports
from .access import new_csrf_token, same
from .terminal import SESSION_SECONDS, Socket, Terminal, TerminalError, follow, hang_up, size

COOKIE = "foobar_lab_token"
CSRF_HEADER = "X-CSRF-Token"
EVERY = 0.5  # seconds between two snapshots sent to a page
STREAM_SECONDS = 300.0  # one event stream's length; the browser opens the next one by itself
RETRY_MS = 500
POWER = ("off", "on")


class Snapshots(Protocol):
    def latest(self) -> dict[str, Any]: ...


class Power(Protocol):
    """The provider's power switch (Provider.stop_hard and start)."""

    def stop_hard(self, node: str) -> None: ...

    def start(self, node: str) -> None: ...


TerminalOpener = Callable[[str, int, int], Terminal]


def create_app(
    lab: Lab,
    token: str,
    snapshots: Snapshots,
    open_terminal: TerminalOpener,
    power: Power,
    secure: bool = False,
    drills: Path | None = None,
    stream_seconds: float = STREAM_SECONDS,
    terminal_seconds: float = SESSION_SECONDS,
) -> Flask:
    """The application for one lab; `secure`: served over TLS (the cookie is then sent over TLS only); `drills`: the
    folder of the lab's drill reports, listed with their plots."""
    app = Flask(__name__)
    app.config["SOCK_SERVER_OPTIONS"] = {"ping_interval": 25}
    sock = Sock(app)
    csrf = new_csrf_token()
    diagram = picture.svg(lab)
    names = [n.name for n in lab.nodes]

    access.close(app, token, COOKIE, "this page needs the lab's token: open the URL `invoke web` printed")

    @app.get("/")
    def page() -> Response:
        first = snapshots.latest()  # the page opens coloured (and a picture of it taken at once shows the lab)
        return access.keep(Response(render_template("page.html", lab=lab, diagram=diagram, csrf=csrf, nodes=names, first=first)), COOKIE, token, secure)

    @app.get("/events")
    def events() -> Response:
        def stream() -> Iterator[str]:
            yield f"retry: {RETRY_MS}\n\n"
            ends = time.monotonic() + stream_seconds
            while time.monotonic() < ends:
                began = time.monotonic()
                snapshot = snapshots.latest()
                yield f"data: {json.dumps(snapshot)}\n\n"
                if "gone" in snapshot:
                    return
                time.sleep(max(0.0, EVERY - (time.monotonic() - began)))

        return Response(stream(), mimetype="text/event-stream", headers={"X-Accel-Buffering": "no"})

    @app.get("/reports")
    def report_list() -> Response:
        return Response(json.dumps(reports.listed(drills) if drills else []), mimetype="application/json")

    @app.get("/reports/<name>.svg")
    def report_plot(name: str) -> Response:
        found = reports.plot(drills, name) if drills else None
        if found is None:
            abort(404, f"no report {name}")
        return send_file(found, mimetype="image/svg+xml")

    @app.post("/nodes/<node>/power")
    def switch(node: str) -> Response:
        if not same(request.headers.get(CSRF_HEADER), csrf):
            abort(403, "the page's CSRF token is missing or wrong: reload the page")
        if node not in names:
            abort(404, f"no node {node} in lab {lab.name}")
        wanted = (request.get_json(silent=True) or {}).get("to")
        if wanted not in POWER:
            abort(400, 'say {"to": "off"} or {"to": "on"}')
        try:
            (power.stop_hard if wanted == "off" else power.start)(node)
        except LabError as err:
            abort(409, str(err))
        return Response(json.dumps({"node": node, "power": wanted}), mimetype="application/json")

    @sock.route("/terminal/<node>")
    def terminal(ws: Socket, node: str) -> None:
        try:
            if node not in names:
                ws.send(f"\r\nno node {node} in lab {lab.name}\r\n")
                return
            try:
                shell = open_terminal(node, size(request.args.get("cols", 80)), size(request.args.get("rows", 24)))
            except (TerminalError, ValueError) as err:
                ws.send(f"\r\n{err}\r\n")
                return
            follow(ws, shell, terminal_seconds)
        finally:
            hang_up(ws)

    return app
