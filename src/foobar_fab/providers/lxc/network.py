"""The lab's network on the host: its own bridge, NAT to Debian's mirror, and a resolver (dnsmasq).

Each piece is a step that probes first, and has a twin that removes it, for `invoke destroy`.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass

from ...executors import Outcome
from ...steps import SECTION, Plan, Put, Run, Step, StepError, change, lines, ok, sections
from .layout import LxcLayout


@dataclass
class Bridge(Step):
    """The lab's bridge holds the subnet's gateway address and is up."""

    layout: LxcLayout
    name: str = "bridge"

    def probe(self) -> str:
        return f"ip -j addr show dev {self.layout.bridge} 2>/dev/null || echo '[]'; ip -j route show"

    def decide(self, probe: Outcome) -> Plan:
        bridge, gateway = self.layout.bridge, self.layout.prefix
        found = lines(probe.stdout)
        try:
            link = (json.loads(found[0]) or [None])[0]
            routes = json.loads(found[1]) if len(found) > 1 else []
        except (ValueError, IndexError):
            raise StepError(f"unexpected output of `ip -j`: {probe.stdout[:200]!r}") from None
        self._refuse_overlap(routes)
        if link is None:
            return change(
                f"{bridge} created with {gateway}",
                Run(f"ip link add {bridge} type bridge"),
                Run(f"ip addr add {gateway} dev {bridge}"),
                Run(f"ip link set {bridge} up"),
            )
        addresses = {f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", []) if a.get("family") == "inet"}
        actions: list[Run] = []
        if gateway not in addresses:
            actions.append(Run(f"ip addr replace {gateway} dev {bridge}"))
        if "UP" not in link.get("flags", []):
            actions.append(Run(f"ip link set {bridge} up"))
        if actions:
            return change(f"{bridge} repaired (address {gateway}, up)", *actions)
        return ok(f"{bridge} is up with {gateway}")

    def _refuse_overlap(self, routes: list[dict[str, str]]) -> None:
        subnet = self.layout.lab.subnet
        for route in routes:
            dst, dev = route.get("dst", ""), route.get("dev", "")
            if dst == "default" or dev == self.layout.bridge:
                continue
            try:
                network = ipaddress.IPv4Network(dst, strict=False)
            except ValueError:
                continue
            if network.overlaps(subnet):
                raise StepError(
                    f"the lab's subnet {subnet} overlaps {network} on {dev}: "
                    f"choose another lab.subnet in {self.layout.lab.source}"
                )


MULTICAST = "224.0.0.0/4"


def masquerade_rule(subnet: ipaddress.IPv4Network) -> str:
    """What leaves the lab for elsewhere gets the host's address; multicast is left alone: with bridge
    netfilter on, frames between the nodes pass these hooks too, and VRRP's checksum covers its source."""
    return f"ip saddr {subnet} ip daddr != {{ {subnet}, {MULTICAST} }} masquerade"


@dataclass
class Nat(Step):
    """Nodes reach Debian's mirror through the host: IP forwarding and a masquerade rule of the lab's own."""

    layout: LxcLayout
    name: str = "nat"

    def ruleset(self) -> str:
        table, subnet = self.layout.nft_table, self.layout.lab.subnet
        return (
            f"# Managed by foobar_fab: NAT for lab {self.layout.lab.name}.\n"
            f"table ip {table}\n"
            f"delete table ip {table}\n"
            f"table ip {table} {{\n"
            f"  chain postrouting {{\n"
            f"    type nat hook postrouting priority srcnat; policy accept;\n"
            f"    {masquerade_rule(subnet)}\n"
            f"  }}\n"
            f"}}\n"
        )

    def probe(self) -> str:
        return f"sysctl -n net.ipv4.ip_forward; nft list table ip {self.layout.nft_table} 2>/dev/null || true"

    def decide(self, probe: Outcome) -> Plan:
        found = lines(probe.stdout)
        forwarding = bool(found) and found[0] == "1"
        wanted_rule = masquerade_rule(self.layout.lab.subnet)
        has_rule = wanted_rule in found
        if forwarding and has_rule:
            return ok(f"table {self.layout.nft_table} masquerades {self.layout.lab.subnet}")
        actions: list[Run | Put] = []
        if not has_rule:
            rules = self.layout.folder.nat_rules
            actions += [Put(str(rules), self.ruleset(), "0600"), Run(f"nft -c -f {rules} && nft -f {rules}")]
            # Flows the old rules translated keep their translation while packets flow: forget them.
            actions.append(Run(f"conntrack -D -s {self.layout.lab.subnet} -d {MULTICAST} >/dev/null 2>&1 || true"))
        if not forwarding:
            note = self.layout.forward_note
            actions.append(Run(f"sysctl -qw net.ipv4.ip_forward=1 && touch {note}"))
        return change(f"masquerade for {self.layout.lab.subnet} in table {self.layout.nft_table}", *actions)


