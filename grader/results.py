"""The result model and scoring: frozen dataclasses and pure functions, no I/O.

Every reporter (terminal, json, gradescope, junit, csv) reads these objects; nothing
else decides a score. A check's share of its exercise's points is its weight over the
total weight of the exercise's checks.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace


class CheckStatus(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    TIMEOUT = "timeout"


class ExerciseStatus(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    NOT_STARTED = "not_started"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True)
class CheckResult:
    """The verdict on one check, as the parent decided it."""

    id: str
    name: str
    status: CheckStatus
    weight: float = 1.0
    hidden: bool = False
    message: str | None = None
    output: str = ""
    duration_s: float = 0.0
    score: float = 0.0
    max_score: float = 0.0
    #: The manifest hint this check's failure points to (1-based, ``@pytest.mark.hint(n)``).
    hint: int | None = None
    #: Its verdict depends on the real clock (``@pytest.mark.timing``): never served from the cache.
    timing: bool = False

    @property
    def passed(self) -> bool:
        return self.status is CheckStatus.PASSED


@dataclass(frozen=True)
class ExerciseResult:
    id: str
    slug: str
    title: str
    status: ExerciseStatus
    max_score: float
    score: float = 0.0
    duration_s: float = 0.0
    message: str | None = None
    checks: tuple[CheckResult, ...] = ()
    #: Static flags for course staff (``grader.sandbox.flags``): never change the score.
    flags: tuple[str, ...] = ()
    #: Served from the verdict cache (``grader.cache``): the file has not changed since.
    from_cache: bool = False

    @property
    def full_marks(self) -> bool:
        return self.status is ExerciseStatus.PASSED

    @property
    def first_failure(self) -> CheckResult | None:
        return next((c for c in self.checks if not c.passed), None)


@dataclass(frozen=True)
class RunResult:
    target: str
    python: str
    exercises: tuple[ExerciseResult, ...] = field(default_factory=tuple)
    kit_version: str = ""

    @property
    def score(self) -> float:
        return round(sum(e.score for e in self.exercises), 4)

    @property
    def max_score(self) -> float:
        return round(sum(e.max_score for e in self.exercises), 4)


def weigh_checks(checks: Sequence[CheckResult], points: float) -> tuple[CheckResult, ...]:
    """Give each check its share of ``points`` (by weight) and its score (all or nothing)."""
    total = sum(c.weight for c in checks)
    if total <= 0:
        return tuple(replace(c, score=0.0, max_score=0.0) for c in checks)
    weighed = []
    for check in checks:
        share = round(points * check.weight / total, 4)
        weighed.append(replace(check, max_score=share, score=share if check.passed else 0.0))
    return tuple(weighed)


def exercise_result(
    *,
    id: str,
    slug: str,
    title: str,
    points: float,
    checks: Sequence[CheckResult],
    duration_s: float = 0.0,
    message: str | None = None,
) -> ExerciseResult:
    """Score an exercise whose checks ran: passed only when every check passed."""
    weighed = weigh_checks(checks, points)
    # The exercise's score comes from the weights, not from the rounded per-check shares,
    # so full marks are exactly ``points`` (three shares of 10/3 must not add up to 10.0001).
    total_weight = sum(c.weight for c in weighed)
    passed_weight = sum(c.weight for c in weighed if c.passed)
    score = round(points * passed_weight / total_weight, 4) if total_weight > 0 else 0.0
    if not weighed:
        status = ExerciseStatus.ERROR
        message = message or "no check ran: the checks could not be collected"
        score = 0.0
    elif all(c.passed for c in weighed):
        status = ExerciseStatus.PASSED
    else:
        status = ExerciseStatus.FAILED
    return ExerciseResult(
        id=id,
        slug=slug,
        title=title,
        status=status,
        max_score=points,
        score=score,
        duration_s=round(duration_s, 3),
        message=message,
        checks=weighed,
    )


def zero_result(
    *,
    id: str,
    slug: str,
    title: str,
    points: float,
    status: ExerciseStatus,
    message: str | None,
    checks: Iterable[CheckResult] = (),
    duration_s: float = 0.0,
) -> ExerciseResult:
    """An exercise that scores nothing as a whole (error, not started, unsupported)."""
    weighed = weigh_checks(list(checks), points)
    zeroed = tuple(replace(c, score=0.0) for c in weighed)
    return ExerciseResult(
        id=id,
        slug=slug,
        title=title,
        status=status,
        max_score=points,
        score=0.0,
        duration_s=round(duration_s, 3),
        message=message,
        checks=zeroed,
    )


def exit_code(run: RunResult) -> int:
    """0 when every graded exercise has full marks, else 1 (unsupported ones do not count)."""
    graded = [e for e in run.exercises if e.status is not ExerciseStatus.UNSUPPORTED]
    return 0 if graded and all(e.full_marks for e in graded) else 1


def without_hidden(run: RunResult) -> RunResult:
    """The same run with hidden checks' names and messages masked (for student views)."""
    exercises = []
    for ex in run.exercises:
        checks = tuple(
            replace(c, name="hidden check", message=None, output="") if c.hidden else c
            for c in ex.checks
        )
        exercises.append(replace(ex, checks=checks))
    return replace(run, exercises=tuple(exercises))
