"""Where the learner stands: the last result per exercise, judged against the file now."""

from __future__ import annotations

from grader.manifest import Exercise, Kit
from grader.progress import Progress, Standing, course_map, file_hash, hashes, hint_now, next_up, progress_of, remember
from grader.reporters.learner import render_course_map
from grader.results import CheckResult, CheckStatus, ExerciseResult, ExerciseStatus, RunResult, exercise_result
from grader.state import State

WORK = "async def greet(name, delay):\n    return 'mine'\n"


def failing(exercise: Exercise) -> ExerciseResult:
    checks = [
        CheckResult("t::a", "greet is an async def function", CheckStatus.PASSED),
        CheckResult("t::b", "main runs all greetings at once", CheckStatus.FAILED, weight=4, message="m", hint=2),
    ]
    return exercise_result(id=exercise.id, slug=exercise.slug, title=exercise.title, points=exercise.points,
                           checks=checks)  # fmt: skip


def graded(kit: Kit, result: ExerciseResult) -> None:
    remember(kit, RunResult("exercises", "3.11", (result,)), hashes(kit, [kit.resolve(result.id)]))


class TestRecord:
    """A grade is remembered with the hash of the file it graded."""

    def test_record_keeps_hash_counts_and_hint(self, kit: Kit) -> None:
        """sha256, checks passed/total and the first failure's hint are saved"""
        ex01 = kit.exercises[0]
        kit.stub_path(ex01).write_text(WORK, encoding="utf-8")
        graded(kit, failing(ex01))
        last = State.load(kit.state_dir).last["ex01"]
        assert last["sha256"] == file_hash(kit.stub_path(ex01))
        assert (last["checks_passed"], last["checks"], last["first_failure_hint"]) == (1, 2, 2)
        assert last["first_failure"] == "main runs all greetings at once"

    def test_show_hint_marks_only_that_hint_shown(self, kit: Kit) -> None:
        """asking for hint 2 directly shows hint 2; hint 1, never shown, is the next"""
        state = State.load(kit.state_dir)
        assert state.show_hint("ex01", 2, 3) == 1
        assert state.next_hint("ex01", 3) == 0
        assert state.next_hint("ex01", 3) == 2
        assert state.show_hint("ex01", 9, 3) == 2  # clamped to the last
        assert state.shown("ex01", 3) == [1, 2, 3]


class TestHintNow:
    """`grade hint` and `h` in watch: first the hint the last grade's first failing check
    points to, once; then the others in order."""

    def test_the_failing_checks_hint_comes_first(self, kit: Kit) -> None:
        """ex01 failing on a check that points to hint 2: hint 2, named for that check"""
        ex01 = kit.exercises[0]
        kit.stub_path(ex01).write_text(WORK, encoding="utf-8")
        graded(kit, failing(ex01))
        state = State.load(kit.state_dir)
        assert hint_now(kit, state, ex01) == (1, "main runs all greetings at once")
        assert hint_now(kit, state, ex01) == (0, None)  # shown once: then the others in order
        assert hint_now(kit, state, ex01) == (2, None)

    def test_an_already_shown_hint_is_not_repeated(self, kit: Kit) -> None:
        """hint 2 already seen: the next one in order, without a reason"""
        ex01 = kit.exercises[0]
        kit.stub_path(ex01).write_text(WORK, encoding="utf-8")
        graded(kit, failing(ex01))
        state = State.load(kit.state_dir)
        state.show_hint("ex01", 2, 3)
        assert hint_now(kit, state, ex01) == (0, None)

    def test_without_a_failing_grade_hints_go_in_order(self, kit: Kit) -> None:
        """a stub never graded: hint 1"""
        state = State.load(kit.state_dir)
        assert hint_now(kit, state, kit.exercises[0]) == (0, None)


class TestNextUp:
    """One function says which exercise is next, for `grade list`, `grade` and `grade watch`."""

    def rows(self, kit: Kit, done: set[str]) -> tuple[Progress, ...]:
        return tuple(Progress(e, Standing.DONE if e.id in done else Standing.NOT_STARTED) for e in kit.exercises)

    def test_the_first_not_done(self, kit: Kit) -> None:
        """ex01 done: ex02 is next, whichever exercise is on screen"""
        rows = self.rows(kit, {"ex01"})
        assert next_up(rows) is rows[1]
        assert next_up(rows, "ex01") is rows[1]

    def test_the_focus_moves_on(self, kit: Kit) -> None:
        """the next one is on screen already: `n` goes to the one after it"""
        rows = self.rows(kit, set())
        assert next_up(rows, "ex01") is rows[1]
        assert next_up(rows, "ex02") is rows[0]

    def test_nothing_left(self, kit: Kit) -> None:
        """every exercise done: None; only the one on screen left: None"""
        assert next_up(self.rows(kit, {"ex01", "ex02"})) is None
        assert next_up(self.rows(kit, {"ex02"}), "ex01") is None


