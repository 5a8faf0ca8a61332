"""Which design a command acts with: the file it names, the design the lab's build recorded, or the default."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from foobar_fab import design, designstate, topology
from foobar_fab.session import running_design
from foobar_fab.settings import PROJECT_ROOT, Settings
from foobar_fab.statefolder import LabFolder
from foobar_fab.topology import TopologyError

from .test_tasks import INVOKE

LAB, SUBNET = "ffdesign", "10.183.1.0/24"


@pytest.fixture
def designs(tmp_path: Path) -> dict[str, Path]:
    """The seed and secured designs of one lab (same name and subnet), as files of their own."""
    files = {}
    for name in ("lab.yml", "secured.yml"):
        files[name] = tmp_path / name
        files[name].write_text(topology.to_yaml(topology.relocate(design.load(PROJECT_ROOT / "configs" / name), LAB, SUBNET)))
    return files


def recorded(path: Path) -> designstate.Recorded:
    return designstate.Recorded(path.resolve(), designstate.digest(path))


def test_no_record_or_the_same_design_uses_the_file(designs: dict[str, Path], tmp_path: Path) -> None:
    seed = designs["lab.yml"]
    copy = tmp_path / "copy.yml"
    copy.write_bytes(seed.read_bytes())
    for record in (None, recorded(seed), recorded(copy)):  # a copy elsewhere with the same text is the same design
        for named in (True, False):
            assert designstate.choose(record, LAB, seed, named) == designstate.Choice(seed)


def test_without_a_named_file_the_recorded_design_comes_first(designs: dict[str, Path]) -> None:
    choice = designstate.choose(recorded(designs["secured.yml"]), LAB, designs["lab.yml"], named=False)
    assert choice == designstate.Choice(designs["secured.yml"].resolve(), f"lab {LAB} runs {designs['secured.yml'].resolve()}")


def test_another_design_named_is_refused_in_one_line_naming_both(designs: dict[str, Path]) -> None:
    seed, secured = designs["lab.yml"], designs["secured.yml"]
    with pytest.raises(TopologyError) as refused:
        designstate.choose(recorded(secured), LAB, seed, named=True)
    message = str(refused.value)
    assert "\n" not in message and str(secured.resolve()) in message and str(seed) in message and "invoke build --lab-file" in message


def test_build_and_destroy_may_name_another_design(designs: dict[str, Path]) -> None:
    seed, secured = designs["lab.yml"], designs["secured.yml"]
    assert designstate.choose(recorded(secured), LAB, seed, named=True, any_design=True) == designstate.Choice(seed)


def test_a_recorded_file_that_is_gone_gives_the_default_and_says_so(designs: dict[str, Path], tmp_path: Path) -> None:
    gone = designstate.Recorded(tmp_path / "gone.yml", "0" * 64)
    choice = designstate.choose(gone, LAB, designs["lab.yml"], named=False)
    assert choice.lab_file == designs["lab.yml"] and "which is gone" in choice.note


def test_the_record_round_trips_and_reads_nothing_from_a_bad_file(designs: dict[str, Path], tmp_path: Path) -> None:
    state = LabFolder(tmp_path / "state")
    assert designstate.load(state) is None
    designstate.save(state, designs["secured.yml"])
    assert designstate.load(state) == recorded(designs["secured.yml"])
    state.design.write_text("{")
    assert designstate.load(state) is None


def settings_for(designs: dict[str, Path], tmp_path: Path, named: bool) -> Settings:
    return Settings.from_mapping({"lab_file": str(designs["lab.yml"]), "state_dir": str(tmp_path / "state")}).but(lab_file_named=named)


def test_a_session_without_a_named_file_loads_the_design_the_lab_runs(designs: dict[str, Path], tmp_path: Path) -> None:
    designstate.save(LabFolder(tmp_path / "state" / LAB), designs["secured.yml"])
    settings, lab, note = running_design(settings_for(designs, tmp_path, named=False))
    assert settings.lab_file == designs["secured.yml"].resolve() and lab.with_role("monitor") and note == f"lab {LAB} runs {settings.lab_file}"
    with pytest.raises(TopologyError, match=f"lab {LAB} runs .*secured.yml, not .*lab.yml"):
        running_design(settings_for(designs, tmp_path, named=True))
    settings, lab, note = running_design(settings_for(designs, tmp_path, named=True), any_design=True)
    assert settings.lab_file == designs["lab.yml"] and not lab.with_role("monitor") and note == ""


def test_a_recorded_file_now_of_another_lab_is_not_followed(designs: dict[str, Path], tmp_path: Path) -> None:
    other = tmp_path / "other.yml"
    other.write_text(topology.to_yaml(topology.relocate(design.load(designs["secured.yml"]), "ffother", "10.183.2.0/24")))
    designstate.save(LabFolder(tmp_path / "state" / LAB), other)
    settings, lab, note = running_design(settings_for(designs, tmp_path, named=False))
    assert lab.name == LAB and settings.lab_file == designs["lab.yml"] and "now describes lab ffother" in note


def invoke(designs: dict[str, Path], tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INVOKE_LAB_STATE_DIR": str(tmp_path / "state"), "INVOKE_LAB_LAB_FILE": str(designs["lab.yml"])}
    return subprocess.run([str(INVOKE), *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_tasks_follow_the_recorded_design_and_refuse_another(designs: dict[str, Path], tmp_path: Path) -> None:
    """Through invoke: with no --lab-file the lab's design is used (one line says so on stderr, the JSON stays clean);
    another design of the lab named to a command other than build is refused in one line, before anything is made."""
    designstate.save(LabFolder(tmp_path / "state" / LAB), designs["secured.yml"])
    listed = invoke(designs, tmp_path, "exercise.list", "--json")
    assert listed.returncode == 0, listed.stderr
    runs = {e["name"]: e["runs_here"] for e in json.loads(listed.stdout)["exercises"]}
    assert runs["certificate-warning"] and listed.stderr.strip() == f"lab {LAB} runs {designs['secured.yml'].resolve()}"
    refused = invoke(designs, tmp_path, "alerts", "--lab-file", str(designs["lab.yml"]))
    assert refused.returncode == 2 and refused.stdout == "" and "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines() == [f"error: lab {LAB} runs {designs['secured.yml'].resolve()}, not {designs['lab.yml']}: "
                                                   f"leave out --lab-file (or `invoke build --lab-file {designs['lab.yml']}` to change the lab's design)"]
    assert sorted(p.name for p in (tmp_path / "state" / LAB).iterdir()) == ["design.json"]


def test_exercise_list_as_json_without_a_lab(designs: dict[str, Path], tmp_path: Path) -> None:
    listed = invoke(designs, tmp_path, "exercise.list", "--json")
    assert listed.returncode == 0 and listed.stderr == "", listed.stderr
    data = json.loads(listed.stdout)
    runs = {e["name"]: e for e in data["exercises"]}
    assert data["design"] == str(designs["lab.yml"]) and not runs["certificate-warning"]["runs_here"] and runs["stale-replica"]["runs_here"]
    assert runs["certificate-warning"]["needs"] and runs["stale-replica"]["level"] == 3
