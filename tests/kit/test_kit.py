"""The kit verifies itself through the real grader (real sandboxed subprocesses):
every check passes on the reference solutions, every exercise fails on its untouched
stub, and every mutant (a classic wrong answer) fails each check it names."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from grader.grading import grade_target
from grader.manifest import Exercise, Kit, load_kit
from grader.results import ExerciseStatus, RunResult
from grader.verify import Mutant, check_mutant, find_mutants

ROOT = Path(__file__).resolve().parents[2]
KIT = load_kit(ROOT)
SUPPORTED = [e for e in KIT.exercises if e.supported()]
MUTANTS = [m for e in SUPPORTED for m in find_mutants(KIT, e)]


@pytest.fixture(scope="session")
def kit() -> Kit:
    return KIT


@pytest.fixture(scope="session")
def solutions_run(kit: Kit) -> RunResult:
    return grade_target(kit, SUPPORTED, kit.solutions_dir)


@pytest.fixture(scope="session")
def stubs_run(kit: Kit) -> RunResult:
    return grade_target(kit, SUPPORTED, kit.stubs_dir, skip_untouched=False)


def _by_id(run: RunResult, exercise: Exercise):  # type: ignore[no-untyped-def]
    return next(e for e in run.exercises if e.id == exercise.id)


class TestLayout:
    """Every exercise in the manifest has its stub, solution, checks and mutants."""

    @pytest.mark.parametrize("exercise", KIT.exercises, ids=lambda e: e.id)
    def test_files_exist(self, kit: Kit, exercise: Exercise) -> None:
        """stub, pristine stub, solution and checks exist under the manifest's names"""
        for path in (
            kit.stub_path(exercise),
            kit.pristine_stub(exercise),
            kit.solutions_dir / exercise.filename,
            kit.checks_path(exercise),
        ):
            assert path.is_file(), f"{exercise.id}: missing {path.relative_to(ROOT)}"

    @pytest.mark.parametrize("exercise", KIT.exercises, ids=lambda e: e.id)
    def test_pristine_stub_matches_the_stub(self, kit: Kit, exercise: Exercise) -> None:
        """grader/stubs/ holds exactly the stub shipped in exercises/"""
        shipped = kit.stub_path(exercise).read_bytes()
        pristine = kit.pristine_stub(exercise).read_bytes()
        if shipped != pristine and not os.environ.get("CI"):
            pytest.skip(f"exercises/{exercise.filename} was edited (your work?); CI compares them")
        assert pristine == shipped, f"grader/stubs/{exercise.filename} differs from exercises/: copy the stub over"

    @pytest.mark.parametrize("exercise", KIT.exercises, ids=lambda e: e.id)
    def test_checks_are_named_and_counted(self, kit: Kit, exercise: Exercise) -> None:
        """4-8 checks, each with a one-line docstring (its name in reports)"""
        tree = ast.parse(kit.checks_path(exercise).read_text(encoding="utf-8"))
        checks = [
            node
            for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")
        ]
        assert 4 <= len(checks) <= 8, f"{exercise.id} has {len(checks)} checks"
        for node in checks:
            doc = ast.get_docstring(node)
            assert doc and "\n" not in doc.strip(), f"{exercise.id}::{node.name} needs a one-line docstring"

    @pytest.mark.parametrize("exercise", KIT.exercises, ids=lambda e: e.id)
    def test_at_least_two_mutants(self, kit: Kit, exercise: Exercise) -> None:
        """each exercise keeps at least two classic wrong answers"""
        mutants = find_mutants(kit, exercise)
        assert len(mutants) >= 2
        assert all(m.must_fail for m in mutants), "each mutant names the checks it must fail"


class TestSolutions:
    """The reference solutions get full marks on this Python."""

    @pytest.mark.parametrize("exercise", SUPPORTED, ids=lambda e: e.id)
    def test_full_marks(self, solutions_run: RunResult, exercise: Exercise) -> None:
        """every check passes on the reference solution"""
        result = _by_id(solutions_run, exercise)
        failing = {c.name: c.message for c in result.checks if not c.passed}
        assert result.status is ExerciseStatus.PASSED, failing or result.message
        assert result.score == result.max_score


class TestStubs:
    """An untouched stub never passes."""

    @pytest.mark.parametrize("exercise", SUPPORTED, ids=lambda e: e.id)
    def test_stub_fails(self, stubs_run: RunResult, exercise: Exercise) -> None:
        """the stub, graded for real, does not get full marks"""
        result = _by_id(stubs_run, exercise)
        assert result.status is not ExerciseStatus.PASSED
        assert result.score < result.max_score

    def test_untouched_stubs_are_not_started(self, kit: Kit) -> None:
        """grading the pristine kit reports every exercise as not started, instantly"""
        run = grade_target(kit, kit.exercises, kit.stubs_dir)
        statuses = {e.status for e in run.exercises}
        assert statuses <= {ExerciseStatus.NOT_STARTED, ExerciseStatus.UNSUPPORTED}


class TestMutants:
    """Each classic wrong answer fails every check it names."""

    @pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
    def test_mutant_is_killed(self, kit: Kit, mutant: Mutant) -> None:
        """the mutant loses the points of the checks it names"""
        assert check_mutant(kit, mutant) == []
