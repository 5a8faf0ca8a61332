"""Tasks that keep docs/ true to the lab: captured output and the diagram."""

from __future__ import annotations

from invoke import Context, task

from .. import design, docs_capture, docs_diagram
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
