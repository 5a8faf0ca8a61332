"""More than one machine: which Incus a class talks to, and a test cluster of nested members on one host."""

from .layout import ClusterLayout
from .membership import LostForgotten, MemberState, member_states, placement
from .nested import NestedCluster
from .routes import LabRoute, LabRouteGone
from .target import IncusTarget, TargetExecutor

__all__ = ["ClusterLayout", "IncusTarget", "LabRoute", "LabRouteGone", "LostForgotten", "MemberState", "NestedCluster", "TargetExecutor", "member_states", "placement"]
