"""What a student names as the cause: a node and a component (`web-02:nginx`), or `none`.

Components are named as a sysadmin would; a few other usual names are accepted for each.
"""

from __future__ import annotations

from ..errors import LabError
from ..topology import Lab

NONE = "none"

#: Each component a cause may name, and the other names accepted for it.
COMPONENTS: dict[str, tuple[str, ...]] = {
    "haproxy": ("load-balancer", "loadbalancer"),
    "keepalived": ("vrrp",),
    "nginx": ("web",),
    "app": ("gunicorn", "foobar-app", "application"),
    "mariadb": ("mysql", "mysqld", "database", "db", "replication"),
    "firewall": ("nftables", "nft"),
    "hosts": ("/etc/hosts", "dns", "resolver", "name-resolution"),
    "disk": ("filesystem", "storage", "volume", "space"),
    "certificate": ("cert", "tls", "ssl"),
    "monitoring": ("prometheus", "alerting", "alerts", "alert-rules"),
}


class CauseError(LabError):
    """The cause is not written as NODE:COMPONENT of this design; the message says how to write it."""


def usage(lab: Lab) -> str:
    """How a cause is written, for this design."""
    return f"NODE:COMPONENT (nodes: {', '.join(n.name for n in lab.nodes)}; components: {', '.join(COMPONENTS)}), or {NONE} when nothing is wrong"


def component(name: str) -> str | None:
    """The component's own name for any name accepted for it."""
    wanted = name.strip().lower()
    for known, others in COMPONENTS.items():
        if wanted == known or wanted in others:
            return known
    return None


def parse(text: str, lab: Lab) -> str:
    """The cause in its canonical form (`web-02:nginx`, or `none`); CauseError when it cannot be one."""
    text = text.strip().lower()
    if text == NONE:
        return NONE
    node, sep, part = text.partition(":")
    if not sep:
        raise CauseError(f"name the cause as {usage(lab)}")
    if not lab.has_node(node):
        raise CauseError(f"{node!r} is no node of this design ({', '.join(n.name for n in lab.nodes)})")
    known = component(part)
    if known is None:
        raise CauseError(f"{part!r} is no component the grader knows ({', '.join(COMPONENTS)})")
    return f"{node}:{known}"
