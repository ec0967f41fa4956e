"""The learner's progress, kept in the kit's ``.awaitlings/`` folder (git-ignored):
hints shown per exercise and the last result per exercise. Written atomically; a
missing or corrupt file is treated as a fresh start, never as an error."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.results import RunResult

STATE_FILE = "state.json"


@dataclass
class State:
    path: Path
    hints: dict[str, int] = field(default_factory=dict)
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
        hints = {str(k): v for k, v in raw_hints.items() if type(v) is int} if isinstance(raw_hints, dict) else {}
        last = {str(k): v for k, v in raw_last.items() if isinstance(v, dict)} if isinstance(raw_last, dict) else {}
        return cls(path=path, hints=hints, last=last)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        gitignore = self.path.parent / ".gitignore"
        if not gitignore.exists():
            gitignore.write_text("*\n", encoding="utf-8")
        payload = json.dumps({"hints": self.hints, "last": self.last}, indent=2, sort_keys=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".state-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(payload)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def next_hint(self, exercise_id: str, available: int) -> int:
        """Index of the hint to show now (advancing, capped at the last one)."""
        shown = self.hints.get(exercise_id, 0)
        index = min(shown, available - 1)
        self.hints[exercise_id] = min(shown + 1, available)
        return index

    def show_hint(self, exercise_id: str, number: int, available: int) -> int:
        """Index of hint ``number`` (1-based, clamped); hints up to it count as shown."""
        index = max(0, min(number, available) - 1)
        self.hints[exercise_id] = max(self.hints.get(exercise_id, 0), index + 1)
        return index

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
