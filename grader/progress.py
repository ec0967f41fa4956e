"""Where the learner stands: each exercise's status, from the saved state and its file.

Instant: nothing is graded, only files are read and hashed (``grade list``, the start of
``grade watch``). A saved result counts for the file it graded: when the file's hash
differs it is shown as "changed since last grade"; a file that is still the stub is
"not started", whatever was graded before (a ``grade reset`` puts it back there).
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.manifest import Exercise, Kit
from grader.results import RunResult
from grader.state import State


class Standing(enum.StrEnum):
    DONE = "done"
    FAILING = "failing"
    ERROR = "error"
    NOT_STARTED = "not started"
    NOT_GRADED = "not graded"
    MISSING = "missing"
    UNSUPPORTED = "needs newer Python"


_FROM_STATUS = {
    "passed": Standing.DONE,
    "failed": Standing.FAILING,
    "error": Standing.ERROR,
    "not_started": Standing.NOT_STARTED,
    "unsupported": Standing.UNSUPPORTED,
}


@dataclass(frozen=True)
class Progress:
    """One exercise on the course map."""

    exercise: Exercise
    standing: Standing
    #: Points of the last grade (None: never graded, or still the stub).
    score: float | None = None
    #: The file changed since its last grade (that grade may no longer hold).
    changed: bool = False
    graded_at: str | None = None
    first_failure: str | None = None
    #: The hint the first failing check points to (1-based), if it names one.
    first_failure_hint: int | None = None
    checks_passed: int | None = None
    checks: int | None = None

    @property
    def done(self) -> bool:
        """Passed, and the file is still the one that passed."""
        return self.standing is Standing.DONE and not self.changed

    @property
    def to_do(self) -> bool:
        return not self.done and self.standing is not Standing.UNSUPPORTED


def file_hash(path: Path) -> str | None:
    """sha256 of the file's bytes; None when it cannot be read."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def hashes(kit: Kit, exercises: Iterable[Exercise], folder: Path | None = None) -> dict[str, str | None]:
    """The current hash of each exercise's file in ``folder`` (default: the kit's exercises)."""
    base = folder or kit.exercises_dir
    return {e.id: file_hash(base / e.filename) for e in exercises}


def remember(kit: Kit, run: RunResult, graded: dict[str, str | None]) -> bool:
    """Save ``run``'s results as the learner's progress; ``graded`` holds the hash of each
    file as it was when grading began. The state is loaded fresh (another ``grade`` may
    have written it meanwhile). False when it cannot be saved (a read-only kit still
    grades; progress is a convenience)."""
    state = State.load(kit.state_dir)
    state.record(run, graded)
    try:
        state.save()
    except OSError:
        return False
    return True


def progress_of(kit: Kit, exercise: Exercise, last: dict[str, Any] | None) -> Progress:
    """Where one exercise stands, from its saved result ``last`` and its file now."""
    if not exercise.supported():
        return Progress(exercise, Standing.UNSUPPORTED)
    try:
        data = kit.stub_path(exercise).read_bytes()
    except OSError:
        return Progress(exercise, Standing.MISSING)
    if kit.untouched(exercise, data):  # no pristine stub to compare with: the saved result decides
        return Progress(exercise, Standing.NOT_STARTED)
    if not last:
        return Progress(exercise, Standing.NOT_GRADED)
    standing = _FROM_STATUS.get(str(last.get("status")), Standing.NOT_GRADED)
    recorded = last.get("sha256")
    changed = isinstance(recorded, str) and recorded != hashlib.sha256(data).hexdigest()
    if standing is Standing.NOT_STARTED:
        # graded while it was the stub; it has been edited since
        return Progress(exercise, Standing.NOT_GRADED)
    return Progress(
        exercise,
        standing,
        score=_number(last.get("score")),
        changed=changed,
        graded_at=str(last["at"]) if last.get("at") else None,
        first_failure=str(last["first_failure"]) if last.get("first_failure") else None,
        first_failure_hint=_int(last.get("first_failure_hint")),
        checks_passed=_int(last.get("checks_passed")),
        checks=_int(last.get("checks")),
    )


def course_map(kit: Kit, state: State) -> tuple[Progress, ...]:
    """Every exercise, in course order, with where it stands."""
    return tuple(progress_of(kit, e, state.last.get(e.id)) for e in kit.exercises)


def next_up(rows: Iterable[Progress], focus: str | None = None) -> Progress | None:
    """The exercise to do next, the one ``grade list`` marks with an arrow: the first, in
    course order, that is not done. Every "next" (``grade list``, a full-marks ``grade``,
    ``grade watch``'s start, its congratulation and its ``n`` key) comes from here.

    ``focus`` is the exercise on screen (``n`` in ``grade watch``): when the first to do
    is that one, the learner is skipping it, so the next to do after it (wrapping around)
    is given instead. None: nothing else is left to do."""
    ordered = tuple(rows)
    first = next((row for row in ordered if row.to_do), None)
    if first is None or focus is None or first.exercise.id != focus:
        return first
    ids = [row.exercise.id for row in ordered]
    start = ids.index(focus) + 1
    later = ordered[start:] + ordered[:start]
    return next((row for row in later if row.to_do and row.exercise.id != focus), None)


def hint_now(kit: Kit, state: State, exercise: Exercise) -> tuple[int, str | None]:
    """The hint of ``exercise`` to show now (its 0-based index, remembered in ``state`` as
    shown) and why: the name of the last grade's first failing check when the hint is the
    one that check points to, shown for the first time; None when it is simply the next."""
    row = progress_of(kit, exercise, state.last.get(exercise.id))
    available = len(exercise.hints)
    pointed = row.first_failure_hint if row.standing is Standing.FAILING else None
    fresh = pointed is not None and pointed not in state.shown(exercise.id, available)
    index = state.next_hint(exercise.id, available, prefer=pointed)
    return index, row.first_failure if fresh and index + 1 == pointed else None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _int(value: object) -> int | None:
    return value if type(value) is int else None