@dataclass
class Resolver(Step):
    """dnsmasq answers DNS for the nodes on the bridge's address, forwarding to the host's resolver."""

    layout: LxcLayout
    name: str = "resolver"

    def probe(self) -> str:
        return _dnsmasq_probe(self.layout)

    def decide(self, probe: Outcome) -> Plan:
        if _dnsmasq_running(probe):
            return ok(f"dnsmasq answers on {self.layout.lab.gateway}")
        pid = self.layout.dnsmasq_pid
        command = (
            f"dnsmasq --conf-file=/dev/null --interface={self.layout.bridge} --bind-interfaces "
            f"--except-interface=lo --listen-address={self.layout.lab.gateway} --no-hosts "
            f"--cache-size=1000 --pid-file={pid}"
        )
        return change(f"dnsmasq started on {self.layout.lab.gateway}", Run(f"rm -f {pid} && {command}"))


def _dnsmasq_probe(layout: LxcLayout) -> str:
    """The lab's dnsmasq is found by its command line, so a lost state folder does not orphan it."""
    return f"pgrep -f -- '^dnsmasq .*--interface={layout.bridge} ' || true"


def _dnsmasq_running(probe: Outcome) -> bool:
    return bool(lines(probe.stdout))


@dataclass
class ResolverGone(Step):
    """The lab's dnsmasq is stopped."""

    layout: LxcLayout
    name: str = "resolver"

    def probe(self) -> str:
        return _dnsmasq_probe(self.layout)

    def decide(self, probe: Outcome) -> Plan:
        if not _dnsmasq_running(probe):
            return ok("no dnsmasq of this lab")
        pids = " ".join(lines(probe.stdout))
        return change("dnsmasq stopped", Run(f"kill {pids} && rm -f {self.layout.dnsmasq_pid}"))


def other_labs(tables: list[str], layout: LxcLayout) -> list[str]:
    """The other labs' firewall tables among `nft list tables ip` lines: while any is left, the host's settings stay."""
    return [t for t in tables if t.startswith("table ip foobar_fab_") and t != f"table ip {layout.nft_table}"]


@dataclass
class NatGone(Step):
    """The lab's firewall table is gone; forwarding is off again if the lab turned it on."""

    layout: LxcLayout
    name: str = "nat"

    def probe(self) -> str:
        note = self.layout.forward_note
        return f"nft list tables ip; test -f {note} && echo forward-note; true"

    def decide(self, probe: Outcome) -> Plan:
        found = lines(probe.stdout)
        table = self.layout.nft_table
        actions = []
        if f"table ip {table}" in found:
            actions.append(Run(f"nft delete table ip {table}"))
        others = other_labs(found, self.layout)
        if "forward-note" in found and not others:
            actions.append(Run(f"sysctl -qw net.ipv4.ip_forward=0 && rm -f {self.layout.forward_note}"))
        if not actions:
            return ok(f"no table {table}")
        return change(f"table {table} removed", *actions)


@dataclass
class BridgeGone(Step):
    """The lab's bridge is gone."""

    layout: LxcLayout
    name: str = "bridge"

    def probe(self) -> str:
        return f"test -e /sys/class/net/{self.layout.bridge} && echo present; true"

    def decide(self, probe: Outcome) -> Plan:
        if "present" not in probe.stdout:
            return ok(f"no bridge {self.layout.bridge}")
        return change(f"{self.layout.bridge} removed", Run(f"ip link delete {self.layout.bridge}"))


INOTIFY = "fs.inotify.max_user_instances"
INOTIFY_WANTED = 1024  # systemd in every container takes several; the kernel's default, 128, runs out near twenty


@dataclass
class InotifyLimit(Step):
    """Enough inotify instances for every container's systemd; the host's own value is kept to be put back."""

    layout: LxcLayout
    name: str = "inotify instances"

    @property
    def note(self) -> str:
        return str(self.layout.cache_dir / "inotify-instances.was")

    def probe(self) -> str:
        return f"sysctl -n {INOTIFY}"

    def decide(self, probe: Outcome) -> Plan:
        found = lines(probe.stdout)
        if not found or not found[0].isdigit():
            raise StepError(f"cannot read {INOTIFY}: {probe.stdout!r}")
        if int(found[0]) >= INOTIFY_WANTED:
            return ok(f"{INOTIFY} = {found[0]}")
        return change(
            f"{INOTIFY} raised from {found[0]} to {INOTIFY_WANTED} (put back when the last lab goes)",
            Run(f"mkdir -p {self.layout.cache_dir} && test -f {self.note} || echo {found[0]} > {self.note}"),
            Run(f"sysctl -qw {INOTIFY}={INOTIFY_WANTED}"),
        )


@dataclass
class InotifyLimitGone(Step):
    """The host's own inotify limit is back once no lab of this project is left."""

    layout: LxcLayout
    name: str = "inotify instances"

    def probe(self) -> str:
        return f"cat {InotifyLimit(self.layout).note} 2>/dev/null; echo {SECTION}; nft list tables ip"

    def decide(self, probe: Outcome) -> Plan:
        was, tables = sections(probe.stdout, 2)
        others = other_labs(lines(tables), self.layout)
        if not was.strip().isdigit() or others:
            return ok("left as it is" + (" (other labs run)" if others and was.strip() else ""))
        return change(f"{INOTIFY} put back to {was.strip()}", Run(f"sysctl -qw {INOTIFY}={was.strip()} && rm -f {InotifyLimit(self.layout).note}"))
