"""The kit verifies itself: every check passes on ``solutions/``, every exercise fails on
its untouched stub, every mutant fails the checks it names, and no check's verdict on
the solutions changes between repeated runs (a flaky check is a bug).

A mutant is ``tests/mutants/<exNN_slug>/<what_is_wrong>.py``; its docstring has a line
``Must fail: test_a, test_b`` naming the check functions it must fail.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from grader import syntax
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


def find_alternatives(kit: Kit, exercise: Exercise) -> list[Path]:
    """The exercise's correct answers written differently from its reference solution."""
    folder = kit.alternatives_dir / exercise.module
    return sorted(folder.glob("*.py")) if folder.is_dir() else []


def check_alternative(kit: Kit, exercise: Exercise, path: Path) -> list[str]:
    """Problems with one correct alternative: any check it fails (a check too narrow)."""
    result = grade_file(kit, exercise, path)
    if result.status is ExerciseStatus.PASSED:
        return []
    bad = [f"{c.name} ({_said(c.message)})" if c.message else c.name for c in result.checks if not c.passed]
    detail = ", ".join(bad) if bad else (result.message or result.status.value)
    return [f"{exercise.id}/{path.stem}: a correct alternative loses points: {detail}"]


def _said(message: str, limit: int = 300) -> str:
    """A check's message on one line, cut to ``limit`` characters (enough to tell why)."""
    text = " ".join(message.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


#: How many checks an exercise has: enough to judge it, few enough to read.
CHECKS_PER_EXERCISE = (4, 8)
_HINT_MARK = re.compile(r"@pytest\.mark\.hint\((\d+)\)")


def layout_problems(kit: Kit, exercise: Exercise, *, stubs_must_match: bool = True) -> list[str]:
    """What is missing or inconsistent in one exercise's files, as rustlings' ``dev check``
    does: its stub and the identical pristine copy, its solution, 4-8 checks each with a
    one-line docstring (its name in reports), hint marks that point to existing hints, at
    least two mutants each naming existing checks. ``stubs_must_match=False`` accepts an
    edited ``exercises/`` file (a learner's work) as long as the pristine copy exists."""
    problems: list[str] = []
    where = kit.root
    for path in (kit.stub_path(exercise), kit.pristine_stub(exercise), kit.solutions_dir / exercise.filename,
                 kit.checks_path(exercise)):  # fmt: skip
        if not path.is_file():
            problems.append(f"{exercise.id}: missing {_relative(path, where)}")
    if problems:
        return problems
    if stubs_must_match and kit.stub_path(exercise).read_bytes() != kit.pristine_stub(exercise).read_bytes():
        problems.append(
            f"{exercise.id}: {_relative(kit.pristine_stub(exercise), where)} differs from "
            f"{_relative(kit.stub_path(exercise), where)}: copy the stub over"
        )
    source = kit.checks_path(exercise).read_text(encoding="utf-8")
    tree = syntax.parse(source)
    checks = [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")
    ]
    low, high = CHECKS_PER_EXERCISE
    if not low <= len(checks) <= high:
        problems.append(f"{exercise.id}: has {len(checks)} checks; an exercise has {low} to {high}")
    for node in checks:
        doc = ast.get_docstring(node)
        if not doc or "\n" in doc.strip():
            problems.append(f"{exercise.id}: {node.name} needs a one-line docstring (its name in reports)")
    if not exercise.hints:
        problems.append(f"{exercise.id}: has no hints in the manifest")
    for number in sorted({int(n) for n in _HINT_MARK.findall(source)}):
        if not 1 <= number <= len(exercise.hints):
            problems.append(f"{exercise.id}: a check points to hint {number}; the manifest has {len(exercise.hints)}")
    mutants = find_mutants(kit, exercise)
    if len(mutants) < 2:
        problems.append(f"{exercise.id}: has {len(mutants)} mutant(s), needs at least 2")
    names = {node.name for node in checks}
    for mutant in mutants:
        if not mutant.must_fail:
            problems.append(f"{mutant.name}: its docstring names no check (add a 'Must fail: ...' line)")
        for name in mutant.must_fail:
            if name not in names:
                problems.append(f"{mutant.name}: names {name!r}, which is not a check of {exercise.id}")
    return problems


def _relative(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def grade_file(kit: Kit, exercise: Exercise, source: Path) -> ExerciseResult:
    """Grade ``source`` as if it were the learner's file for ``exercise``."""
    return grade_exercise(kit, exercise, source.read_bytes(), skip_untouched=False)


def check_mutant(kit: Kit, mutant: Mutant) -> list[str]:
    """Problems with one mutant: it passes, or survives a check it names."""
    result = grade_file(kit, mutant.exercise, mutant.path)
    if not mutant.must_fail:
        return [f"{mutant.name}: its docstring names no check (add a 'Must fail: ...' line)"]
    if result.status is ExerciseStatus.PASSED:
        return [f"{mutant.name}: the wrong answer gets full marks"]
    if result.status is ExerciseStatus.ERROR and not result.checks:
        # Zeroed as a whole (tampering, a crash before any check) instead of failing the
        # checks it names: that proves nothing about those checks.
        return [f"{mutant.name}: no check judged it ({result.message})"]
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
    say("layout")
    for exercise in exercises:
        found = layout_problems(kit, exercise, stubs_must_match=False)
        report.problems += found
        if not found:
            report.passes.append(f"{exercise.id}: files, checks, hints and mutants in place")
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
        for mutant in find_mutants(kit, exercise):
            say(f"mutant {mutant.name}")
            problems = check_mutant(kit, mutant)
            report.problems += problems
            if not problems:
                report.passes.append(f"{mutant.name}: killed by {', '.join(mutant.must_fail)}")
        for path in find_alternatives(kit, exercise):
            say(f"alternative {exercise.id}/{path.stem}")
            problems = check_alternative(kit, exercise, path)
            report.problems += problems
            if not problems:
                report.passes.append(f"{exercise.id}/{path.stem}: a correct alternative gets full marks")
    report.problems = list(dict.fromkeys(report.problems))  # a mutant's naming problem is found twice
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
