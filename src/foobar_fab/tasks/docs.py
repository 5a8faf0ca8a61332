"""Tasks that keep docs/ true to the lab: captured output and the diagram."""

from __future__ import annotations

from invoke import Context, task

from .. import docs_capture, docs_diagram, topology
from ..settings import PROJECT_ROOT
from .common import friendly, settings

DOCS = PROJECT_ROOT / "docs"


@task(help={"only": "capture only the blocks whose command contains this text, e.g. drill.kill-lb"})
@friendly
def capture(c: Context, only: str | None = None) -> None:
    """Run every command shown in docs/ on the built lab and put its real output under it."""
    paths = sorted(DOCS.rglob("*.md")) + [PROJECT_ROOT / "README.md"]
    done = docs_capture.capture_docs(paths, only)
    print(f"{len(done)} outputs captured")


@task
@friendly
def diagram(c: Context) -> None:
    """Redraw docs/lab.svg from the lab's topology (configs/lab.yml) with Graphviz."""
    lab = topology.load(settings(c).lab_file)
    print(f"drawn: {docs_diagram.draw(lab, DOCS)}")
