"""Who holds the floating address: asked on each load balancer (its own `ip address`), over SSH."""

from __future__ import annotations

from ..topology import Lab, NodeSpec
from .shell import NodeShells, NodeUnreachable


def holds(shells: NodeShells, balancer: NodeSpec, address: str, timeout: float = 5.0, show: bool = True) -> bool | None:
    """Whether the balancer holds the address now; None when it cannot be asked (a node without power)."""
    try:
        shown = shells.run(balancer.name, f"ip -o -4 addr show to {address}/32", kind="check", timeout=timeout, show=show).stdout
    except NodeUnreachable:
        return None
    return address in shown


def holders(shells: NodeShells, lab: Lab) -> list[str]:
    """The balancers that hold the floating address now."""
    address = str(lab.floating_address)
    return [b.name for b in lab.balancers if holds(shells, b, address)]
