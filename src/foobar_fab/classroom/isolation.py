"""On a cluster, each lab is kept apart by an Incus network ACL on its own network, as the class's firewall
keeps the labs apart on one host: a member routes between the labs it runs, out of this host's sight.

The ACL rejects what a lab's nodes send to the rest of the class's subnet (the other labs, the entry
point's network) and to the cluster's members; everything else goes as without it (the network's
default actions stay "allow"), replies included (Incus's ACLs follow connections).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from dataclasses import dataclass

from ..executors import Outcome
from ..providers.incus.instances import queried, query
from ..providers.incus.layout import incus
from ..steps import SECTION, Plan, Run, Step, StepError, change, ok, sections
from .projects import CLASS_KEY

ACL_SETTINGS = {"security.acls.default.egress.action": "allow", "security.acls.default.ingress.action": "allow"}


def elsewhere(whole: ipaddress.IPv4Network, own: ipaddress.IPv4Network, members: Iterable[str]) -> str:
    """The class's subnet but the lab's own, and the members' addresses, as one ACL destination."""
    blocks = sorted(whole.address_exclude(own)) if own.subnet_of(whole) else [whole]
    return ",".join([str(b) for b in blocks] + [f"{m}/32" for m in sorted(members) if m])


@dataclass
class LabIsolated(Step):
    """The lab's network carries the ACL that rejects the other labs and the members (made or updated first)."""

    acl: str
    network: str
    class_name: str
    destination: str
    name: str = "kept apart"

    def rules(self) -> list[dict[str, str]]:
        return [{"action": "reject", "destination": self.destination, "state": "enabled", "description": "the other labs and the members"}]

    def probe(self) -> str:
        return f"{query(f'/1.0/network-acls/{self.acl}')}; echo {SECTION}; {query(f'/1.0/networks/{self.network}')}"

    def decide(self, probe: Outcome) -> Plan:
        acl_text, network_text = sections(probe.stdout, 2)
        acl, network = queried(acl_text), queried(network_text)
        if network is None:
            raise StepError(f"no Incus network {self.network}: build the lab first")
        if acl is not None and (acl.get("config") or {}).get(CLASS_KEY) != self.class_name:
            raise StepError(f"Incus network ACL {self.acl} was not made by class {self.class_name}: delete it or rename the class")
        wanted = {"security.acls": self.acl, **ACL_SETTINGS}
        config = (network.get("config") or {})
        rules_right = acl is not None and [{k: r.get(k, "") for k in ("action", "destination", "state")} for r in acl.get("egress", [])] == [
            {k: r[k] for k in ("action", "destination", "state")} for r in self.rules()
        ]
        if rules_right and all(config.get(k) == v for k, v in wanted.items()):
            return ok(f"{self.network}: the other labs and the members rejected ({self.acl})")
        body = {"description": f"class {self.class_name}: lab network {self.network} kept apart", "egress": self.rules(), "ingress": [], "config": {CLASS_KEY: self.class_name}}
        actions = [] if acl is not None else [Run(incus("network", "acl", "create", self.acl, f"{CLASS_KEY}={self.class_name}"))]
        actions.append(Run(f"{incus('query', '-X', 'PUT', f'/1.0/network-acls/{self.acl}', '--data', json.dumps(body))} >/dev/null"))
        actions.append(Run(incus("network", "set", self.network, *(f"{k}={v}" for k, v in wanted.items()))))
        return change(f"{self.network}: the other labs and the members rejected ({self.acl})", *actions)


@dataclass
class LabIsolationGone(Step):
    """The lab's ACL is gone (its network first, with the lab)."""

    acl: str
    class_name: str
    name: str = "acl"

    def probe(self) -> str:
        return query(f"/1.0/network-acls/{self.acl}")

    def decide(self, probe: Outcome) -> Plan:
        found = queried(probe.stdout)
        if found is None:
            return ok(f"no network ACL {self.acl}")
        if (found.get("config") or {}).get(CLASS_KEY) != self.class_name:
            return ok(f"network ACL {self.acl} was not made by this class: left alone")
        return change(f"network ACL {self.acl} deleted", Run(incus("network", "acl", "delete", self.acl)))

