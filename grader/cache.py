"""The verdict cache: an unchanged file is not graded again.

``grade`` and ``grade list --refresh`` on the learner's own kit look here first. A verdict
is served only for exactly what produced it: the key hashes the learner's file, the
exercise's checks file and manifest entry, the sandbox's limits, the kit's version, the
grader's own source and the Python running it; change any and the exercise is graded
again. One entry per exercise (``.awaitlings/verdicts/ex04.json``): the last verdict.

Only verdicts that cannot depend on the machine are kept: every check passed or failed
(none timed out or was stopped by the grader), and no check is marked ``timing`` (its
verdict depends on the real clock). Course mode, batches and the platforms never use
the cache; ``grade --no-cache`` grades everything.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from grader.files import write_atomic
from grader.manifest import Exercise, Kit
from grader.results import CheckResult, CheckStatus, ExerciseResult, ExerciseStatus

FOLDER = "verdicts"
FORMAT = 1


@functools.cache
def _grader_source() -> str:
    """A hash of the grader's own source files (a changed grader changes verdicts)."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def key(kit: Kit, exercise: Exercise, learner: bytes, limits: Any) -> str:
    """What a verdict depends on, hashed."""
    from grader.grading import kit_version

    digest = hashlib.sha256()
    parts = [
        f"format {FORMAT}".encode(),
        learner,
        kit.checks_path(exercise).read_bytes(),
        repr(exercise).encode(),
        repr(limits).encode(),
        kit_version().encode(),
        _grader_source().encode(),
        sys.version.encode(),
    ]
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def keepable(result: ExerciseResult) -> bool:
    """Whether ``result`` may be served again for the same key."""
    return (
        result.status in (ExerciseStatus.PASSED, ExerciseStatus.FAILED)
        and bool(result.checks)
        and all(c.status in (CheckStatus.PASSED, CheckStatus.FAILED) and not c.timing for c in result.checks)
    )


class VerdictCache:
    """The learner's last verdict per exercise, in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def of(cls, kit: Kit) -> VerdictCache:
        return cls(kit.state_dir / FOLDER)

    def _path(self, exercise: Exercise) -> Path:
        return self.folder / f"{exercise.id}.json"

    def get(self, exercise: Exercise, entry_key: str) -> ExerciseResult | None:
        """The kept verdict for ``entry_key``, or None (absent, stale, or unreadable)."""
        try:
            data = json.loads(self._path(exercise).read_text(encoding="utf-8"))
            if data.get("key") != entry_key:
                return None
            return _load(data["result"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, exercise: Exercise, entry_key: str, result: ExerciseResult) -> None:
        """Keep ``result`` if it may be served again; a read-only kit keeps nothing."""
        if not keepable(result):
            return
        text = json.dumps({"key": entry_key, "result": dataclasses.asdict(result)}, ensure_ascii=False)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_atomic(self._path(exercise), text)
        except OSError:
            pass


def _load(raw: dict[str, Any]) -> ExerciseResult:
    checks = tuple(CheckResult(**{**c, "status": CheckStatus(c["status"])}) for c in raw["checks"])
    fields = {**raw, "status": ExerciseStatus(raw["status"]), "checks": checks, "flags": tuple(raw["flags"])}
    return ExerciseResult(**fields)
