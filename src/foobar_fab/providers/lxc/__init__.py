"""The LXC provider: the lab's nodes as system containers on this host."""

from .layout import LxcLayout
from .provider import LxcProvider

__all__ = ["LxcLayout", "LxcProvider"]
