"""Tasks that keep docs/ true to the lab: captured output and the diagram."""

from __future__ import annotations

from pathlib import Path

from invoke import Context, task
from invoke.exceptions import Exit

from .. import design, docs_capture, docs_diagram
from .. import screenshot as screenshots
from ..live import live
from ..settings import PROJECT_ROOT
from .common import LAB_HELP, picture_help, session, settings
from .options import PICTURE, FilePath, Found, Text, options

DOCS = PROJECT_ROOT / "docs"


def documents() -> list[str]:
    """Every document with capture blocks, from the checkout: docs/ and the README."""
    return [str(p.relative_to(PROJECT_ROOT)) for p in sorted(DOCS.rglob("*.md")) + [PROJECT_ROOT / "README.md"]]


def block_commands(paths: list[str]) -> list[str]:
    """The command of every capture block of these documents."""
    return [command for path in paths for command in docs_capture.commands((PROJECT_ROOT / path).read_text())]


ONLY = Found("text of a capture block's command in docs/ or README.md, e.g. drill.kill-lb", among=lambda: block_commands(documents()))
DOCUMENT = Found("text of a document's path, e.g. 07-securing", among=documents)


@task(
    help={
        **LAB_HELP,
        "only": "capture only the blocks whose command contains this text, e.g. drill.kill-lb",
        "document": "capture only in the documents whose path contains this text, e.g. 07-securing",
    }
)
@options(only=ONLY, document=DOCUMENT)
def capture(c: Context, only: str | None = None, document: str | None = None, lab_file: str | None = None, provider: str | None = None) -> None:
    """Run every command shown in docs/ on the built lab and put its real output under it."""
    paths = [p for p in documents() if document is None or document in p]
    if only is not None and not any(only in command for command in block_commands(paths)):
        raise Exit(f"error: --only: no capture block in the documents matching --document {document!r} has a command containing {only!r}", code=2)
    session(c, lab_file=lab_file, provider=provider).provider.require_up()  # before the first command reaches a node
    done = docs_capture.capture_docs([PROJECT_ROOT / p for p in paths], only)
    print(f"{len(done)} outputs captured")


@task(help={"lab-file": "the design to draw (default: configs/lab.yml)"})
@options()
def diagram(c: Context, lab_file: str | None = None) -> None:
    """Redraw the design's diagram with Graphviz: docs/lab.svg from configs/lab.yml, docs/<name>.svg from another."""
    lab = design.load(settings(c, lab_file=lab_file).lab_file)
    print(f"drawn: {docs_diagram.draw(lab, DOCS)}")


@task(
    help={
        **LAB_HELP,
        "url": "the page, e.g. http://www.foobar.com/ (the site's name is mapped to the lab's entry address)",
        "path": "where to save the PNG, e.g. docs/img/site.png",
        **picture_help(1100, 700),
    }
)
@options(
    url=Text("a web address, http://... or https://...", "http://www.foobar.com/", lambda t: t.startswith(("http://", "https://"))),
    path=FilePath("a PNG file to write", sample="site.png"),
    **PICTURE,
)
def screenshot(
    c: Context,
    url: str,
    path: str,
    width: int = 1100,
    height: int = 700,
    during: str | None = None,
    after: float = 10.0,
    lab_file: str | None = None,
    provider: str | None = None,
) -> None:
    """Save a page of the lab as headless Chromium shows it (the site, HAProxy's statistics...), as a PNG."""
    s = session(c, lab_file=lab_file, provider=provider)
    screenshots.browser()  # missing: one line, before anything runs
    names = {s.lab.domain: str(s.lab.entry_address)}
    with live(s):  # the lab is up: its addresses are never tried through the host's default route
        pass
    taken, code = screenshots.take_during(url, Path(path), names, (width, height), during, after, PROJECT_ROOT)
    print(f"{path}: {taken}")
    if code:
        raise Exit(f"`{during}` ended with status {code}", code=code)
