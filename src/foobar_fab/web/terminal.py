"""A shell on a node for the page's terminal: the lab's own SSH (its key, its known_hosts) through paramiko,
with a PTY, joined to the browser's WebSocket for a bounded time."""

from __future__ import annotations

import codecs
import json
import threading
import time
from typing import Any, Protocol

import paramiko

from ..executors import SshParams, connect

TERM = "xterm-256color"
SESSION_SECONDS = 3600.0  # a terminal closes after an hour; the page can open another
READ_BYTES = 32768
SIZE_LIMITS = (10, 500)  # columns and rows a resize may ask for


class TerminalError(RuntimeError):
    """The node's shell could not be opened; the message says why."""


class Terminal(Protocol):
    """A shell the page types into and reads from."""

    def write(self, text: str) -> None: ...

    def resize(self, columns: int, rows: int) -> None: ...

    def read(self, timeout: float) -> bytes | None:
        """What the shell printed (b"" when it ended, None when nothing came within the timeout)."""
        ...

    def close(self) -> None: ...


class Socket(Protocol):
    """The browser's end: flask-sock's WebSocket (simple-websocket's Server)."""

    def send(self, data: str) -> None: ...

    def receive(self, timeout: float | None = None) -> Any: ...


class NodeShell:
    """An interactive login shell on a node with a pseudo-terminal, over one SSH connection of its own."""

    def __init__(self, params: SshParams, columns: int, rows: int, connect_timeout: float = 5.0) -> None:
        try:
            self.connection = connect(params, connect_timeout)
            transport = self.connection.client.get_transport()
            if transport is None:
                raise TerminalError(f"no SSH transport to {params.host}")
            self.channel = transport.open_session(timeout=connect_timeout)
            self.channel.get_pty(term=TERM, width=columns, height=rows)
            self.channel.invoke_shell()
        except (OSError, paramiko.SSHException, EOFError) as err:
            raise TerminalError(f"cannot open a shell on {params.user}@{params.host}: {type(err).__name__}: {err}") from None

    def write(self, text: str) -> None:
        self.channel.sendall(text.encode())

    def resize(self, columns: int, rows: int) -> None:
        self.channel.resize_pty(width=columns, height=rows)

    def read(self, timeout: float) -> bytes | None:
        self.channel.settimeout(timeout)
        try:
            return self.channel.recv(READ_BYTES)
        except TimeoutError:
            return None

    def close(self) -> None:
        try:
            self.channel.close()
        finally:
            self.connection.close()


def hang_up(socket: Any, wait: float = 1.0) -> None:
    """End a WebSocket cleanly and leave nothing more on its connection.

    Werkzeug's server (2.2, pinned with the application's Flask) writes an HTTP answer on the connection once
    the route returns, after the WebSocket's close frame: a browser reports that as an invalid frame. So:
    close (when the page has not), wait for the page's answer to the close, then shut the connection down.
    """
    try:
        if socket.connected:
            socket.close()
        socket.thread.join(timeout=wait)
        socket.sock.shutdown(2)  # socket.SHUT_RDWR
    except (OSError, RuntimeError, AttributeError):
        pass  # already gone: nothing more can be written on it either way


def size(value: Any) -> int:
    """A column or row count from the page, kept within SIZE_LIMITS (ValueError when it is no number)."""
    low, high = SIZE_LIMITS
    return max(low, min(high, int(value)))


def follow(socket: Socket, terminal: Terminal, seconds: float = SESSION_SECONDS) -> None:
    """Join the socket and the shell until either ends or the time is up: the shell's output goes to the page as
    text; the page sends JSON, {"input": "..."} or {"resize": [columns, rows]} (anything else is ignored)."""
    done = threading.Event()

    def pump() -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        try:
            while not done.is_set():
                data = terminal.read(0.5)
                if data is None:
                    continue
                if not data:
                    break
                socket.send(decoder.decode(data))
        except Exception:  # the page went away while we wrote to it: stop either way
            pass
        finally:
            done.set()

    reader = threading.Thread(target=pump, name="terminal-output", daemon=True)
    reader.start()
    ends = time.monotonic() + seconds
    try:
        while not done.is_set() and time.monotonic() < ends:
            message = socket.receive(timeout=0.5)
            if message is None:
                continue
            try:
                said = json.loads(message)
            except ValueError:
                continue
            if not isinstance(said, dict):
                continue
            if isinstance(said.get("input"), str):
                terminal.write(said["input"])
            elif isinstance(said.get("resize"), list) and len(said["resize"]) == 2:
                try:
                    terminal.resize(size(said["resize"][0]), size(said["resize"][1]))
                except (TypeError, ValueError):
                    continue
    finally:
        done.set()
        terminal.close()
        reader.join(timeout=2)
