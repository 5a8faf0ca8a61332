"""Changing the primary, without a lab: the design after a promotion, the recorded state, the errant
transactions that keep a former primary from rejoining, and the design rule of semi-sync."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from foobar_fab import dbstate, design
from foobar_fab.promotion import PromotionError, errant, rebuild
from foobar_fab.settings import PROJECT_ROOT
from foobar_fab.statefolder import LabFolder
from foobar_fab.topology import Lab, TopologyError

SCALED = design.load(PROJECT_ROOT / "configs" / "scaled.yml")


def test_a_switchover_swaps_the_database_roles_in_place(lab: Lab) -> None:
    after = lab.with_primary("web-02")
    assert after.primary.name == "web-02"
    assert [r.name for r in after.replicas] == ["web-01"]
    # Only the database roles change, each where it was in the list.
    assert after.node("web-01").roles == tuple("db_replica" if r == "db_primary" else r for r in lab.node("web-01").roles)
    assert after.node("lb-01") == lab.node("lb-01")


def test_a_fenced_former_primary_has_no_database_role(lab: Lab) -> None:
    after = lab.with_primary("web-02", out=("web-01",))
    assert after.out == ("web-01",)
    assert after.db_nodes == (after.node("web-02"),)
    assert not after.replicas
    assert after.node("web-01").has_role("web") and after.node("web-01").has_role("app")


def test_only_a_database_server_can_be_the_primary(lab: Lab) -> None:
    with pytest.raises(TopologyError, match="lb-01 holds no database"):
        lab.with_primary("lb-01")


def test_the_applications_read_from_the_new_layout() -> None:
    after = SCALED.with_primary("db-02", out=("db-01",))
    assert {after.read_database(a).name for a in after.app_nodes} == {"db-02"}


@pytest.mark.parametrize("node", ["lb-01", "web-01"])
def test_a_rebuild_refuses_a_node_that_is_neither_replica_nor_fenced_before_anything_runs(lab: Lab, node: str) -> None:
    """The copy starts by dropping the node's database: on the balancer or the primary, nothing may run."""
    ran: list[str] = []

    def must(*args: Any, **kwargs: Any) -> str:
        ran.append(str(args))
        raise AssertionError(f"a command ran: {args}")

    live: Any = SimpleNamespace(lab=lab, shells=SimpleNamespace(must=must, put=must))
    with pytest.raises(PromotionError, match=f"{node} is (the primary|no database replica and no fenced former primary)"):
        rebuild(live, lab.node(node))
    assert ran == []


@pytest.mark.parametrize(
    ("promoted_at", "binlog", "found"),
    [
        pytest.param("0-11-40", "0-11-40", [], id="nothing-new"),
        pytest.param("0-11-40", "0-11-43", ["0-11-41", "0-11-42", "0-11-43"], id="three-never-sent"),
        pytest.param("", "0-11-2", ["0-11-1", "0-11-2"], id="promoted-before-any"),
        pytest.param("0-11-40,1-12-5", "0-11-40,1-12-6", ["1-12-6"], id="per-domain"),
    ],
)
def test_errant_transactions_are_those_past_the_promotion_point(promoted_at: str, binlog: str, found: list[str]) -> None:
    assert errant(promoted_at, binlog) == found


def test_the_state_applies_to_the_design_and_goes_once_it_matches(lab: Lab, tmp_path: Path) -> None:
    state = dbstate.DbState(primary="web-02", out=("web-01",), promoted_at="0-11-9", how="failover", when="t")
    dbstate.save(LabFolder(tmp_path), state, lab)
    loaded = dbstate.load(LabFolder(tmp_path))
    assert loaded == state
    current = dbstate.apply(lab, loaded)
    assert (current.primary.name, current.out) == ("web-02", ("web-01",))
    assert "fenced: web-01" in dbstate.describe(current, lab, loaded)
    assert "db.switchover --to web-01" in dbstate.describe(current, lab, loaded)
    # Back where the design has it: nothing is recorded any more.
    dbstate.save(LabFolder(tmp_path), dbstate.DbState(primary="web-01"), lab)
    assert dbstate.load(LabFolder(tmp_path)) is None
    assert dbstate.describe(lab, lab, None) == "database primary: web-01 (as designed)"


def test_a_recorded_primary_the_design_no_longer_has_is_ignored(lab: Lab) -> None:
    assert dbstate.apply(lab, dbstate.DbState(primary="db-09")) == lab


def test_a_state_file_from_an_older_version_still_loads(tmp_path: Path) -> None:
    old = {"primary": "web-02", "out": ["web-01"], "promoted_at": "0-11-9", "how": "failover", "when": "t", "previous": "web-01"}
    (tmp_path / "database.json").write_text(json.dumps(old, indent=2) + "\n")
    assert dbstate.load(LabFolder(tmp_path)) == dbstate.DbState(primary="web-02", out=("web-01",), promoted_at="0-11-9", how="failover", when="t")


def test_a_broken_state_file_counts_as_none(tmp_path: Path) -> None:
    (tmp_path / "database.json").write_text("{not json")
    assert dbstate.load(LabFolder(tmp_path)) is None


def test_semi_sync_needs_a_replica(tmp_path: Path) -> None:
    path = tmp_path / "alone.yml"
    path.write_text(
        "lab: {name: ffalone, subnet: 10.181.58.0/24, replication: semi-sync}\nnodes:\n"
        "  lb-01: {address: 10.181.58.10, roles: [base, loadbalancer]}\n"
        "  web-01: {address: 10.181.58.11, roles: [base, db_primary, web, app]}\n"
    )
    with pytest.raises(TopologyError, match="lab.replication.*semi-sync with no replica"):
        design.load(path)
