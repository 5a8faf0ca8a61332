"""Tasks that keep docs/ true to the lab: captured output and the diagram."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from invoke import Context, task
from invoke.exceptions import Exit

from .. import design, docs_capture, docs_diagram
from .. import screenshot as screenshots
from ..live import live
from ..settings import PROJECT_ROOT
from .common import LAB_HELP, friendly, session, settings

DOCS = PROJECT_ROOT / "docs"


@task(
    help={
        **LAB_HELP,
        "only": "capture only the blocks whose command contains this text, e.g. drill.kill-lb",
        "document": "capture only in the documents whose path contains this text, e.g. 07-securing",
    }
)
@friendly
def capture(c: Context, only: str | None = None, document: str | None = None, lab_file: str | None = None, provider: str | None = None) -> None:
    """Run every command shown in docs/ on the built lab and put its real output under it."""
    session(c, lab_file=lab_file, provider=provider).provider.require_up()  # before the first command reaches a node
    paths = [p for p in sorted(DOCS.rglob("*.md")) + [PROJECT_ROOT / "README.md"] if document is None or document in str(p)]
    done = docs_capture.capture_docs(paths, only)
    print(f"{len(done)} outputs captured")


@task(help={"lab-file": "the design to draw (default: configs/lab.yml)"})
@friendly
def diagram(c: Context, lab_file: str | None = None) -> None:
    """Redraw the design's diagram with Graphviz: docs/lab.svg from configs/lab.yml, docs/<name>.svg from another."""
    lab = design.load(settings(c, lab_file=lab_file).lab_file)
    print(f"drawn: {docs_diagram.draw(lab, DOCS)}")


@task(
    help={
        **LAB_HELP,
        "url": "the page, e.g. http://www.foobar.com/ (the site's name is mapped to the lab's entry address)",
        "path": "where to save the PNG, e.g. docs/img/site.png",
        "width": "the window's width in pixels (default 1100)",
        "height": "the window's height in pixels (default 700)",
        "during": "run this command meanwhile (e.g. a drill), showing its output, and take the picture `after` seconds into it",
        "after": "seconds into the `during` command (default 10)",
    }
)
@friendly
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
    meanwhile = None if during is None else subprocess.Popen(["bash", "-c", during], cwd=PROJECT_ROOT)
    try:
        if meanwhile is not None:
            time.sleep(after)
        taken = screenshots.take(url, Path(path), names, (width, height))
    finally:
        code = 0 if meanwhile is None else meanwhile.wait()
    print(f"{path}: {taken}" + (f", {after:g} s into `{during}`" if during else ""))
    if code:
        raise Exit(f"`{during}` ended with status {code}", code=code)
