"""`invoke docs.diagram`: the lab's diagram drawn from lab.yml with Graphviz (docs/lab.dot, docs/lab.svg).

Its nodes' lines and its arrows (`node_lines`, `edges`) are what the lab's page (`invoke web`) draws too."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import LabError
from .roles import roles_of
from .topology import Lab, NodeSpec


@dataclass(frozen=True)
class Edge:
    """An arrow of the diagram: between nodes by name ("clients" and "floating" are the two that are no node)."""

    source: str
    target: str
    label: str
    style: str = ""  # Graphviz's: "" (solid), dashed or dotted


def node_lines(node: NodeSpec) -> list[str]:
    """The node's name, address and each role's label from its record."""
    services = [role.label for role in roles_of(node) if role.label]
    return [node.name, str(node.address), *services]


def _label(node: NodeSpec) -> str:
    return "\\n".join(node_lines(node))


def entry_label(lab: Lab) -> str:
    """How clients reach the site."""
    return "HTTPS :443 (:80 redirected)" if lab.has("https") else "HTTP :80"


def edges(lab: Lab) -> list[Edge]:
    """Who sends what to whom in the design, in the diagram's order."""
    found: list[Edge] = []
    if lab.floating_address is not None:
        found.append(Edge("clients", "floating", entry_label(lab)))
        found += [Edge("floating", b.name, "held by one", "dashed") for b in lab.balancers]
    else:
        found += [Edge("clients", b.name, entry_label(lab)) for b in lab.balancers]
    for balancer in lab.balancers:
        found += [Edge(balancer.name, w.name, "round robin") for w in lab.web_nodes]
    for web in lab.web_nodes:
        found += [Edge(web.name, a.name, "proxy") for a in lab.upstream_apps(web) if a != web]
    for replica in lab.replicas:
        found.append(Edge(lab.primary.name, replica.name, f"replication (GTID{', TLS' if lab.has('https') else ''})", "dashed"))
    for app in lab.app_nodes:
        if app != lab.primary:
            found.append(Edge(app.name, lab.primary.name, "writes", "dotted"))
        reads = lab.read_database(app)
        if reads not in (app, lab.primary):
            found.append(Edge(app.name, reads.name, "reads", "dotted"))
    found += [Edge(monitor.name, lab.balancers[0].name, "scrapes every node", "dotted") for monitor in lab.with_role("monitor")]
    return found


def _dot_edge(edge: Edge) -> str:
    """One arrow in Graphviz's words (the floating address's arrows name their style first, as they always did)."""
    source, target = (name if name in ("clients", "floating") else f'"{name}"' for name in (edge.source, edge.target))
    if not edge.style:
        return f'  {source} -> {target} [label="{edge.label}"];'
    if edge.source == "floating":
        return f'  {source} -> {target} [style={edge.style}, label="{edge.label}"];'
    return f'  {source} -> {target} [label="{edge.label}", style={edge.style}];'


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
    if lab.floating_address is not None:
        rows.append(f'  floating [label="{lab.floating_address}\\nfloating address (VRRP)", shape=ellipse, fillcolor="#fff4d6"];')
    rows += [_dot_edge(edge) for edge in edges(lab)]
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
