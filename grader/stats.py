"""Class statistics for instructors: per-check pass rates and the most common failures.

Pure: a mapping of student id to :class:`RunResult` in, frozen dataclasses out, no I/O
(``grade batch`` computes them; ``grader.reporters.classreport`` renders them).

A check's pass rate is over the students whose grading ran it: a student who did not
submit the exercise, or whose file is still the stub, is counted in the exercise's
statuses, not in its checks' rates. An exercise that could not be graded (a syntax error,
a crash at import) counts as failing each of its checks, but its message is listed once,
as the exercise's problem. Failure messages are grouped by their first line
with numbers replaced by ``N`` ("At most 1 greeting ran" and "At most 2 greetings ran"
are one problem), so the commonest misunderstanding comes first.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from grader.results import ExerciseStatus, RunResult

#: What the commonest-failures list calls an exercise that could not be graded at all.
UNGRADED = "could not be graded"
#: Messages kept per check, and across the class.
TOP_PER_CHECK = 3
TOP_OVERALL = 10
MESSAGE_CAP = 200

_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?")  # not inside a name such as ex01
_TEMP_PATH = re.compile(r"/\S*/awaitlings-[\w.-]+/(?:target/)?")


@dataclass(frozen=True)
class CheckStats:
    id: str
    name: str
    hidden: bool
    ran: int
    passed: int
    #: (message, students) for the commonest failure messages, most common first.
    failures: tuple[tuple[str, int], ...]

    @property
    def rate(self) -> float | None:
        return self.passed / self.ran if self.ran else None


@dataclass(frozen=True)
class ExerciseStats:
    id: str
    slug: str
    title: str
    max_score: float
    students: int
    mean_score: float
    full_marks: int
    #: Students per exercise status ("passed", "not_started", ...), in a fixed order.
    statuses: tuple[tuple[str, int], ...]
    checks: tuple[CheckStats, ...]
    #: (message, students) for why the exercise as a whole could not be graded.
    problems: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Failure:
    exercise: str
    check: str
    message: str
    students: int


@dataclass(frozen=True)
class ClassStats:
    students: int
    mean_total: float
    max_total: float
    full_marks: int
    exercises: tuple[ExerciseStats, ...]
    top_failures: tuple[Failure, ...]


def normalise(message: str | None) -> str:
    """One line that groups equivalent failures: first line, numbers as N, temp paths gone."""
    if not message:
        return "(no message)"
    first = next((line.strip() for line in message.splitlines() if line.strip()), "")
    first = _TEMP_PATH.sub("", first)
    first = _NUMBER.sub("N", " ".join(first.split()))
    return first if len(first) <= MESSAGE_CAP else first[: MESSAGE_CAP - 1] + "…"


def class_stats(runs: Mapping[str, RunResult]) -> ClassStats:
    """Statistics over every student's run (exercise order from the first run that has it)."""
    order: dict[str, tuple[str, str, float]] = {}
    for run in runs.values():
        for ex in run.exercises:
            order.setdefault(ex.id, (ex.slug, ex.title, ex.max_score))
    exercises = tuple(_exercise_stats(ex_id, *meta, runs) for ex_id, meta in order.items())
    overall: Counter[tuple[str, str, str]] = Counter()
    for run in runs.values():
        for ex in run.exercises:
            if ex.status is ExerciseStatus.ERROR:  # one problem, not one per check it zeroed
                overall[(ex.id, UNGRADED, normalise(ex.message))] += 1
            elif ex.status is ExerciseStatus.FAILED:
                for check in ex.checks:
                    if not check.passed:
                        overall[(ex.id, check.name, normalise(check.message))] += 1
    top = tuple(
        Failure(exercise=ex_id, check=name, message=message, students=count)
        for (ex_id, name, message), count in sorted(overall.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_OVERALL]
    )
    totals = [run.score for run in runs.values()]
    max_total = max((run.max_score for run in runs.values()), default=0.0)
    return ClassStats(
        students=len(runs),
        mean_total=round(sum(totals) / len(totals), 4) if totals else 0.0,
        max_total=max_total,
        full_marks=sum(1 for run in runs.values() if run.max_score and run.score >= run.max_score),
        exercises=exercises,
        top_failures=top,
    )


def _exercise_stats(
    ex_id: str, slug: str, title: str, max_score: float, runs: Mapping[str, RunResult]
) -> ExerciseStats:
    results = [ex for run in runs.values() for ex in run.exercises if ex.id == ex_id]
    statuses = Counter(ex.status.value for ex in results)
    problems = Counter(normalise(ex.message) for ex in results if ex.status is ExerciseStatus.ERROR and ex.message)
    check_order: dict[str, tuple[str, bool]] = {}
    for ex in results:
        for check in ex.checks:
            check_order.setdefault(check.id, (check.name, check.hidden))
    checks = []
    for check_id, (name, hidden) in check_order.items():
        ran = passed = 0
        messages: Counter[str] = Counter()
        for ex in results:
            if ex.status is ExerciseStatus.NOT_STARTED:
                continue
            for check in ex.checks:
                if check.id != check_id:
                    continue
                ran += 1
                if check.passed:
                    passed += 1
                elif ex.status is not ExerciseStatus.ERROR:  # crashes are listed once, as problems
                    messages[normalise(check.message)] += 1
        checks.append(CheckStats(check_id, name, hidden, ran, passed, _top(messages, TOP_PER_CHECK)))
    return ExerciseStats(
        id=ex_id,
        slug=slug,
        title=title,
        max_score=max_score,
        students=len(results),
        mean_score=round(sum(ex.score for ex in results) / len(results), 4) if results else 0.0,
        full_marks=sum(1 for ex in results if ex.status is ExerciseStatus.PASSED),
        statuses=tuple((s.value, statuses[s.value]) for s in ExerciseStatus if statuses[s.value]),
        checks=tuple(checks),
        problems=_top(problems, TOP_PER_CHECK),
    )


def _top(counter: Counter[str], n: int) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n])
