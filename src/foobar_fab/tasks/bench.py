"""Benchmarks that print figures: how long builds take and what the idle lab costs in memory."""

from __future__ import annotations

from invoke import Context, task

from .. import benchmarks
from .common import friendly, settings


@task(
    help={
        "lab-name": "the benchmark's own lab name (a user's lab is left alone)",
        "subnet": "the benchmark lab's subnet",
        "cold": "also time a cold build, with an empty base-image cache of its own (adds about a minute)",
    }
)
@friendly
def build(c: Context, lab_name: str = "fbbench", subnet: str = "10.181.56.0/24", cold: bool = True) -> None:
    """Time cold, warm and repeated builds and measure the idle nodes' memory."""
    benchmarks.build_benchmark(settings(c), lab_name, subnet, cold=cold)


@task(
    help={
        "seconds": "how long each wrk run lasts",
        "connections": "wrk's open connections",
        "writes": "how many writes time the replication delay",
    }
)
@friendly
def site(c: Context, seconds: int = 10, connections: int = 16, writes: int = 50) -> None:
    """Requests per second through lb-01 and straight to one web node, and the replication delay."""
    benchmarks.site_benchmark(settings(c), seconds, connections, writes)
