"""The lab's Incus network and instances: each probed with `incus query`, made or removed with the CLI."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from ...executors import Outcome
from ...resources.packages import PACKAGE_CACHE
from ...steps import SECTION, Plan, Put, Run, Step, StepError, change, ok, sections
from ...topology import NodeSpec
from ..lxc.containers import CREATED, Booted, KnownHosts
from ..lxc.layout import mac_address
from .layout import DEFAULT_PROJECT, LAB_KEY, POOL, IncusLayout, IncusPlace, incus


def queried(text: str) -> dict[str, Any] | None:
    """An `incus query` answer as a dict, None when it said nothing (the object does not exist)."""
    if not text.strip():
        return None
    try:
        found = json.loads(text)
    except ValueError:
        raise StepError(f"unexpected answer of `incus query`: {text[:200]!r}") from None
    if not isinstance(found, dict):
        raise StepError(f"unexpected answer of `incus query`: {text[:200]!r}")
    return found


def query(path: str) -> str:
    """A probe printing an Incus object as JSON, or nothing when it does not exist."""
    return f"{incus('query', path)} 2>/dev/null; true"


def network_config(layout: IncusLayout) -> dict[str, str]:
    """The lab's network: its subnet's gateway on the bridge, Incus's dnsmasq for DNS only (the nodes'
    addresses are static), no IPv6. NAT is the lab's own firewall table, as on LXC: Incus's masquerade
    rule would rewrite the source of multicast between the nodes too (the host's bridges pass netfilter),
    and VRRP between two balancers would fail."""
    return {
        "ipv4.address": layout.files.prefix,
        "ipv4.nat": "false",
        "ipv4.dhcp": "false",
        "ipv6.address": "none",
        LAB_KEY: layout.lab_name,
    }


@dataclass
class Network(Step):
    """The lab's Incus network exists, made by this lab, with the lab's subnet."""

    layout: IncusLayout
    members: tuple[str, ...] = ()  # on a cluster: the network is defined on each member first
    name: str = "network"

    def probe(self) -> str:
        net = self.layout.network
        here = "" if self.members else f"test -e /sys/class/net/{net} && echo present; "
        return f"{query(f'/1.0/networks/{net}')}; echo {SECTION}; {here}true"

    def decide(self, probe: Outcome) -> Plan:
        answer, present = sections(probe.stdout, 2)
        found, net, wanted = queried(answer), self.layout.network, network_config(self.layout)
        if found is None or not found.get("managed"):
            if present.strip():
                raise StepError(
                    f"the host already has an interface {net} that Incus does not manage (the lab on another provider?): "
                    f"destroy that lab first (`invoke destroy --provider lxc`) or rename the lab"
                )
            pending = [Run(incus("network", "create", net, "--target", member)) for member in self.members if found is None]
            return change(
                f"{net} created with {wanted['ipv4.address']}" + (f" (on {', '.join(self.members)})" if self.members else ""),
                *pending,
                Run(incus("network", "create", net, *(f"{k}={v}" for k, v in wanted.items()))),
            )
        config = (found.get("config") or {})
        if config.get(LAB_KEY) != self.layout.lab_name:
            raise StepError(f"Incus network {net} was not made by lab {self.layout.lab_name}: delete it or rename the lab")
        differ = {k: v for k, v in wanted.items() if config.get(k) != v}
        if differ:
            return change(f"{net} set to {', '.join(f'{k}={v}' for k, v in differ.items())}", Run(incus("network", "set", net, *(f"{k}={v}" for k, v in differ.items()))))
        return ok(f"{net} has {wanted['ipv4.address']}")


@dataclass
class NetworkGone(Step):
    """The lab's Incus network is gone (its bridge, dnsmasq and firewall rules with it)."""

    layout: IncusLayout
    name: str = "network"

    def probe(self) -> str:
        return query(f"/1.0/networks/{self.layout.network}")

    def decide(self, probe: Outcome) -> Plan:
        found, net = queried(probe.stdout), self.layout.network
        if found is None or not found.get("managed"):
            return ok(f"no Incus network {net}")
        if (found.get("config") or {}).get(LAB_KEY) != self.layout.lab_name:
            return ok(f"{net} was not made by this lab: left alone")
        return change(f"{net} deleted", Run(incus("network", "delete", net)))


@dataclass
class Instance(Step):
    """The node's instance exists, made by this lab from `image`, with this lab's key and the node's address."""

    layout: IncusLayout
    node: NodeSpec
    public_key: str
    image: str | None = None  # the alias a new instance is made from
    name: str = "instance"

    @property
    def instance(self) -> str:
        return self.layout.instance(self.node.name)

    def probe(self) -> str:
        pull = self.layout.cli("file", "pull", f"{self.instance}/root/.ssh/authorized_keys", "-")
        return f"{query(self.layout.api(f'/1.0/instances/{self.instance}'))}; echo {SECTION}; {pull} 2>/dev/null; true"

    def why_made(self, probe: Outcome) -> str | None:
        """Why the instance is made anew (CREATED, or why the one there is replaced), None when it is kept."""
        answer, key = sections(probe.stdout, 2)
        found = queried(answer)
        if found is None:
            return CREATED
        if (found.get("config") or {}).get(LAB_KEY) != self.layout.lab_name:
            raise StepError(f"Incus instance {self.instance} was not made by this lab: delete it or rename the lab")
        if key.strip() != self.public_key.strip():
            return "it does not hold this lab's SSH key"
        return None

    def decide(self, probe: Outcome) -> Plan:
        why = self.why_made(probe)
        if why == CREATED:
            return change(f"{self.instance} created from image {self.image}", *self.create())
        if why is not None:
            return change(f"{self.instance} replaced: {why}", Run(self.layout.cli("delete", "--force", self.instance)), *self.create())
        found = queried(sections(probe.stdout, 2)[0]) or {}
        config, nic = (found.get("config") or {}), (found.get("devices") or {}).get("eth0", {})
        raw = self.layout.raw_lxc(self.node)
        if config.get("raw.lxc") != raw or nic.get("network") != self.layout.network:
            return change(
                f"{self.instance} address and network updated (stopped to apply them)",
                Run(self.layout.cli("stop", "--force", self.instance) + " 2>/dev/null || true"),
                Run(self.layout.cli("config", "set", self.instance, f"raw.lxc={raw}")),
                Run(self.layout.cli("config", "device", "set", self.instance, "eth0", f"network={self.layout.network}")),
            )
        return ok(f"{self.instance} exists")

    def package_cache(self) -> list[Run]:
        """The host's package cache, shared with the node; not in a class's restricted project, which may not
        mount a host folder with ids shifted (a node there fetches what its role image lacks from the mirror)."""
        if self.layout.place.project != DEFAULT_PROJECT:
            return []
        cache = self.layout.files.package_cache
        return [Run(self.layout.cli("config", "device", "add", self.instance, "packages", "disk", f"source={cache}", f"path={PACKAGE_CACHE}", "shift=true"))]

    def create(self) -> list[Run | Put]:
        """Make the instance stopped, then push the node's identity into it before its first boot."""
        if self.image is None:
            raise StepError(f"no image was chosen for {self.instance}")
        node, lab = self.node.name, self.layout.files.lab
        stage = self.layout.staging / node
        host_key = stage / "ssh_host_ed25519_key"
        pushes = [
            ("machine-id", "/etc/machine-id", "0444"),
            ("resolv.conf", "/etc/resolv.conf", "0644"),
            ("hostname", "/etc/hostname", "0644"),
            ("authorized_keys", "/root/.ssh/authorized_keys", "0600"),
            ("ssh_host_ed25519_key", "/etc/ssh/ssh_host_ed25519_key", "0600"),
            ("ssh_host_ed25519_key.pub", "/etc/ssh/ssh_host_ed25519_key.pub", "0644"),
        ]
        push = " && ".join(
            self.layout.cli("file", "push", "--create-dirs", "--mode", mode, str(stage / local), f"{self.instance}{remote}")
            for local, remote, mode in pushes
        )
        place = self.layout.place
        limits = [*(["--target", place.member] if place.member else []), *(["--config", f"limits.memory={place.memory}"] if place.memory else [])]
        return [
            Run(f"rm -rf {stage} && mkdir -p -m 0700 {stage}"),
            Put(str(stage / "machine-id"), uuid.uuid4().hex + "\n", "0444"),
            Put(str(stage / "resolv.conf"), f"nameserver {lab.gateway}\n"),
            Put(str(stage / "hostname"), f"{node}\n"),
            Put(str(stage / "authorized_keys"), self.public_key.strip() + "\n", "0600"),
            Run(f"ssh-keygen -q -t ed25519 -N '' -C root@{node} -f {host_key}"),
            Run(self.layout.cli(
                "init", self.image, self.instance, "--no-profiles", "--storage", POOL,
                "--config", f"{LAB_KEY}={lab.name}", "--config", f"raw.lxc={self.layout.raw_lxc(self.node)}", *limits,
            )),
            Run(self.layout.cli("config", "device", "add", self.instance, "eth0", "nic", f"network={self.layout.network}", "name=eth0", f"hwaddr={mac_address(lab.name, node)}")),
            *self.package_cache(),
            Run(push),
            Run(f"rm -rf {stage}"),
        ]


def instance_state(stdout: str) -> str | None:
    """The instance's status from `incus query .../state` (Running, Stopped...), None when it does not exist."""
    found = queried(stdout)
    return None if found is None else str(found.get("status", "unknown"))


@dataclass
class Running(Step):
    """The node's instance is running (a stopped one, left by a power cut or a killed run, is started)."""

    layout: IncusLayout
    node: str
    name: str = "running"

    def probe(self) -> str:
        return query(self.layout.api(f"/1.0/instances/{self.layout.instance(self.node)}/state"))

    def decide(self, probe: Outcome) -> Plan:
        state, instance = instance_state(probe.stdout), self.layout.instance(self.node)
        if state is None:
            raise StepError(f"Incus instance {instance} does not exist")
        if state == "Running":
            return ok("instance is running")
        return change(f"started (was {state.lower()})", Run(self.layout.cli("start", instance)))


@dataclass
class IncusBooted(Booted):
    """systemd inside the instance reports 'running' (reached with `incus exec`)."""

    place: IncusPlace = field(default_factory=IncusPlace)

    def inside(self, *words: str) -> str:
        return incus(*self.place.words(), "exec", self.layout.container(self.node), "--", *words)


@dataclass
class IncusKnownHosts(KnownHosts):
    """The lab's known_hosts lists each node's host key, read from its instance."""

    place: IncusPlace = field(default_factory=IncusPlace)

    def host_key(self, node: str) -> str:
        return f"{incus(*self.place.words(), 'file', 'pull', f'{self.layout.container(node)}/etc/ssh/ssh_host_ed25519_key.pub', '-')} 2>/dev/null"


@dataclass
class InstanceGone(Step):
    """The node's instance is gone, if this lab made it; anything else is left alone."""

    layout: IncusLayout
    node: str
    why: str = ""
    name: str = "instance"

    def probe(self) -> str:
        return query(self.layout.api(f"/1.0/instances/{self.layout.instance(self.node)}"))

    def decide(self, probe: Outcome) -> Plan:
        found, instance = queried(probe.stdout), self.layout.instance(self.node)
        if found is None:
            return ok(f"no instance {instance}")
        if (found.get("config") or {}).get(LAB_KEY) != self.layout.lab_name:
            return ok(f"{instance} was not made by this lab: left alone")
        return change(f"{instance} deleted" + (f" ({self.why})" if self.why else ""), Run(self.layout.cli("delete", "--force", instance)))
