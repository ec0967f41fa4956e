"""The learner's progress, kept in the kit's ``.awaitlings/`` folder (git-ignored):
hints shown per exercise and the last result per exercise. Written atomically; a
missing or corrupt file is treated as a fresh start, never as an error.

Hints are remembered as the numbers shown (1-based), not as a count: a failing check may
point straight to hint 3, and hint 2, never shown, is still the next one after it."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.files import write_atomic
from grader.results import RunResult

STATE_FILE = "state.json"


@dataclass
class State:
    path: Path
    #: The hint numbers (1-based, ascending) shown so far, per exercise.
    hints: dict[str, list[int]] = field(default_factory=dict)
    last: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, state_dir: Path) -> State:
        path = state_dir / STATE_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls(path=path)
        if not isinstance(data, dict):
            return cls(path=path)
        raw_hints, raw_last = data.get("hints"), data.get("last")
        hints = {str(k): _shown(v) for k, v in raw_hints.items()} if isinstance(raw_hints, dict) else {}
        hints = {k: v for k, v in hints.items() if v}
        last = {str(k): v for k, v in raw_last.items() if isinstance(v, dict)} if isinstance(raw_last, dict) else {}
        return cls(path=path, hints=hints, last=last)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        gitignore = self.path.parent / ".gitignore"
        if not gitignore.exists():
            gitignore.write_text("*\n", encoding="utf-8")
        payload = json.dumps({"hints": self.hints, "last": self.last}, indent=2, sort_keys=True)
        write_atomic(self.path, payload)

    def shown(self, exercise_id: str, available: int) -> list[int]:
        """The numbers of the hints of ``exercise_id`` shown so far (those that still exist)."""
        return [n for n in self.hints.get(exercise_id, []) if n <= available]

    def next_hint(self, exercise_id: str, available: int, prefer: int | None = None) -> int:
        """Index (0-based) of the hint to show now, remembered as shown: hint ``prefer``
        (1-based; the one the last grade's first failing check points to) if it exists
        and was not shown yet, else the first not shown yet, else the last one again."""
        shown = self.shown(exercise_id, available)
        if prefer is not None and 1 <= prefer <= available and prefer not in shown:
            number = prefer
        else:
            number = next((n for n in range(1, available + 1) if n not in shown), available)
        return self.show_hint(exercise_id, number, available)

    def show_hint(self, exercise_id: str, number: int, available: int) -> int:
        """Index (0-based) of hint ``number`` (1-based, clamped), remembered as shown."""
        number = max(1, min(number, available))
        self.hints[exercise_id] = sorted({*self.hints.get(exercise_id, []), number})
        return number - 1

    def record(self, run: RunResult, hashes: Mapping[str, str | None] | None = None) -> None:
        """Remember each exercise's result; ``hashes`` (exercise id -> sha256 of the file
        that was graded) lets ``grade list`` tell when a file changed since."""
        now = time.strftime("%Y-%m-%dT%H:%M:%S")
        for ex in run.exercises:
            first = ex.first_failure
            self.last[ex.id] = {
                "status": ex.status.value,
                "score": ex.score,
                "max_score": ex.max_score,
                "at": now,
                "first_failure": first.name if first else None,
                "first_failure_hint": first.hint if first else None,
                "checks_passed": sum(1 for c in ex.checks if c.passed),
                "checks": len(ex.checks),
                "sha256": (hashes or {}).get(ex.id),
            }


def _shown(value: object) -> list[int]:
    """Hint numbers from the file: a list of numbers, or (older kits) a count of the
    first hints shown."""
    if type(value) is int:
        return list(range(1, value + 1))
    if isinstance(value, list):
        return sorted({n for n in value if type(n) is int and n >= 1})
    return []
