"""What an exercise is, as one record: the fault, its symptom, its hints, its cause and its fix.

Texts (the report, the hints, the causes) are templates filled with the exercise's details: what its
seed chose (which node, which port, which file) and the lab's own names and addresses.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass

from ..constants import APP_PORT, HEALTH_PATH, HTTP_PORT, HTTPS_PORT, STATS_PORT
from ..live import LiveLab
from ..roles.record import always
from ..roles.web import serves_tls
from ..settings import PROJECT_ROOT
from ..topology import Lab
from .faults import Details
from .symptoms import Probe

Choose = Callable[[Lab, random.Random], Details]
#: Something done on the lab; a dict it returns holds details learned on the way (kept for the fix).
Action = Callable[[LiveLab, Details], object]


def no_action(live: LiveLab, details: Details) -> None:
    """Nothing to do."""


def learned(result: object) -> Details:
    """The details an action learned, if it returned any."""
    return {str(k): str(v) for k, v in result.items()} if isinstance(result, dict) else {}


@dataclass(frozen=True)
class Exercise:
    """One break-fix exercise."""

    name: str
    level: int  # 1: one layer, the symptom points at it; 2: a layer away from the symptom; 3: a chain of causes
    layer: str
    symptom: str  # for `exercise.list`: what a user would report, on any node
    report: str  # what `exercise.start` prints: the symptom with its details
    choose: Choose  # the seed's choices
    inject: Action
    fix: Action  # the reference fix, as a person would make it (`exercise.solve`)
    gone: Probe  # passes once the symptom is gone
    hints: tuple[str, ...]  # in order; the last one is the solution
    causes: tuple[str, ...]  # the answers accepted (NODE:COMPONENT, or none); the first is the one taught
    designs: str = "any"  # which designs it runs on, for people
    applies: Callable[[Lab], bool] = always
    teardown: Action = no_action  # takes away what the exercise set up around its fault, once it ends
    shows: bool = True  # False: there is no symptom to wait for after the start


def common(lab: Lab, state_dir: str) -> Details:
    """The lab's names and addresses that every exercise's texts may use."""
    balancer = lab.balancers[0]
    if lab.has("https"):
        curl = f"curl -s --cacert {state_dir}/tls/ca.pem --resolve {lab.domain}:443:{lab.entry_address} https://{lab.domain}"
    else:
        curl = f"curl -s -H 'Host: {lab.domain}' http://{lab.entry_address}"
    return {
        "lab": lab.name,
        "domain": lab.domain,
        "entry": str(lab.entry_address),
        "lb": balancer.name,
        "lb_address": str(balancer.address),
        "stats": f"http://{balancer.address}:{STATS_PORT}/",
        "primary": lab.primary.name,
        "primary_address": str(lab.primary.address),
        "app_port": str(APP_PORT),
        "web_port": str(HTTPS_PORT if serves_tls(lab) else HTTP_PORT),  # where the load balancers send to the web servers
        "health": HEALTH_PATH,
        "curl": curl,
        "state": state_dir,
    }


def shown_path(path: str) -> str:
    """A path as the checkout's user types it: relative to the checkout where it lies inside."""
    relative = os.path.relpath(path, PROJECT_ROOT)
    return path if relative.startswith("..") else relative


def fill(text: str, details: Details) -> str:
    return text.format(**details)
