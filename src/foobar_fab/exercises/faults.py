"""How an exercise changes a node: the edits and commands a person would make, run without being shown.

Nothing here prints the commands it runs: what was changed is the exercise's answer.
"""

from __future__ import annotations

import ipaddress
import random
import shlex

from ..live import LiveLab
from ..observe.shell import NodeUnreachable
from ..resources.mariadb import sql
from ..topology import Lab

Details = dict[str, str]


def on(live: LiveLab, node: str, command: str, timeout: float = 60.0) -> str:
    """Run a command on a node, unseen; its output, or NodeUnreachable when it fails."""
    return live.shells.must(node, command, kind="run", timeout=timeout, show=False)


def query(live: LiveLab, node: str, statement: str) -> str:
    """One SQL statement as the node's root (the local socket), its first value."""
    return on(live, node, sql(statement)).strip().split("\t")[0]


def literal(text: str) -> str:
    """Text as a sed pattern matches it (dots are not wildcards)."""
    return text.replace(".", r"\.")


def sed(path: str, *expressions: str) -> str:
    """Edit a file in place, as a person with sed would."""
    return "sed -i " + " ".join(f"-e {shlex.quote(e)}" for e in expressions) + f" {path}"


def put(path: str, content: str, mode: str = "0644") -> str:
    """Write a whole file."""
    return f"umask 077 && printf %s {shlex.quote(content)} > {path} && chmod {mode} {path}"


def reboot(live: LiveLab, node: str) -> None:
    """Cut the node's power and start it again; the next command reaches it on a new connection."""
    live.session.provider.stop_hard(node)
    live.session.provider.start(node)
    try:
        live.shells.run(node, "true", show=False)
    except NodeUnreachable:  # the connection from before the power cut: dropped, the next one is new
        pass


def unused_address(lab: Lab, near: ipaddress.IPv4Address, rng: random.Random) -> str:
    """An address of the lab's subnet that nothing has, one typo away from `near` (.11 -> .111, .21...)."""
    last = int(near) & 0xFF
    taken = {lab.gateway, *lab.addresses}
    candidates = []
    for octet in (last * 10 + last % 10, last + 10, last + 100, last + 1, 200 + last % 50):
        address = ipaddress.IPv4Address((int(near) & ~0xFF) | (octet & 0xFF))
        if 1 < octet < 255 and address in lab.subnet and address not in taken:
            candidates.append(address)
    return str(rng.choice(candidates))
