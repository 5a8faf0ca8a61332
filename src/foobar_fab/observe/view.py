"""What a role's checks read of a running lab: the design, the site, shells, databases, HAProxy's
statistics and Prometheus. `live.LiveLab` is one; the checks need nothing else of the session."""

from __future__ import annotations

from typing import Protocol

from ..topology import Lab, NodeSpec
from .databases import Databases
from .haproxy import HaproxyStats
from .prometheus import Prometheus
from .shell import NodeShells
from .site import Site


class LabView(Protocol):
    """A running lab as its checks see it, for the length of one command."""

    @property
    def lab(self) -> Lab: ...

    @property
    def shells(self) -> NodeShells: ...

    @property
    def site(self) -> Site: ...

    @property
    def databases(self) -> Databases: ...

    @property
    def marker(self) -> str:
        """A text of this run's own, in the message a check posts and then looks for."""
        ...

    def stats(self, balancer: NodeSpec) -> HaproxyStats: ...

    def prometheus(self, monitor: NodeSpec) -> Prometheus: ...
