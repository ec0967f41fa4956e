"""The learner's progress, kept in the kit's ``.awaitlings/`` folder (git-ignored):
hints shown per exercise and the last result per exercise. Written atomically; a
missing or corrupt file is treated as a fresh start, never as an error."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
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
        hints = {str(k): int(v) for k, v in dict(data.get("hints", {})).items() if isinstance(v, int)}
        last = {str(k): v for k, v in dict(data.get("last", {})).items() if isinstance(v, dict)}
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

    def record(self, run: RunResult) -> None:
        now = time.strftime("%Y-%m-%dT%H:%M:%S")
        for ex in run.exercises:
            self.last[ex.id] = {
                "status": ex.status.value,
                "score": ex.score,
                "max_score": ex.max_score,
                "at": now,
                "first_failure": ex.first_failure.name if ex.first_failure else None,
            }
