"""Whether Debian's mirror answers from this host: asked only when something has to be downloaded.

A build that needs the network and has none stops at once with one line saying so, instead of
waiting on apt's or debootstrap's retries.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ...steps import lines

TIMEOUT = 3
REACHABLE = "mirror reachable"
UNREACHABLE = "mirror unreachable"


def reach_probe(mirror: str) -> str:
    """A bash command that says whether a TCP connection to the mirror opens within a few seconds."""
    url = urlsplit(mirror)
    if url.scheme not in ("http", "https") or not url.hostname:
        return f"echo '{REACHABLE}'"  # a mirror on this host (file:) needs no network
    port = url.port or (443 if url.scheme == "https" else 80)
    connect = f"exec 3<>/dev/tcp/{url.hostname}/{port}"
    return f"timeout {TIMEOUT} bash -c '{connect}' 2>&1 && echo '{REACHABLE}' || echo '{UNREACHABLE}'"


def unreachable(output: str, mirror: str) -> str | None:
    """Why the mirror cannot be reached, from reach_probe's output; None when it can."""
    found = lines(output)
    if found and found[-1] == REACHABLE:
        return None
    detail = found[0].removeprefix("bash: ").removeprefix("line 1: ") if len(found) > 1 else f"no answer within {TIMEOUT} s"
    return f"the Debian mirror {mirror} cannot be reached from this host ({detail})"
