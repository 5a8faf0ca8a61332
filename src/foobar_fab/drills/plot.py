"""A drill's timeline as an SVG: requests per second by serving node, failures, slow answers, events.

Drawn with matplotlib's object-oriented API on an SVG canvas (no pyplot, no display), and
byte-for-byte reproducible for the same report, so the figure can be compared and committed.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure

SIZE = (10.0, 4.5)  # inches: a slide
FAILED_COLOUR = "tab:red"
FAILED_WRITE_COLOUR = "darkred"
XLABEL = "second the request was sent (since traffic started)"
# Node colours, given in the order of the sorted node names; red is kept for failures.
NODE_PALETTE = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown",
                "tab:pink", "tab:gray", "tab:olive", "tab:cyan")
EVENT_COLOURS = {"fault": "darkred", "detected": "darkorange", "restore": "navy", "alert": "purple", "resolved": "teal",
                 "recovered": "darkgreen"}
BAR: dict[str, Any] = {"width": 0.9, "align": "edge"}  # second s covers [s, s + 1)
# Fixed ids (hashsalt) and real <text> elements (fonttype none): same bytes each run, searchable text.
SVG_RC = {"svg.hashsalt": "foobar_fab-drill", "svg.fonttype": "none"}
_SAVE_LOCK = threading.Lock()  # rcParams are process-wide: one save at a time under SVG_RC

Row = Mapping[str, Any]


def plot_timeline(report: Mapping[str, Any], path: Path) -> None:
    """Write the timeline of a drill report (see module doc) to `path` as an SVG."""
    timeline = sorted(report.get("timeline", ()), key=lambda row: row["second"])
    events = sorted(report.get("events", ()), key=lambda event: event["t"])
    figure = Figure(figsize=SIZE, layout="constrained")
    FigureCanvasSVG(figure)
    ax = figure.add_subplot()
    peak = _draw_bars(ax, timeline) if timeline else 0
    ends = [row["second"] + 1 for row in timeline] + [event["t"] + 1 for event in events]
    right = max(ends, default=1)
    _draw_events(ax, events, right)
    ax.set_xlim(0, right)
    ax.set_ylim(0, max(peak * 1.3, 1))  # headroom for the event labels
    ax.set_xlabel(XLABEL)
    ax.set_ylabel("requests per second")
    ax.set_title(f"{report['title']} (drill {report['drill']}{_haproxy(report.get('settings', {}))})")
    ax.grid(axis="y", alpha=0.3)
    if timeline:  # below the plot, where no event label reaches
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=6, frameon=False, fontsize=9)
    with _SAVE_LOCK, matplotlib.rc_context(cast(Any, SVG_RC)):
        figure.savefig(path, format="svg", metadata={"Date": None})


def _haproxy(settings: Mapping[str, Any]) -> str:
    """', HAProxy untuned, leastconn' for a drill run with other settings than the design's; '' otherwise."""
    other = [f"HAProxy {settings['haproxy']}" if settings.get("haproxy", "tuned") != "tuned" else "",
             settings.get("balance", "roundrobin") if settings.get("balance", "roundrobin") != "roundrobin" else ""]
    return "".join(f", {said}" for said in other if said)


def node_colours(nodes: Sequence[str]) -> dict[str, str]:
    """A colour per node name, assigned in sorted-name order (the same lab gets the same colours)."""
    return {node: NODE_PALETTE[i % len(NODE_PALETTE)] for i, node in enumerate(sorted(nodes))}


def _draw_bars(ax: Axes, timeline: Sequence[Row]) -> float:
    """Stack successes by node then failures per second, hatch the slow ones; return the tallest stack."""
    seconds = [row["second"] for row in timeline]
    colours = node_colours(sorted({node for row in timeline for node in row.get("by_node", {})}))
    stacks = [(node, colour, [row.get("by_node", {}).get(node, 0) for row in timeline])
              for node, colour in colours.items()]
    stacks.append(("failed reads", FAILED_COLOUR, [row.get("failed_reads", 0) for row in timeline]))
    stacks.append(("failed writes", FAILED_WRITE_COLOUR, [row.get("failed_writes", 0) for row in timeline]))
    bottom = [0.0] * len(timeline)
    for label, colour, counts in stacks:
        ax.bar(seconds, counts, bottom=bottom, color=colour, label=label, **BAR)
        bottom = [b + c for b, c in zip(bottom, counts, strict=False)]
    slow = [row.get("slow", 0) for row in timeline]
    ax.bar(seconds, slow, fill=False, hatch="xxx", edgecolor="black", linewidth=0,
           label="slow (> 1 s)", **BAR)
    return max(bottom)


def _draw_events(ax: Axes, events: Sequence[Row], right: float) -> None:
    """A dashed vertical line per event, with a short label near the top, staggered on three rows; labels
    in the last third of the plot stand left of their line, so none runs off the plot."""
    fault = next((event["t"] for event in events if event["what"] == "fault"), None)
    for i, event in enumerate(events):
        colour = EVENT_COLOURS.get(event["what"], "dimgray")
        ax.axvline(event["t"], color=colour, linestyle="--", linewidth=1.2)
        name = event["detail"].split(" (")[0] if event["what"] in ("alert", "resolved") else ""
        late = event["t"] > right * 2 / 3
        ax.annotate(f"{event['what']} {name} {event_time(event, fault)}".replace("  ", " "), (event["t"], 0.97 - 0.07 * (i % 3)),
                    xycoords=ax.get_xaxis_transform(), xytext=(-3 if late else 3, 0), textcoords="offset points",
                    color=colour, fontsize=8, va="top", ha="right" if late else "left")


def event_time(event: Row, fault: float | None) -> str:
    """An event's label time, counted from the fault as the report counts it ('+0.4 s'); the fault itself
    says when it came on the x axis (since traffic started)."""
    if fault is None:
        return f"{event['t']:.1f} s"
    if event["what"] == "fault":
        return f"at {event['t']:.1f} s"
    return f"{event['t'] - fault:+.1f} s"
