"""Unit tests of grader.results: the result model and scoring (pure functions)."""

from __future__ import annotations

import pytest

from grader.results import (
    CheckResult,
    CheckStatus,
    ExerciseResult,
    ExerciseStatus,
    RunResult,
    exercise_result,
    exit_code,
    weigh_checks,
    without_hidden,
    zero_result,
)


def check(name: str, status: CheckStatus = CheckStatus.PASSED, weight: float = 1.0, **extra: object) -> CheckResult:
    return CheckResult(id=f"test_x.py::{name}", name=name, status=status, weight=weight, **extra)  # type: ignore[arg-type]


def scored(checks: list[CheckResult], points: float = 10.0, **extra: object) -> ExerciseResult:
    return exercise_result(id="ex01", slug="s", title="T", points=points, checks=checks, **extra)  # type: ignore[arg-type]


def ex_with(status: ExerciseStatus, score: float = 0.0, max_score: float = 10.0) -> ExerciseResult:
    return ExerciseResult(id="ex01", slug="s", title="T", status=status, max_score=max_score, score=score)


class TestWeights:
    """A check's share of the points is its weight over the exercise's total weight."""

    def test_equal_weights_split_evenly(self) -> None:
        """four checks of weight 1 share 10 points as 2.5 each"""
        weighed = weigh_checks([check(f"c{i}") for i in range(4)], 10)
        assert [c.max_score for c in weighed] == [2.5] * 4

    def test_shares_follow_weights(self) -> None:
        """weights 1, 2, 3 of 12 points give 2, 4, 6"""
        weighed = weigh_checks([check("a", weight=1), check("b", weight=2), check("c", weight=3)], 12)
        assert [c.max_score for c in weighed] == [2.0, 4.0, 6.0]

    def test_shares_are_rounded_to_four_places(self) -> None:
        """thirds are rounded, and still add up to the points within rounding"""
        weighed = weigh_checks([check("a"), check("b"), check("c")], 10)
        assert [c.max_score for c in weighed] == [3.3333] * 3
        assert sum(c.max_score for c in weighed) == pytest.approx(10, abs=1e-3)

    def test_all_or_nothing_per_check(self) -> None:
        """a passed check earns its whole share, any other verdict earns nothing"""
        checks = [
            check("ok", weight=2),
            check("bad", CheckStatus.FAILED),
            check("crash", CheckStatus.ERROR),
            check("slow", CheckStatus.TIMEOUT),
        ]
        weighed = weigh_checks(checks, 10)
        assert [c.score for c in weighed] == [4.0, 0.0, 0.0, 0.0]
        assert [c.max_score for c in weighed] == [4.0, 2.0, 2.0, 2.0]

    def test_zero_total_weight_scores_nothing(self) -> None:
        """checks of weight 0 share nothing (no division by zero)"""
        weighed = weigh_checks([check("a", weight=0)], 10)
        assert (weighed[0].score, weighed[0].max_score) == (0.0, 0.0)

    def test_inputs_are_not_changed(self) -> None:
        """weighing returns new results; the originals are frozen and untouched"""
        original = check("a")
        weigh_checks([original], 10)
        assert original.max_score == 0.0


