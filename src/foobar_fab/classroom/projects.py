"""Each student's Incus project: restricted, with the limits of the class, allowed the student's own network.

A project has profiles of its own (a restricted one must; the nodes use none) and shares the default
project's images (features.images=false) and networks (features.networks=false:
a project with networks of its own could only make OVN networks); its lab's bridge lives in the default
project and is the one network the project may use (restricted.networks.access). The nodes' static
addresses are set with raw.lxc, a low-level setting the restrictions would forbid, so that one is allowed;
no host folder is mounted into them (the nodes start from role images that hold their packages).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..executors import Outcome
from ..providers.incus.instances import queried, query
from ..providers.incus.layout import incus
from ..steps import Plan, Run, Step, StepError, change, ok

CLASS_KEY = "user.foobar_fab.class"  # on every project a class makes: whose it is
FEATURES = {"features.images": "false", "features.profiles": "true", "features.storage.volumes": "false", "features.networks": "false"}


def memory_bytes(size: str) -> int:
    """512MiB -> 536870912; the class file allows MiB and GiB only."""
    number, unit = int(size[:-3]), size[-3:]
    return number * (1024**2 if unit == "MiB" else 1024**3)


def project_config(class_name: str, network: str, nodes: int, memory: str) -> dict[str, str]:
    """A student's project: restricted to their lab's network, to as many instances as the design has nodes,
    and to that many times each node's memory."""
    total = memory_bytes(memory) * nodes // 1024**2
    return {
        CLASS_KEY: class_name,
        "restricted": "true",
        "restricted.networks.access": network,
        "restricted.containers.lowlevel": "allow",
        "limits.instances": str(nodes),
        "limits.memory": f"{total}MiB",
    }


@dataclass
class Project(Step):
    """The project exists, made by this class, with `config` (its features set once, when it is made)."""

    project: str
    class_name: str
    config: dict[str, str]
    name: str = "project"

    def probe(self) -> str:
        return query(f"/1.0/projects/{self.project}")

    def decide(self, probe: Outcome) -> Plan:
        found = queried(probe.stdout)
        if found is None:
            flags = [word for k, v in {**FEATURES, **self.config}.items() for word in ("--config", f"{k}={v}")]
            return change(f"project {self.project} created", Run(incus("project", "create", self.project, *flags)))
        config = (found.get("config") or {})
        if config.get(CLASS_KEY) != self.class_name:
            raise StepError(f"Incus project {self.project} was not made by class {self.class_name}: delete it or rename the class")
        differ = {k: v for k, v in self.config.items() if config.get(k) != v}
        if differ:
            return change(f"project {self.project} set to {', '.join(f'{k}={v}' for k, v in differ.items())}", Run(incus("project", "set", self.project, *(f"{k}={v}" for k, v in differ.items()))))
        return ok(f"project {self.project} as the class wants it")


@dataclass
class ProjectGone(Step):
    """The project is gone once it is empty, if this class made it."""

    project: str
    class_name: str
    name: str = "project"

    def probe(self) -> str:
        return query(f"/1.0/projects/{self.project}")

    def decide(self, probe: Outcome) -> Plan:
        found = queried(probe.stdout)
        if found is None:
            return ok(f"no project {self.project}")
        if (found.get("config") or {}).get(CLASS_KEY) != self.class_name:
            return ok(f"project {self.project} was not made by this class: left alone")
        return change(f"project {self.project} deleted", Run(incus("project", "delete", self.project)))

