"""`invoke web`: the lab in a browser."""

from __future__ import annotations

from invoke import Context, task
from werkzeug.serving import BaseWSGIServer

from ..live import live
from ..web import access, serve
from ..web.app import create_app
from ..web.snapshot import Sampler
from ..web.terminal import NodeShell, Terminal, TerminalError
from .common import LAB_HELP, session
from .options import FLAG, Number, Text, options


@task(
    help={
        **LAB_HELP,
        "listen": "the address to serve on (default 127.0.0.1); any other is served over HTTPS with a certificate from the lab's CA",
        "port": "the port (default 0: a free one)",
        "minutes": "stop after this many minutes (default 240)",
        "new-token": "make a new token for the lab's page (the old URL stops working)",
    }
)
@options(
    listen=Text("an IP address of this host's, e.g. 127.0.0.1", "127.0.0.1"),
    port=Number("a port number", 0, 65535, whole=True),
    minutes=Number("a number of minutes", 1, 1440),
    new_token=FLAG,
)
def web(
    c: Context,
    listen: str | None = None,
    port: int = 0,
    minutes: float = 240.0,
    new_token: bool = False,
    lab_file: str | None = None,
    provider: str | None = None,
) -> None:
    """Serve the lab's page: its diagram coloured live, and a terminal on each node (loopback and a token by default)."""
    where = serve.listen_on(listen)
    s = session(c, lab_file=lab_file, provider=provider)
    tls_files = serve.certificate_files(s.ca(), s.folder, where.address) if where.tls else None
    token = access.lab_token(s.folder, renew=new_token)

    def open_terminal(node: str, columns: int, rows: int) -> Terminal:
        if not s.provider.network_present():
            raise TerminalError(f"lab {s.lab.name}'s network is gone: no shell on {node}")
        states = {row.name: row.state for row in s.provider.status()}
        if states.get(node) != "running":
            raise TerminalError(f"{node} is {states.get(node, 'missing')}: power it on first")
        return NodeShell(s.provider.ssh_params(node), columns, rows)

    def announce(server: BaseWSGIServer) -> None:
        print(f"lab {s.lab.name}'s page (Ctrl-C stops; stops by itself after {minutes:g} min):", flush=True)
        print(f"  {serve.url(where, server.server_port, token)}", flush=True)

    with live(s) as lab:
        sampler = Sampler(lab)
        app = create_app(s.lab, token, sampler, open_terminal, s.provider, secure=where.tls)
        try:
            serve.serve(app, where, int(port), tls_files, announce, minutes * 60)
        except KeyboardInterrupt:
            print("stopped.")
        finally:
            sampler.close()