class TestStanding:
    """Each exercise's standing comes from its last grade and its file now."""

    def test_fresh_kit(self, kit: Kit) -> None:
        """every file is the stub: not started, and the first is current"""
        rows = course_map(kit, State.load(kit.state_dir))
        assert [r.standing for r in rows] == [Standing.NOT_STARTED, Standing.NOT_STARTED]
        row = next_up(rows)
        assert row is not None and row.exercise.id == "ex01"

    def test_edited_never_graded(self, kit: Kit) -> None:
        """an edited file without a grade is 'not graded'"""
        kit.stub_path(kit.exercises[0]).write_text(WORK, encoding="utf-8")
        row = progress_of(kit, kit.exercises[0], None)
        assert row.standing is Standing.NOT_GRADED and not row.changed

    def test_graded_and_unchanged(self, kit: Kit) -> None:
        """the saved result holds while the file is the one graded"""
        ex01 = kit.exercises[0]
        kit.stub_path(ex01).write_text(WORK, encoding="utf-8")
        graded(kit, failing(ex01))
        row = course_map(kit, State.load(kit.state_dir))[0]
        assert (row.standing, row.score, row.changed) == (Standing.FAILING, 2.0, False)
        assert row.first_failure == "main runs all greetings at once" and row.first_failure_hint == 2

    def test_changed_since_last_grade(self, kit: Kit) -> None:
        """a save after grading: the file hash differs, the row says so"""
        ex01 = kit.exercises[0]
        kit.stub_path(ex01).write_text(WORK, encoding="utf-8")
        graded(kit, failing(ex01))
        kit.stub_path(ex01).write_text(WORK + "# more\n", encoding="utf-8")
        row = course_map(kit, State.load(kit.state_dir))[0]
        assert row.standing is Standing.FAILING and row.changed

    def test_passed_then_changed_is_not_done(self, kit: Kit) -> None:
        """done means: passed, and still the file that passed"""
        ex01 = kit.exercises[0]
        kit.stub_path(ex01).write_text(WORK, encoding="utf-8")
        passed = exercise_result(id="ex01", slug="hello_run", title="t", points=10,
                                 checks=[CheckResult("t::a", "a", CheckStatus.PASSED)])  # fmt: skip
        graded(kit, passed)
        assert course_map(kit, State.load(kit.state_dir))[0].done
        kit.stub_path(ex01).write_text(WORK + "\nx = 1\n", encoding="utf-8")
        rows = course_map(kit, State.load(kit.state_dir))
        assert not rows[0].done and rows[0].changed
        assert next_up(rows) is rows[0]

    def test_reset_file_is_not_started_again(self, kit: Kit) -> None:
        """back to the stub: not started, whatever was graded before"""
        ex01 = kit.exercises[0]
        kit.stub_path(ex01).write_text(WORK, encoding="utf-8")
        graded(kit, failing(ex01))
        kit.stub_path(ex01).write_bytes(kit.pristine_stub(ex01).read_bytes())
        assert course_map(kit, State.load(kit.state_dir))[0].standing is Standing.NOT_STARTED

    def test_missing_file(self, kit: Kit) -> None:
        """a deleted exercise file is 'missing'"""
        kit.stub_path(kit.exercises[1]).unlink()
        assert course_map(kit, State.load(kit.state_dir))[1].standing is Standing.MISSING

    def test_old_state_without_hash(self, kit: Kit) -> None:
        """a result saved by an older version (no hash) is shown, never as changed"""
        ex01 = kit.exercises[0]
        kit.stub_path(ex01).write_text(WORK, encoding="utf-8")
        row = progress_of(kit, ex01, {"status": "failed", "score": 3, "max_score": 10, "at": "2026-01-01T00:00:00"})
        assert (row.standing, row.score, row.changed) == (Standing.FAILING, 3.0, False)

    def test_garbage_in_state_is_harmless(self, kit: Kit) -> None:
        """unknown statuses and wrong types do not crash the list"""
        ex01 = kit.exercises[0]
        kit.stub_path(ex01).write_text(WORK, encoding="utf-8")
        row = progress_of(kit, ex01, {"status": "exploded", "score": "many", "sha256": 5, "checks": True})
        assert row.standing is Standing.NOT_GRADED and row.score is None and row.checks is None


