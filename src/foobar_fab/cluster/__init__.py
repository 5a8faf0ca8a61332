"""More than one machine: which Incus a class talks to, and a test cluster of nested members on one host."""

from .layout import ClusterLayout
from .membership import LostForgotten, MemberState, members, placement
from .target import IncusTarget
from .testcluster import TestCluster

__all__ = ["ClusterLayout", "IncusTarget", "LostForgotten", "MemberState", "TestCluster", "members", "placement"]
