"""The kit verifies itself through the real grader (real sandboxed subprocesses):
every check passes on the reference solutions, every exercise fails on its untouched
stub, and every mutant (a classic wrong answer) fails each check it names."""

from __future__ import annotations

import ast
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grader.grading import grade_target
from grader.manifest import Exercise, Kit, load_kit
from grader.results import ExerciseResult, ExerciseStatus
from grader.verify import check_alternative, check_mutant, find_alternatives, find_mutants, layout_problems

ROOT = Path(__file__).resolve().parents[2]
KIT = load_kit(ROOT)
SUPPORTED = [e for e in KIT.exercises if e.supported()]
MUTANTS = [m for e in SUPPORTED for m in find_mutants(KIT, e)]
ALTERNATIVES = [(e, path) for e in SUPPORTED for path in find_alternatives(KIT, e)]


@pytest.fixture(scope="session")
def kit() -> Kit:
    return KIT


# Each test grades only its own exercise: under pytest-xdist a session fixture grading
# all of them would run once per worker.
def _graded(kit: Kit, exercise: Exercise, folder: Path, **options: bool) -> ExerciseResult:
    (result,) = grade_target(kit, [exercise], folder, **options).exercises  # type: ignore[arg-type]
    return result


class TestLayout:
    """Every exercise in the manifest has its stub, solution, checks, hints and mutants
    (the same rules as `grade verify`: ``grader.verify.layout_problems``)."""

    @pytest.mark.parametrize("exercise", KIT.exercises, ids=lambda e: e.id)
    def test_layout(self, kit: Kit, exercise: Exercise) -> None:
        """files in place, the pristine stub identical (in CI), 4-8 documented checks, hints, 2+ mutants"""
        # Outside CI an edited exercises/ file is probably the author's own work in progress.
        assert layout_problems(kit, exercise, stubs_must_match=bool(os.environ.get("CI"))) == []


    @pytest.mark.parametrize("exercise", KIT.exercises, ids=lambda e: e.id)
    def test_checks_run_split(self, kit: Kit, exercise: Exercise) -> None:
        """every check that takes the learner's module (``ex``) carries the split mark: the
        module is never imported into the process that reports the verdicts (SECURITY.md,
        step 10); a check that runs the file as a program of its own takes ``ex_path``"""
        tree = ast.parse(kit.checks_path(exercise).read_text(encoding="utf-8"))
        module_marks = [
            node.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets)
        ]
        everywhere = "split" in _attributes(module_marks)
        checks = [
            node
            for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")
        ]
        in_process = [
            node.name
            for node in checks
            if "ex" in {arg.arg for arg in node.args.args}
            and not everywhere
            and "split" not in _attributes(node.decorator_list)
        ]
        assert in_process == [], f"{exercise.id}: checks that import the learner's module in process: {in_process}"


def _attributes(nodes: list[ast.expr]) -> set[str]:
    return {n.attr for node in nodes for n in ast.walk(node) if isinstance(n, ast.Attribute)}


class TestSolutions:
    """The reference solutions get full marks on this Python."""

    @pytest.mark.parametrize("exercise", SUPPORTED, ids=lambda e: e.id)
    def test_full_marks(self, kit: Kit, exercise: Exercise) -> None:
        """every check passes on the reference solution"""
        result = _graded(kit, exercise, kit.solutions_dir)
        failing = {c.name: c.message for c in result.checks if not c.passed}
        assert result.status is ExerciseStatus.PASSED, failing or result.message
        assert result.score == result.max_score


class TestAlternatives:
    """Correct answers written differently from the reference (tests/alternatives) get full
    marks: a check that fails one is too narrow."""

    @pytest.mark.parametrize("exercise,path", ALTERNATIVES, ids=lambda v: getattr(v, "stem", "") or None)
    def test_full_marks(self, kit: Kit, exercise: Exercise, path: Path) -> None:
        """every check passes on a correct alternative"""
        assert check_alternative(kit, exercise, path) == []


class TestStubs:
    """An untouched stub never passes."""

    @pytest.mark.parametrize("exercise", SUPPORTED, ids=lambda e: e.id)
    def test_stub_fails(self, kit: Kit, exercise: Exercise) -> None:
        """the stub, graded for real, does not get full marks"""
        result = _graded(kit, exercise, kit.stubs_dir, skip_untouched=False)
        assert result.status is not ExerciseStatus.PASSED
        assert result.score < result.max_score

    def test_untouched_stubs_are_not_started(self, kit: Kit) -> None:
        """grading the pristine kit reports every exercise as not started, instantly"""
        run = grade_target(kit, kit.exercises, kit.stubs_dir)
        statuses = {e.status for e in run.exercises}
        assert statuses <= {ExerciseStatus.NOT_STARTED, ExerciseStatus.UNSUPPORTED}


#: Mutants of one exercise graded at once. A wrong answer mostly waits (for a deadline its
#: checks must run into), so a few at a time finish in the time of the slowest, not the sum.
MUTANT_THREADS = 6


class TestMutants:
    """Each classic wrong answer fails every check it names."""

    @pytest.mark.parametrize("exercise", [e for e in SUPPORTED if any(m.exercise is e for m in MUTANTS)],
                             ids=lambda e: e.id)  # fmt: skip
    def test_mutants_are_killed(self, kit: Kit, exercise: Exercise) -> None:
        """every mutant of the exercise loses the points of the checks it names"""
        mutants = [m for m in MUTANTS if m.exercise is exercise]
        with ThreadPoolExecutor(max_workers=MUTANT_THREADS, thread_name_prefix="mutant") as pool:
            problems = [p for found in pool.map(lambda m: check_mutant(kit, m), mutants) for p in found]
        assert problems == [], f"{len(problems)} problem(s) among {len(mutants)} mutants:\n" + "\n".join(problems)
