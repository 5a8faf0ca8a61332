"""The design's diagram as SVG for the lab's page: the nodes' lines and the arrows of `docs.diagram`, laid out
in columns from the clients to the databases, with a place on each node for what the page learns live.

The page colours each `<g class="node" data-node="web-01">` by the lab's state and writes the live lines
into its `<text class="live">`; nothing here reaches the lab.
"""

from __future__ import annotations

from html import escape

from ..docs_diagram import Edge, edges, node_lines
from ..topology import Lab

BOX_WIDTH = 230
LINE_HEIGHT = 15
LIVE_LINES = 3  # room for the live lines (state, HAProxy's view, requests and replication)
COLUMN_GAP = 110
ROW_GAP = 28
MARGIN = 20
LOOP = 50  # how far an arrow within a column bulges to the right, and each further one more
LOOP_STEP = 45
RIGHT_ROOM = 120


def columns(lab: Lab, arrows: list[Edge]) -> dict[str, int]:
    """Each box's column: the longest chain of solid arrows (the path of a request) that leads to it; a box that
    only dashed or dotted arrows reach (a replica, a database of its own) comes right after their sources."""
    names = ["clients"] + (["floating"] if lab.floating_address is not None else []) + [n.name for n in lab.nodes]
    column = dict.fromkeys(names, 0)
    solid = [a for a in arrows if not a.style or a.source == "floating"]
    reached = {a.target for a in solid}
    others = [a for a in arrows if a not in solid and a.target not in reached]
    for chain in (solid, others):
        for _ in names:  # one pass per box at most: enough for any chain, and bounded were the arrows a circle
            moved = False
            for arrow in chain:
                if column[arrow.target] < column[arrow.source] + 1:
                    column[arrow.target] = column[arrow.source] + 1
                    moved = True
            if not moved:
                break
    return column


def _lines(lab: Lab, name: str) -> list[str]:
    if name == "clients":
        return ["clients", lab.domain]
    if name == "floating":
        return [str(lab.floating_address), "floating address (VRRP)"]
    return node_lines(lab.node(name))


def svg(lab: Lab) -> str:
    """The diagram, with an id-free, name-keyed group per box (data-node) and per arrow (data-from, data-to)."""
    arrows = edges(lab)
    column = columns(lab, arrows)
    heights = {name: (len(_lines(lab, name)) + (LIVE_LINES if name not in ("clients", "floating") else 0)) * LINE_HEIGHT + 14 for name in column}
    place: dict[str, tuple[int, int]] = {}
    bottom = 0
    for col in sorted(set(column.values())):
        y = MARGIN + 20
        for name in (n for n in column if column[n] == col):
            place[name] = (MARGIN + col * (BOX_WIDTH + COLUMN_GAP), y)
            y += heights[name] + ROW_GAP
        bottom = max(bottom, y)
    width = MARGIN * 2 + (max(column.values()) + 1) * (BOX_WIDTH + COLUMN_GAP) + RIGHT_ROOM  # room for a loop's label
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="diagram" viewBox="0 0 {width} {bottom + MARGIN}" width="{width}" height="{bottom + MARGIN}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="9" markerHeight="9" markerUnits="userSpaceOnUse" orient="auto-start-reverse">'
        '<path d="M 0 0 L 10 5 L 0 10 z"/></marker></defs>',
        f'<text class="title" x="{MARGIN}" y="{MARGIN}">lab {escape(lab.name)} on {escape(str(lab.subnet))}</text>',
    ]
    loops: dict[int, int] = {}  # arrows within each column so far: each loop bulges further than the last
    for arrow in arrows:
        (x1, y1), (x2, y2) = place[arrow.source], place[arrow.target]
        start = (x1 + BOX_WIDTH, y1 + heights[arrow.source] / 2)
        label_at: tuple[float, float]
        if x1 == x2:  # within a column: a loop on its right
            bulge = LOOP + LOOP_STEP * loops.get(x1, 0)
            loops[x1] = loops.get(x1, 0) + 1
            start = (start[0], start[1] + 12 * (loops[x1] - 1))
            end = (x2 + BOX_WIDTH, y2 + heights[arrow.target] / 2 + 12 * (loops[x1] - 1))
            path = f"M {start[0]:.0f} {start[1]:.0f} C {start[0] + bulge:.0f} {start[1]:.0f}, {end[0] + bulge:.0f} {end[1]:.0f}, {end[0]:.0f} {end[1]:.0f}"
            label_at, label_class = (start[0] + bulge * 0.75 + 4, (start[1] + end[1]) / 2 + 4), "aside"
        else:
            end = (x2, y2 + heights[arrow.target] / 2)
            bend = max(40.0, (end[0] - start[0]) / 2)
            path = f"M {start[0]:.0f} {start[1]:.0f} C {start[0] + bend:.0f} {start[1]:.0f}, {end[0] - bend:.0f} {end[1]:.0f}, {end[0]:.0f} {end[1]:.0f}"
            label_at, label_class = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 - 6), "along"
        parts.append(
            f'<g class="edge {escape(arrow.style)}" data-from="{escape(arrow.source)}" data-to="{escape(arrow.target)}">'
            f'<path d="{path}" marker-end="url(#arrow)"/>'
            f'<text class="{label_class}" x="{label_at[0]:.0f}" y="{label_at[1]:.0f}">{escape(arrow.label)}</text></g>'
        )
    for name, (x, y) in place.items():
        lines = _lines(lab, name)
        kind = name if name in ("clients", "floating") else "node"
        parts.append(f'<g class="box {kind}" data-node="{escape(name)}" data-state="unknown">')
        parts.append(f'<rect x="{x}" y="{y}" width="{BOX_WIDTH}" height="{heights[name]}" rx="8"/>')
        for i, line in enumerate(lines):
            parts.append(f'<text class="{"name" if i == 0 else "line"}" x="{x + 10}" y="{y + 18 + i * LINE_HEIGHT}">{escape(line)}</text>')
        if kind == "node":
            for i in range(LIVE_LINES):
                parts.append(f'<text class="live" data-line="{i}" x="{x + 10}" y="{y + 18 + (len(lines) + i) * LINE_HEIGHT}"></text>')
        parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts)
