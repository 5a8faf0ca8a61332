"""`invoke docs.diagram`: the lab's diagram drawn from lab.yml with Graphviz (docs/lab.dot, docs/lab.svg)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .errors import LabError
from .roles import roles_of
from .topology import Lab, NodeSpec


def _label(node: NodeSpec) -> str:
    """The node's name, address and each role's label from its record."""
    services = [role.label for role in roles_of(node) if role.label]
    return "\\n".join([node.name, str(node.address), *services])


def dot_source(lab: Lab) -> str:
    """The Graphviz source of the lab's diagram (deterministic: the same lab.yml gives the same text)."""
    rows = [
        f"// Drawn from configs/{lab.source.name} by `invoke docs.diagram`: edit {lab.source.name}, not this file.",
        "digraph lab {",
        '  rankdir=TB; fontname="Helvetica"; node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=10];',
        f'  clients [label="clients\\n{lab.domain}", shape=ellipse, fillcolor="#ffffff"];',
        "  subgraph cluster_lab {",
        f'    label="lab {lab.name} on {lab.subnet}"; style="rounded"; color="#8899aa";',
    ]
    rows += [f'    "{n.name}" [label="{_label(n)}"];' for n in lab.nodes]
    rows.append("  }")
    entry = "HTTPS :443 (:80 redirected)" if lab.has("https") else "HTTP :80"
    if lab.floating_address is not None:
        rows.append(f'  floating [label="{lab.floating_address}\\nfloating address (VRRP)", shape=ellipse, fillcolor="#fff4d6"];')
        rows.append(f'  clients -> floating [label="{entry}"];')
        rows += [f'  floating -> "{b.name}" [style=dashed, label="held by one"];' for b in lab.balancers]
    else:
        rows += [f'  clients -> "{b.name}" [label="{entry}"];' for b in lab.balancers]
    for balancer in lab.balancers:
        rows += [f'  "{balancer.name}" -> "{w.name}" [label="round robin"];' for w in lab.web_nodes]
    for web in lab.web_nodes:
        rows += [f'  "{web.name}" -> "{a.name}" [label="proxy"];' for a in lab.upstream_apps(web) if a != web]
    for replica in lab.replicas:
        rows.append(f'  "{lab.primary.name}" -> "{replica.name}" [label="replication (GTID{", TLS" if lab.has("https") else ""})", style=dashed];')
    for app in lab.app_nodes:
        if app != lab.primary:
            rows.append(f'  "{app.name}" -> "{lab.primary.name}" [label="writes", style=dotted];')
        reads = lab.read_database(app)
        if reads not in (app, lab.primary):
            rows.append(f'  "{app.name}" -> "{reads.name}" [label="reads", style=dotted];')
    for monitor in lab.with_role("monitor"):
        rows.append(f'  "{monitor.name}" -> "{lab.balancers[0].name}" [label="scrapes every node", style=dotted];')
    rows.append("}")
    return "\n".join(rows) + "\n"


def draw(lab: Lab, folder: Path) -> Path:
    """Write <design>.dot and render <design>.svg beside it (lab.svg for configs/lab.yml); returns the SVG's path."""
    if shutil.which("dot") is None:
        raise LabError("Graphviz is missing: apt-get install graphviz, then run `invoke docs.diagram` again")
    source = folder / f"{lab.source.stem}.dot"
    source.write_text(dot_source(lab))
    svg = source.with_suffix(".svg")
    subprocess.run(["dot", "-Tsvg", str(source), "-o", str(svg)], check=True)
    return svg