class TestCourseMap:
    """`grade list` text: fits 80 columns, marks changes and the next exercise."""

    def test_renders_status_changed_and_next(self, kit: Kit) -> None:
        """status words, points, the * legend and the next exercise"""
        ex01 = kit.exercises[0]
        kit.stub_path(ex01).write_text(WORK, encoding="utf-8")
        graded(kit, failing(ex01))
        kit.stub_path(ex01).write_text(WORK + "# edited\n", encoding="utf-8")
        text = render_course_map(course_map(kit, State.load(kit.state_dir)), width=80)
        lines = text.splitlines()
        assert lines[0].startswith("→") and "ex01" in lines[0] and "✘ failing *" in lines[0] and "2/10" in lines[0]
        assert "ex02" in lines[1] and "· not started" in lines[1] and "-/4" in lines[1]
        assert "* changed since last grade" in text
        assert "Next: ex01 Your first coroutine" in text
        assert all(len(line) <= 80 for line in lines)
        assert "\x1b[" not in text

    def test_all_done(self, kit: Kit) -> None:
        """nothing left: said so, no 'Next'"""
        for ex in kit.exercises:
            kit.stub_path(ex).write_text(f"# done {ex.id}\n", encoding="utf-8")
            graded(kit, exercise_result(id=ex.id, slug=ex.slug, title=ex.title, points=ex.points,
                                        checks=[CheckResult("t::a", "a", CheckStatus.PASSED)]))  # fmt: skip
        text = render_course_map(course_map(kit, State.load(kit.state_dir)))
        assert "2/2 exercises done · 14/14 points" in text and "Every exercise is done" in text
        assert "Next:" not in text

    def test_totals_count_rows_as_they_read(self, kit: Kit) -> None:
        """a done exercise changed since (*) still shows its points and its "done": the
        totals count it the same way"""
        ex01 = kit.exercises[0]
        kit.stub_path(ex01).write_text(WORK, encoding="utf-8")
        graded(kit, exercise_result(id="ex01", slug=ex01.slug, title=ex01.title, points=ex01.points,
                                    checks=[CheckResult("t::a", "a", CheckStatus.PASSED)]))  # fmt: skip
        kit.stub_path(ex01).write_text(WORK + "# edited\n", encoding="utf-8")
        text = render_course_map(course_map(kit, State.load(kit.state_dir)))
        assert "✔ done *" in text and "10/10" in text
        assert "1/2 exercises done · 10/14 points" in text

    def test_points_have_one_decimal_and_add_up(self, kit: Kit) -> None:
        """scores of 6.3636/10 and 2.6667/4 read 6.4 and 2.7, and the total is their sum as
        shown, 9.1 (not the exact total rounded, 9.0)"""
        ex01, ex02 = kit.exercises
        for ex in kit.exercises:
            kit.stub_path(ex).write_text(WORK, encoding="utf-8")
        seven_of_eleven = [CheckResult("t::a", "a", CheckStatus.PASSED, weight=7),
                           CheckResult("t::b", "b", CheckStatus.FAILED, weight=4)]  # fmt: skip
        two_of_three = [CheckResult("t::a", "a", CheckStatus.PASSED, weight=2),
                        CheckResult("t::b", "b", CheckStatus.FAILED)]  # fmt: skip
        graded(kit, exercise_result(id="ex01", slug=ex01.slug, title=ex01.title, points=10, checks=seven_of_eleven))
        graded(kit, exercise_result(id="ex02", slug=ex02.slug, title=ex02.title, points=4, checks=two_of_three))
        text = render_course_map(course_map(kit, State.load(kit.state_dir)))
        assert "6.4/10" in text and "2.7/4" in text
        assert "9.1/14 points" in text
        assert "6.3636" not in text and "2.6667" not in text

    def test_colour_only_when_asked(self, kit: Kit) -> None:
        """ANSI codes appear only with color=True"""
        rows = course_map(kit, State.load(kit.state_dir))
        assert "\x1b[" in render_course_map(rows, color=True)
        assert "\x1b[" not in render_course_map(rows, color=False)


def test_statuses_map_to_standings() -> None:
    """every exercise status has a standing"""
    from grader.progress import _FROM_STATUS

    assert set(_FROM_STATUS) == {s.value for s in ExerciseStatus}
