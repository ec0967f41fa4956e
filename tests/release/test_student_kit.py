"""The student's copy of the kit is whole: this folder ships with `grade release`, so it
must not need the solutions, the mutants or the kit's own tests.

Every exercise in the manifest has its stub, its pristine copy and its checks; they all
compile; and grading the untouched stubs says "not started" without running anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from grader.grading import grade_target
from grader.manifest import Exercise, Kit, load_kit
from grader.results import ExerciseStatus

ROOT = Path(__file__).resolve().parents[2]
KIT = load_kit(ROOT)


@pytest.fixture(scope="module")
def kit() -> Kit:
    return KIT


class TestStudentKit:
    """What a learner needs is all there."""

    @pytest.mark.parametrize("exercise", KIT.exercises, ids=lambda e: e.id)
    def test_exercise_files_exist_and_compile(self, kit: Kit, exercise: Exercise) -> None:
        """the stub, its pristine copy and the checks exist and are valid Python"""
        for path in (kit.stub_path(exercise), kit.pristine_stub(exercise), kit.checks_path(exercise)):
            assert path.is_file(), f"{exercise.id}: missing {path}"
            ast.parse(path.read_text(encoding="utf-8"), str(path))

    def test_untouched_stubs_are_not_started(self, kit: Kit) -> None:
        """grading the pristine stubs reports every exercise as not started, instantly"""
        run = grade_target(kit, kit.exercises, kit.stubs_dir)
        assert {e.status for e in run.exercises} <= {ExerciseStatus.NOT_STARTED, ExerciseStatus.UNSUPPORTED}
