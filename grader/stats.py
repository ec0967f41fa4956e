"""Class statistics for instructors: per-check pass rates and the most common failures.

Pure: a mapping of student id to :class:`RunResult` in, frozen dataclasses out, no I/O
(``grade batch`` computes them; ``grader.reporters.classreport`` renders them).

A check's pass rate is over the students whose grading ran it: a student who did not
submit the exercise, or whose file is still the stub, is counted in the exercise's
statuses, not in its checks' rates. An exercise that could not be graded (a syntax error,
a crash at import) counts as failing each of its checks, but its message is listed once,
as the exercise's problem. An exercise whose file was not submitted at all (``absent``)
or is still the stub counts as ``not_submitted`` or ``not_started``: apart, never among
the failure messages, so the commonest misunderstanding comes first, not the absentees.

Failure messages are grouped by their first line with what differs between students only
by accident made alike: the learner's line and column numbers (``line 3, column 9``,
``ex01_hello_run.py:12``), temporary paths and memory addresses. Every other number is
part of the lesson ("At most 1 greeting ran" and "At most 2 greetings ran" are different
misunderstandings) and is kept. Each group is shown by its commonest real message.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from grader.results import ExerciseResult, ExerciseStatus, RunResult

#: What the commonest-failures list calls an exercise that could not be graded at all.
UNGRADED = "could not be graded"
#: Messages kept per check, and across the class.
TOP_PER_CHECK = 3
TOP_OVERALL = 10
MESSAGE_CAP = 200

#: The pseudo-status of an exercise whose file the submission did not hold.
NOT_SUBMITTED = "not_submitted"

_TEMP_PATH = re.compile(r"/\S*/awaitlings-[\w.-]+/(?:target/)?")
#: Where in the learner's file: "line 12", "lines 3-5", "column 9", "ex01_hello_run.py:12".
_LEARNER_LINE = re.compile(r"\b(lines?|columns?|col) \d+(?:\s*-\s*\d+)?|(\.py):\d+(?::\d+)?")
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")
#: The order statuses are listed in: graded ones first, then those that were not.
_STATUS_ORDER = (*(s.value for s in ExerciseStatus if s is not ExerciseStatus.NOT_STARTED), NOT_SUBMITTED,
                 ExerciseStatus.NOT_STARTED.value)  # fmt: skip


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

    @property
    def students_not_submitted(self) -> int:
        return dict(self.statuses).get(NOT_SUBMITTED, 0)

    @property
    def students_not_started(self) -> int:
        return dict(self.statuses).get(ExerciseStatus.NOT_STARTED.value, 0)


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
    #: The commonest failures of submitted work (neither absent files nor untouched stubs).
    top_failures: tuple[Failure, ...]
    #: Exercise files, over the class, that were not submitted / still the stub.
    not_submitted: int = 0
    not_started: int = 0


def shown(message: str | None) -> str:
    """A message as the report shows it: its first line, temporary paths gone, capped."""
    if not message:
        return "(no message)"
    first = next((line.strip() for line in message.splitlines() if line.strip()), "")
    first = " ".join(_TEMP_PATH.sub("", first).split())
    return first if len(first) <= MESSAGE_CAP else first[: MESSAGE_CAP - 1] + "…"


def group_key(message: str | None) -> str:
    """What groups equivalent failures: the shown line with the learner's line and column
    numbers and memory addresses made alike (every other number kept)."""
    line = _LEARNER_LINE.sub(lambda m: f"{m.group(2)}:#" if m.group(2) else f"{m.group(1)} #", shown(message))
    return _ADDRESS.sub("0x#", line)


class _Messages:
    """Failure messages counted by group; each group shown by its commonest real message."""

    def __init__(self) -> None:
        self._groups: dict[tuple[str, ...], Counter[str]] = {}

    def add(self, message: str | None, *scope: str) -> None:
        self._groups.setdefault((*scope, group_key(message)), Counter())[shown(message)] += 1

    def top(self, n: int | None = None) -> list[tuple[tuple[str, ...], str, int]]:
        """``(scope, shown message, students)``, most common first (ties by scope and text)."""
        rows = []
        for key, variants in self._groups.items():
            text = min(variants, key=lambda v: (-variants[v], v))
            rows.append((key[:-1], text, sum(variants.values())))
        rows.sort(key=lambda row: (-row[2], row[0], row[1]))
        return rows if n is None else rows[:n]


def class_stats(runs: Mapping[str, RunResult], absent: Mapping[str, Collection[str]] | None = None) -> ClassStats:
    """Statistics over every student's run (exercise order from the first run that has it).

    ``absent`` maps a student to the exercises their submission held no file for: those
    count as ``not_submitted``, apart from the failures. The result depends on the runs,
    not on the mapping's order (students are taken sorted by id)."""
    ordered = [(student, runs[student]) for student in sorted(runs)]
    missing = {student: frozenset((absent or {}).get(student, ())) for student, _run in ordered}
    order: dict[str, tuple[str, str, float]] = {}
    for _student, run in ordered:
        for ex in run.exercises:
            order.setdefault(ex.id, (ex.slug, ex.title, ex.max_score))
    exercises = tuple(_exercise_stats(ex_id, *meta, ordered, missing) for ex_id, meta in order.items())
    overall = _Messages()
    for student, run in ordered:
        for ex in run.exercises:
            if ex.id in missing[student]:
                continue
            if ex.status is ExerciseStatus.ERROR:  # one problem, not one per check it zeroed
                overall.add(ex.message, ex.id, UNGRADED)
            elif ex.status is ExerciseStatus.FAILED:
                for check in ex.checks:
                    if not check.passed:
                        overall.add(check.message, ex.id, check.name)
    top = tuple(
        Failure(exercise=ex_id, check=name, message=message, students=count)
        for (ex_id, name), message, count in overall.top(TOP_OVERALL)
    )
    totals = [run.score for _student, run in ordered]
    max_total = max((run.max_score for _student, run in ordered), default=0.0)
    return ClassStats(
        students=len(ordered),
        mean_total=round(sum(totals) / len(totals), 4) if totals else 0.0,
        max_total=max_total,
        full_marks=sum(1 for _student, run in ordered if run.max_score and run.score >= run.max_score),
        exercises=exercises,
        top_failures=top,
        not_submitted=sum(ex.students_not_submitted for ex in exercises),
        not_started=sum(ex.students_not_started for ex in exercises),
    )


