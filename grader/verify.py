"""The kit verifies itself: every check passes on ``solutions/``, every exercise fails on
its untouched stub, every mutant fails the checks it names, and no check's verdict on
the solutions changes between repeated runs (a flaky check is a bug).

A mutant is ``tests/mutants/<exNN_slug>/<what_is_wrong>.py``; its docstring has a line
``Must fail: test_a, test_b`` naming the check functions it must fail.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from grader.grading import grade_target
from grader.manifest import Exercise, Kit
from grader.results import ExerciseResult, ExerciseStatus, RunResult
from grader.sandbox import grade_exercise

_MUST_FAIL = re.compile(r"^\s*Must fail:\s*(.+)$", re.MULTILINE)


@dataclass(frozen=True)
class Mutant:
    exercise: Exercise
    path: Path
    must_fail: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.exercise.id}/{self.path.stem}"


@dataclass
class VerifyReport:
    problems: list[str] = field(default_factory=list)
    passes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def find_mutants(kit: Kit, exercise: Exercise) -> list[Mutant]:
    folder = kit.mutants_dir / exercise.module
    mutants = []
    for path in sorted(folder.glob("*.py")) if folder.is_dir() else []:
        found = _MUST_FAIL.search(path.read_text(encoding="utf-8", errors="replace"))
        names = tuple(n.strip() for n in found.group(1).split(",") if n.strip()) if found else ()
        mutants.append(Mutant(exercise, path, names))
    return mutants


def grade_file(kit: Kit, exercise: Exercise, source: Path) -> ExerciseResult:
    """Grade ``source`` as if it were the learner's file for ``exercise``."""
    with tempfile.TemporaryDirectory(prefix="awaitlings-verify-") as tmp:
        shutil.copyfile(source, Path(tmp) / exercise.filename)
        return grade_exercise(kit, exercise, Path(tmp), skip_untouched=False)


def check_mutant(kit: Kit, mutant: Mutant) -> list[str]:
    """Problems with one mutant: it passes, or survives a check it names."""
    result = grade_file(kit, mutant.exercise, mutant.path)
    if not mutant.must_fail:
        return [f"{mutant.name}: its docstring names no check (add a 'Must fail: ...' line)"]
    if result.status is ExerciseStatus.PASSED:
        return [f"{mutant.name}: the wrong answer gets full marks"]
    by_function = {c.id.split("::")[-1].split("[")[0]: c for c in result.checks}
    problems = []
    for name in mutant.must_fail:
        check = by_function.get(name)
        if check is None and result.status is not ExerciseStatus.ERROR:
            problems.append(f"{mutant.name}: names {name!r}, which is not a check of {mutant.exercise.id}")
        elif check is not None and check.passed:
            problems.append(f"{mutant.name}: survives {name!r} ({check.name})")
    return problems


def verify(
    kit: Kit,
    exercises: Sequence[Exercise],
    *,
    repeat: int = 1,
    jobs: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> VerifyReport:
    report = VerifyReport()
    say = progress or (lambda _msg: None)
    runs: list[RunResult] = []
    for attempt in range(max(1, repeat)):
        say(f"solutions, run {attempt + 1}/{max(1, repeat)}")
        run = grade_target(kit, exercises, kit.solutions_dir, jobs=jobs)
        runs.append(run)
        for ex in run.exercises:
            if ex.status is ExerciseStatus.UNSUPPORTED:
                continue
            if ex.status is not ExerciseStatus.PASSED:
                bad = [c.name for c in ex.checks if not c.passed]
                detail = ", ".join(bad) if bad else (ex.message or ex.status.value)
                report.problems.append(f"{ex.id}: the solution does not get full marks (run {attempt + 1}): {detail}")
    report.problems += _flaky(runs)
    say("stubs")
    stub_run = grade_target(kit, exercises, kit.stubs_dir, jobs=jobs, skip_untouched=False)
    for ex in stub_run.exercises:
        if ex.status is ExerciseStatus.PASSED:
            report.problems.append(f"{ex.id}: the untouched stub gets full marks")
        elif ex.status is not ExerciseStatus.UNSUPPORTED:
            report.passes.append(f"{ex.id}: stub fails ({ex.score:g}/{ex.max_score:g})")
    for exercise in exercises:
        if not exercise.supported():
            continue
        mutants = find_mutants(kit, exercise)
        if len(mutants) < 2:
            report.problems.append(f"{exercise.id}: has {len(mutants)} mutant(s), needs at least 2")
        for mutant in mutants:
            say(f"mutant {mutant.name}")
            problems = check_mutant(kit, mutant)
            report.problems += problems
            if not problems:
                report.passes.append(f"{mutant.name}: killed by {', '.join(mutant.must_fail)}")
    return report


def _flaky(runs: list[RunResult]) -> list[str]:
    if len(runs) < 2:
        return []
    verdicts: dict[str, set[str]] = {}
    for run in runs:
        for ex in run.exercises:
            for check in ex.checks:
                verdicts.setdefault(f"{ex.id} {check.name}", set()).add(check.status.value)
    return [f"flaky: {name} gave {sorted(v)} across {len(runs)} runs" for name, v in verdicts.items() if len(v) > 1]
