"""The one base of every error a user can act on: the tasks print its message as one line and exit non-zero.

It sits at the bottom of the package, so any module can raise an error of its own kind without
importing a higher one (a provider, a drill) for its error class.
"""

from __future__ import annotations


class LabError(Exception):
    """Something the user can put right; the message is one line: what is wrong and what to do."""