def _status(ex: ExerciseResult, absent: frozenset[str]) -> str:
    return NOT_SUBMITTED if ex.id in absent else ex.status.value


def _exercise_stats(
    ex_id: str,
    slug: str,
    title: str,
    max_score: float,
    runs: Sequence[tuple[str, RunResult]],
    absent: Mapping[str, frozenset[str]],
) -> ExerciseStats:
    results = [(ex, absent[student]) for student, run in runs for ex in run.exercises if ex.id == ex_id]
    statuses = Counter(_status(ex, gone) for ex, gone in results)
    problems = _Messages()
    for ex, gone in results:
        if ex.status is ExerciseStatus.ERROR and ex.message and ex.id not in gone:
            problems.add(ex.message)
    check_order: dict[str, tuple[str, bool]] = {}
    for ex, _gone in results:
        for check in ex.checks:
            check_order.setdefault(check.id, (check.name, check.hidden))
    checks = []
    for check_id, (name, hidden) in check_order.items():
        ran = passed = 0
        messages = _Messages()
        for ex, _gone in results:
            if ex.status is ExerciseStatus.NOT_STARTED:
                continue
            for check in ex.checks:
                if check.id != check_id:
                    continue
                ran += 1
                if check.passed:
                    passed += 1
                elif ex.status is not ExerciseStatus.ERROR:  # crashes are listed once, as problems
                    messages.add(check.message)
        checks.append(CheckStats(check_id, name, hidden, ran, passed, _top(messages, TOP_PER_CHECK)))
    scores = [ex.score for ex, _gone in results]
    return ExerciseStats(
        id=ex_id,
        slug=slug,
        title=title,
        max_score=max_score,
        students=len(results),
        mean_score=round(sum(scores) / len(scores), 4) if scores else 0.0,
        full_marks=sum(1 for ex, _gone in results if ex.status is ExerciseStatus.PASSED),
        statuses=tuple((s, statuses[s]) for s in _STATUS_ORDER if statuses[s]),
        checks=tuple(checks),
        problems=_top(problems, TOP_PER_CHECK),
    )


def _top(messages: _Messages, n: int) -> tuple[tuple[str, int], ...]:
    return tuple((text, count) for _scope, text, count in messages.top(n))
