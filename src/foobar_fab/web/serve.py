"""Where the lab's page listens: loopback over HTTP by default; any other address only over TLS, with a
certificate the lab's CA issues for that address. The server is Werkzeug's, threaded, for a bounded time."""

from __future__ import annotations

import datetime
import ipaddress
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from werkzeug.serving import BaseWSGIServer, make_server

from ..errors import LabError
from ..pki import LabCA
from ..statefolder import LabFolder

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

LOOPBACK = "127.0.0.1"
CERTIFICATE = "web-page"  # the name of the page's certificate in the lab's tls/ folder


class ListenError(LabError):
    """The page cannot listen where it was asked to; the message says what to do."""


@dataclass(frozen=True)
class Listen:
    """An address to listen on, and whether it needs TLS (every address that is not loopback)."""

    address: str

    @property
    def tls(self) -> bool:
        return not ipaddress.ip_address(self.address).is_loopback


def listen_on(address: str | None) -> Listen:
    """The address `--listen` names, checked: an IP address of this host's, not a wildcard; raises ListenError."""
    if address is None:
        return Listen(LOOPBACK)
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        raise ListenError(f"--listen {address}: not an IP address: name one of this host's addresses, e.g. 127.0.0.1 or the lab bridge's") from None
    if parsed.is_unspecified:
        raise ListenError(f"--listen {address}: name the one address clients will use (its certificate names it), not every address")
    return Listen(str(parsed))


def certificate_files(ca: LabCA, folder: LabFolder, address: str) -> tuple[Path, Path]:
    """The page's certificate for the address, issued by the lab's CA (kept while it fits), and its key."""
    ca.certificate(CERTIFICATE, [address], datetime.datetime.now(datetime.UTC))
    return folder.certificate(CERTIFICATE)


def url(listen: Listen, port: int, token: str, path: str = "/") -> str:
    """The page's address with its token, as printed once."""
    host = f"[{listen.address}]" if ":" in listen.address else listen.address
    return f"{'https' if listen.tls else 'http'}://{host}:{port}{path}?token={token}"


def start(app: WSGIApplication, listen: Listen, port: int, tls_files: tuple[Path, Path] | None) -> BaseWSGIServer:
    """The server, its socket listening (port 0: a free one), not yet serving; raises ListenError."""
    if listen.tls and tls_files is None:
        raise ListenError(f"--listen {listen.address}: an address other than loopback is served over TLS only, and no certificate was given")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # its request log would print each URL, the token with it
    ssl_context = (str(tls_files[0]), str(tls_files[1])) if tls_files else None
    try:
        return make_server(listen.address, port, app, threaded=True, ssl_context=ssl_context)
    except OSError as err:
        raise ListenError(f"cannot listen on {listen.address}:{port}: {err.strerror or err}: choose another --port or --listen") from None


def serve(server: BaseWSGIServer, seconds: float) -> None:
    """Serve until Ctrl-C or for `seconds`."""
    stop = threading.Timer(seconds, server.shutdown)
    stop.daemon = True
    stop.start()
    try:
        server.serve_forever()
    finally:
        stop.cancel()
        server.server_close()


@contextmanager
def serving(server: BaseWSGIServer) -> Iterator[None]:
    """Serve in a thread of its own for the length of the block (a picture of the page is taken meanwhile)."""
    thread = threading.Thread(target=server.serve_forever, name="lab-page", daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
