"""Commands run with no network at all: in a network namespace of their own with only loopback.

How the offline rebuild is measured (`invoke bench.build`) and tested: nothing run this way reaches
Debian's mirror, or any address outside the namespace. The lab it builds has its bridge, NAT and
resolver inside the namespace, so it must be destroyed there too. `ip netns exec` would remount
/sys and hide the host's cgroups from LXC; instead only the network namespace is entered, and the
namespace's own view of /sys/class/net is mounted over the host's.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

#: Inside a private mount namespace: /sys/class/net (and the devices it links to) as this network namespace sees them.
OWN_SYSFS = (
    'view=$(mktemp -d) && mount -t sysfs sysfs "$view" && '
    'mount --bind "$view/class/net" /sys/class/net && mount --bind "$view/devices/virtual/net" /sys/devices/virtual/net && '
    'exec "$@"'
)


@contextmanager
def without_network(name: str) -> Iterator[list[str]]:
    """A network namespace with nothing but loopback; yields the command prefix that runs a command in it."""
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True, capture_output=True)
        yield ["nsenter", f"--net=/var/run/netns/{name}", "unshare", "--mount", "--propagation", "private", "sh", "-c", OWN_SYSFS, "no-network"]
    finally:
        subprocess.run(["ip", "netns", "delete", name], capture_output=True)
