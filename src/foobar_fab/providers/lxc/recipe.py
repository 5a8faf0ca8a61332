"""What goes into the base image; its checksum names the image, so a changed recipe makes a new one."""

from __future__ import annotations

import hashlib

DEBIAN_SUITE = "bookworm"

#: What every node needs before Fabric can reach it; the roles install the rest.
BASE_PACKAGES = ("systemd-sysv", "openssh-server", "ca-certificates")

SSHD_CONFIG = """\
# Managed by foobar_fab: key logins only; each node gets its own host key when it is created.
HostKey /etc/ssh/ssh_host_ed25519_key
PasswordAuthentication no
PermitRootLogin prohibit-password
UseDNS no
"""

DPKG_CONFIG = """\
# Managed by foobar_fab: no fsync per file while installing (a lab node, not a production server),
# and no documentation, which nobody reads inside a container.
force-unsafe-io
path-exclude=/usr/share/doc/*
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
"""

APT_CONFIG = """\
# Managed by foobar_fab: small, quick installs on lab nodes.
APT::Install-Recommends "false";
Acquire::Languages "none";
"""


def sources_list(mirror: str) -> str:
    security = mirror.rstrip("/") + "-security"
    return (
        f"deb {mirror} {DEBIAN_SUITE} main\n"
        f"deb {mirror} {DEBIAN_SUITE}-updates main\n"
        f"deb {security} {DEBIAN_SUITE}-security main\n"
    )


def recipe_id(mirror: str) -> str:
    """A short checksum of everything that shapes the base image."""
    recipe = "\0".join([DEBIAN_SUITE, ",".join(BASE_PACKAGES), SSHD_CONFIG, DPKG_CONFIG, APT_CONFIG, sources_list(mirror)])
    return hashlib.sha256(recipe.encode()).hexdigest()[:8]
