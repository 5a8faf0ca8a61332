"""`invoke web`: the lab in a browser."""

from __future__ import annotations

from pathlib import Path

from invoke import Context, task
from invoke.exceptions import Exit

from .. import screenshot as screenshots
from ..live import live
from ..settings import PROJECT_ROOT
from ..web import access, serve
from ..web.lab import lab_page
from ..web.snapshot import Sampler
from .common import LAB_HELP, picture_help, session
from .options import FLAG, LISTEN, MINUTES, PICTURE, PORT, FilePath, options


@task(
    help={
        **LAB_HELP,
        "listen": "the address to serve on (default 127.0.0.1); any other is served over HTTPS with a certificate from the lab's CA",
        "port": "the port (default 0: a free one)",
        "minutes": "stop after this many minutes (default 240)",
        "new-token": "make a new token for the lab's page (the old URL stops working)",
        "screenshot": "serve only long enough to save the page as headless Chromium shows it, as this PNG (for the docs)",
        **picture_help(1300, 700),
    }
)
@options(
    listen=LISTEN,
    port=PORT,
    minutes=MINUTES,
    new_token=FLAG,
    screenshot=FilePath("a PNG file to write", sample="lab-page.png"),
    **PICTURE,
)
def web(
    c: Context,
    listen: str | None = None,
    port: int = 0,
    minutes: float = 240.0,
    new_token: bool = False,
    screenshot: str | None = None,
    width: int = 1300,
    height: int = 700,
    during: str | None = None,
    after: float = 10.0,
    lab_file: str | None = None,
    provider: str | None = None,
) -> None:
    """Serve the lab's page: its diagram coloured live, and a terminal on each node (loopback and a token by default)."""
    where = serve.listen_on(listen)
    if screenshot is not None:
        screenshots.browser()  # missing: one line, before anything runs
    s = session(c, lab_file=lab_file, provider=provider)
    with live(s) as lab:  # the lab is up before its folder gets a token or a certificate
        tls_files = serve.certificate_files(s.ca(), s.folder, where.address) if where.tls else None
        token = access.lab_token(s.folder, renew=new_token)
        sampler = Sampler(lab)
        try:
            server = serve.start(lab_page(s, sampler, token, where.tls), where, int(port), tls_files)
            url = serve.url(where, server.server_port, token)
            if screenshot is not None:
                with serve.serving(server):
                    taken, code = screenshots.take_during(url, Path(screenshot), {}, (width, height), during, after, PROJECT_ROOT, f"lab {s.lab.name}'s page")
                print(f"{screenshot}: {taken}")
                if code:
                    raise Exit(f"`{during}` ended with status {code}", code=code)
                return
            print(f"lab {s.lab.name}'s page (Ctrl-C stops; it stops by itself after {minutes:g} min):", flush=True)
            print(f"  {url}", flush=True)
            serve.serve(server, minutes * 60)
        except KeyboardInterrupt:
            print("stopped.")
        finally:
            sampler.close()