class TestExerciseStatus:
    """An exercise passes only when every check passed; no check at all is an error."""

    def test_all_passed_is_full_marks(self) -> None:
        """every check passed: status passed, score = points"""
        result = scored([check("a"), check("b", weight=3)], points=8, duration_s=1.23456)
        assert result.status is ExerciseStatus.PASSED
        assert (result.score, result.max_score) == (8.0, 8.0)
        assert result.full_marks
        assert result.duration_s == 1.235
        assert result.first_failure is None

    def test_one_failure_fails_the_exercise(self) -> None:
        """one failing check: status failed, the other checks still score"""
        result = scored([check("a", weight=3), check("b", CheckStatus.FAILED)], points=8)
        assert result.status is ExerciseStatus.FAILED
        assert result.score == 6.0
        assert not result.full_marks
        assert result.first_failure is not None and result.first_failure.name == "b"

    def test_timeout_and_error_fail_too(self) -> None:
        """timeouts and errors count as failures"""
        for status in (CheckStatus.TIMEOUT, CheckStatus.ERROR):
            assert scored([check("a"), check("b", status)]).status is ExerciseStatus.FAILED

    def test_rounded_shares_do_not_exceed_full_marks(self) -> None:
        """three thirds of 10 points score exactly 10, never 10.0001 or 9.9999"""
        result = scored([check("a"), check("b"), check("c")], points=10)
        assert result.score == 10.0
        assert result.full_marks
        partial = scored([check("a"), check("b"), check("c", CheckStatus.FAILED)], points=10)
        assert partial.score == 6.6667
        nine = scored([check(f"c{i}") for i in range(9)] + [check("x", CheckStatus.FAILED)] * 2, points=7)
        assert nine.score == round(7 * 9 / 11, 4)

    def test_no_checks_is_an_error(self) -> None:
        """an exercise whose checks could not be collected scores zero with a reason"""
        result = scored([])
        assert result.status is ExerciseStatus.ERROR
        assert result.score == 0.0
        assert result.message == "no check ran: the checks could not be collected"

    def test_zero_result_keeps_shares_but_scores_nothing(self) -> None:
        """an import error zeroes the exercise; each check keeps its max_score"""
        result = zero_result(
            id="ex01", slug="s", title="T", points=10, status=ExerciseStatus.ERROR, message="boom",
            checks=[check("a"), check("b")],
        )  # fmt: skip
        assert result.status is ExerciseStatus.ERROR and result.message == "boom"
        assert result.score == 0.0 and result.max_score == 10.0
        assert [(c.score, c.max_score) for c in result.checks] == [(0.0, 5.0), (0.0, 5.0)]

    @pytest.mark.parametrize("status", [ExerciseStatus.NOT_STARTED, ExerciseStatus.UNSUPPORTED])
    def test_zero_result_without_checks(self, status: ExerciseStatus) -> None:
        """not started and unsupported exercises carry no checks"""
        result = zero_result(id="ex01", slug="s", title="T", points=10, status=status, message="why")
        assert result.checks == () and result.score == 0.0 and result.max_score == 10.0


class TestRun:
    """The run's totals and exit code come from its exercises."""

    def test_totals_sum_the_exercises(self) -> None:
        """score and max_score add up, rounded"""
        run = RunResult(
            target="t", python="3",
            exercises=(ex_with(ExerciseStatus.PASSED, 10 / 3, 10 / 3), ex_with(ExerciseStatus.FAILED, 1.5, 10)),
        )  # fmt: skip
        assert run.score == round(10 / 3 + 1.5, 4)
        assert run.max_score == round(10 / 3 + 10, 4)

    def test_exit_zero_when_everything_passed(self) -> None:
        """exit 0: every graded exercise at full marks"""
        run = RunResult("t", "3", (ex_with(ExerciseStatus.PASSED, 10), ex_with(ExerciseStatus.PASSED, 10)))
        assert exit_code(run) == 0

    @pytest.mark.parametrize(
        "status", [ExerciseStatus.FAILED, ExerciseStatus.ERROR, ExerciseStatus.NOT_STARTED]
    )
    def test_exit_one_when_anything_is_not_done(self, status: ExerciseStatus) -> None:
        """exit 1: some exercise failed, crashed or was not started"""
        run = RunResult("t", "3", (ex_with(ExerciseStatus.PASSED, 10), ex_with(status)))
        assert exit_code(run) == 1

    def test_unsupported_exercises_do_not_count(self) -> None:
        """an exercise this Python cannot run does not fail the run"""
        run = RunResult("t", "3", (ex_with(ExerciseStatus.PASSED, 10), ex_with(ExerciseStatus.UNSUPPORTED)))
        assert exit_code(run) == 0


class TestHiddenChecks:
    """Student views mask hidden checks' names and messages, never their points."""

    def test_hidden_checks_are_masked(self) -> None:
        """name, message and output of a hidden check are replaced; scores stay"""
        hidden = check("secret edge case", CheckStatus.FAILED, hidden=True, message="reveals the test", output="x")
        visible = check("visible", CheckStatus.FAILED, message="teaches")
        run = RunResult("t", "3", (scored([hidden, visible]),))
        masked = without_hidden(run)
        first, second = masked.exercises[0].checks
        assert (first.name, first.message, first.output) == ("hidden check", None, "")
        assert (first.score, first.max_score, first.hidden) == (0.0, 5.0, True)
        assert second == run.exercises[0].checks[1]

    def test_the_original_run_is_untouched(self) -> None:
        """masking returns a new run"""
        run = RunResult("t", "3", (scored([check("secret", hidden=True)]),))
        without_hidden(run)
        assert run.exercises[0].checks[0].name == "secret"
        assert without_hidden(run).score == run.score
