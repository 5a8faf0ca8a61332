"""The running exercise, kept where a student does not read it by chance.

The state (which exercise, its seed and details, when it started, hints and attempts) is one
encrypted token (Fernet) in the lab's state folder; the key is outside it, in the exercise folder
(/var/lib/foobar_fab/exercises by default, 0700, the key 0600). Nobody can read the answer in
`.lab/` or in what the lab prints. It is a closed drawer, not a safe: the students are root on
their machine, and one who decrypts the token with the lab's own code has cheated on purpose.
An exercise that ends is appended, in clear, to the lab's results (exercises.jsonl).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from ..errors import LabError
from ..statefolder import LabFolder, write_private


class ExerciseError(LabError):
    """An exercise cannot be started, read or graded; the message says what to do."""


@dataclass
class Running:
    """One exercise under way on a lab."""

    exercise: str
    seed: int
    design: str
    details: dict[str, str]
    started: float = field(default_factory=time.time)
    hints: int = 0
    attempts: int = 0
    reference_fix: bool = False  # `exercise.solve` applied the fix, not the student

    @property
    def minutes(self) -> str:
        seconds = int(time.time() - self.started)
        return f"{seconds // 60} min {seconds % 60} s"


@dataclass(frozen=True)
class Drawer:
    """Where one lab's running exercise is kept: the token in its state folder, the key outside it."""

    folder: LabFolder
    key_dir: Path
    lab_name: str

    @property
    def token_file(self) -> Path:
        return self.folder.exercise

    @property
    def key_file(self) -> Path:
        return self.key_dir / f"{self.lab_name}.key"

    def _key(self, create: bool) -> bytes:
        try:
            return self.key_file.read_bytes()
        except FileNotFoundError:
            if not create:
                raise ExerciseError(f"the running exercise's key is gone ({self.key_file}): run `invoke build`, then remove {self.token_file}") from None
        except OSError as err:
            raise ExerciseError(f"{self.key_file}: cannot read the exercise key ({err.strerror}): the exercises need root") from None
        key = Fernet.generate_key()
        try:
            write_private(self.key_file, key)
        except OSError as err:
            raise ExerciseError(f"{self.key_dir}: cannot keep the exercise key there ({err.strerror}): set exercise_dir in invoke.yaml") from None
        return key

    def discard_key(self) -> None:
        """The lab is gone: its exercise key goes too (the exercise folder keeps no key of a lab that is not there)."""
        try:
            self.key_file.unlink(missing_ok=True)
        except OSError as err:
            raise ExerciseError(f"{self.key_file}: cannot remove the exercise key ({err.strerror})") from None

    def running(self) -> bool:
        return self.token_file.exists()

    def save(self, state: Running) -> None:
        token = Fernet(self._key(create=True)).encrypt(json.dumps(asdict(state)).encode())
        write_private(self.token_file, token)

    def load(self) -> Running:
        if not self.running():
            raise ExerciseError("no exercise is running on this lab: `invoke exercise.list`, then `invoke exercise.start NAME`")
        try:
            data: dict[str, Any] = json.loads(Fernet(self._key(create=False)).decrypt(self.token_file.read_bytes()))
        except (InvalidToken, ValueError):
            raise ExerciseError(f"{self.token_file} cannot be read with the lab's exercise key: run `invoke build`, then remove it") from None
        return Running(**data)

    def finish(self, state: Running, outcome: str) -> dict[str, Any]:
        """End the exercise: its record is appended to the lab's results, the hidden state removed."""
        record = {
            "exercise": state.exercise,
            "seed": state.seed,
            "design": state.design,
            "outcome": outcome,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(state.started)),
            "seconds": round(time.time() - state.started),
            "hints": state.hints,
            "attempts": state.attempts,
            "reference_fix": state.reference_fix,
        }
        self.folder.append_line(self.folder.exercise_results, json.dumps(record))
        self.token_file.unlink(missing_ok=True)
        return record


def finished_exercises(folder: LabFolder) -> list[dict[str, Any]]:
    """The lab's finished exercises as Drawer.finish recorded them, oldest first (none when there is no record)."""
    try:
        text = folder.exercise_results.read_text()
    except OSError:
        return []
    found = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            found.append(record)
    return found
