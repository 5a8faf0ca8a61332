"""The incus provider: the lab's nodes as Incus system containers on an Incus network of the lab's own."""

from .layout import IncusLayout, IncusPlace
from .provider import IncusProvider

__all__ = ["IncusLayout", "IncusPlace", "IncusProvider"]
