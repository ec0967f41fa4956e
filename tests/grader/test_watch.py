"""``grade watch`` without a terminal: the debouncer, the session's state machine (events
in, text out, on a fake clock with a fake grader), the file watcher (polling, events,
fallback) and the runner's threads. The real terminal is in ``test_watch_tmux.py``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from grader.errors import GradingCancelled
from grader.filewatch import FileWatcher
from grader.manifest import Exercise, Kit
from grader.results import CheckResult, CheckStatus, ExerciseResult, exercise_result
from grader.state import State
from grader.watch import CLEAR, KEYS, Debouncer, Job, Session, watch

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = (ROOT / "solutions" / "ex01_hello_run.py").read_text(encoding="utf-8")


def result(exercise: Exercise, *, passed: bool) -> ExerciseResult:
    """A graded ex01 with one passing check and, unless ``passed``, one failing that
    points to hint 2."""
    second = CheckResult(id="t::b", name="main runs all greetings at once", status=CheckStatus.PASSED)
    if not passed:
        second = CheckResult(id="t::b", name="main runs all greetings at once", status=CheckStatus.FAILED,
                             message="At most 1 greeting ran at a time; all 3 should.", hint=2)  # fmt: skip
    first = CheckResult(id="t::a", name="greet is an async def function", status=CheckStatus.PASSED)
    return exercise_result(id=exercise.id, slug=exercise.slug, title=exercise.title, points=exercise.points,
                           checks=[first, second])  # fmt: skip


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


class Screen:
    """What the session showed."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def __call__(self, text: str) -> None:
        self.parts.append(text)

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def take(self) -> str:
        text, self.parts = self.text, []
        return text


@pytest.fixture
def screen() -> Screen:
    return Screen()


@pytest.fixture
def session(kit: Kit, screen: Screen) -> Session:
    return Session(kit, screen, debouncer=Debouncer(quiet=0.3, longest=2.0))


def hash_of(_exercise: Exercise) -> str:
    return "sha-of-the-file"


class TestDebouncer:
    """A burst of saves becomes one grade."""

    def test_due_after_quiet_period(self) -> None:
        """a key is due once no event came for `quiet` seconds"""
        d = Debouncer(quiet=0.3, longest=2.0)
        d.add("ex01", 10.0)
        assert d.due(10.29) == []
        assert d.next_due() == pytest.approx(10.3)
        assert d.due(10.3) == ["ex01"]
        assert d.due(11.0) == [] and d.next_due() is None

    def test_burst_is_one(self) -> None:
        """events 0.1 s apart keep postponing; the burst is due once"""
        d = Debouncer(quiet=0.3, longest=2.0)
        for t in (0.0, 0.1, 0.2, 0.3, 0.4):
            d.add("ex01", t)
            assert d.due(t) == []
        assert d.due(0.69) == []
        assert d.due(0.7) == ["ex01"]

    def test_never_waits_longer_than_longest(self) -> None:
        """saves that never stop are graded `longest` after the first"""
        d = Debouncer(quiet=0.3, longest=2.0)
        due: list[float] = []
        t = 0.0
        while t < 5:
            d.add("ex01", t)
            if d.due(t):
                due.append(t)
            t = round(t + 0.1, 2)
        assert due[0] == pytest.approx(2.0)

    def test_oldest_burst_first(self) -> None:
        """two files saved: both due, the one saved first first"""
        d = Debouncer(quiet=0.3, longest=2.0)
        d.add("ex02", 1.0)
        d.add("ex01", 1.1)
        assert d.due(5.0) == ["ex02", "ex01"]
        assert "ex01" not in d


class TestStart:
    """On start, where the learner stands: the first exercise not done."""

    def test_shows_the_current_exercise(self, session: Session, screen: Screen) -> None:
        """a fresh kit: ex01, not started, and the keys"""
        session.start(keys=True, mode="events", now=0.0)
        text = screen.text
        assert "ex01 Your first coroutine" in text and "not started" in text
        assert KEYS in text
        assert "edit exercises/ex01_hello_run.py" in text
        assert session.next_job(10.0, hash_of) is None  # nothing to grade: it is the stub

    def test_without_keys_says_how_to_stop(self, session: Session, screen: Screen) -> None:
        """stdin not a terminal: no keys, Ctrl-C"""
        session.start(keys=False, mode="polling", now=0.0)
        assert "keys are off" in screen.text and "Ctrl-C" in screen.text
        assert "(polling)" in screen.text

    def test_an_edited_file_is_graded_at_once(self, kit: Kit, session: Session) -> None:
        """a file edited since its last grade is graded on start, without waiting"""
        kit.stub_path(kit.exercises[0]).write_text(SOLUTION, encoding="utf-8")
        session.start(keys=True, mode="events", now=0.0)
        job = session.next_job(0.0, hash_of)
        assert job is not None and job.exercise.id == "ex01"

    def test_done_exercises_are_skipped(self, kit: Kit, session: Session, screen: Screen) -> None:
        """ex01 passed (and unchanged): the current one is ex02"""
        ex01 = kit.exercises[0]
        kit.stub_path(ex01).write_text(SOLUTION, encoding="utf-8")
        from grader.progress import file_hash, remember
        from grader.results import RunResult

        remember(kit, RunResult("exercises", "3", (result(ex01, passed=True),)),
                 {"ex01": file_hash(kit.stub_path(ex01))})  # fmt: skip
        session.start(keys=True, mode="events", now=0.0)
        assert "ex02 Add two things" in screen.text
        assert session.focus is not None and session.focus.id == "ex02"


class TestGrading:
    """Saves are debounced into grades, one at a time; results are compact."""

    def test_a_burst_of_saves_grades_once(self, session: Session, screen: Screen) -> None:
        """five saves in half a second: one grade, after the burst"""
        session.start(keys=True, mode="events", now=0.0)
        for t in (1.0, 1.1, 1.2, 1.3, 1.4):
            session.on_change("ex01_hello_run.py", t)
            assert session.next_job(t, hash_of) is None
        job = session.next_job(1.7, hash_of)
        assert job is not None and job.exercise.id == "ex01" and job.sha256 == "sha-of-the-file"
        assert "grading ex01…" in screen.text
        assert session.next_job(5.0, hash_of) is None

    def test_other_files_are_ignored(self, session: Session) -> None:
        """editor swap files and notes are not exercises"""
        session.start(keys=True, mode="events", now=0.0)
        for name in ("ex01_hello_run.py.swp", "notes.txt", "exercises.toml"):
            session.on_change(name, 1.0)
        assert session.next_job(9.0, hash_of) is None

    def test_a_save_while_grading_is_graded_after(self, kit: Kit, session: Session, screen: Screen) -> None:
        """while grading, keys and saves are taken; the new save is graded right after"""
        session.start(keys=True, mode="events", now=0.0)
        session.on_change("ex01_hello_run.py", 1.0)
        job = session.next_job(1.3, hash_of)
        assert job is not None
        session.on_change("ex01_hello_run.py", 1.5)
        assert session.next_job(3.0, hash_of) is None  # still grading the first save
        session.on_key("l", 3.0)  # keys answer during grading
        assert "exercises done" in screen.text
        session.on_graded(job, result(job.exercise, passed=False))
        assert "saved again while grading" in screen.text
        again = session.next_job(3.1, hash_of)
        assert again is not None and again.exercise.id == "ex01"

    def test_failure_shows_the_first_failing_check(self, kit: Kit, session: Session, screen: Screen) -> None:
        """the verdict, the first failing check, its message and its hint; state recorded"""
        session.start(keys=True, mode="events", now=0.0)
        screen.take()
        job = Job(kit.exercises[0], "abc123")
        session.grading = job
        session.on_graded(job, result(job.exercise, passed=False))
        text = screen.text
        assert "✘ ex01 Your first coroutine: failing" in text
        assert "(1 of 2 checks pass)" in text
        assert "main runs all greetings at once" in text
        assert "At most 1 greeting ran at a time" in text
        assert "see `grade hint ex01` (hint 2)" in text
        assert "greet is an async def function" not in text  # passing checks stay quiet
        last = State.load(kit.state_dir).last["ex01"]
        assert (last["status"], last["sha256"], last["first_failure_hint"]) == ("failed", "abc123", 2)

    def test_a_pass_congratulates_and_shows_the_next(self, kit: Kit, session: Session, screen: Screen) -> None:
        """done: well done, the next exercise, and the focus moves there"""
        session.start(keys=True, mode="events", now=0.0)
        job = Job(kit.exercises[0], None)
        session.grading = job
        session.on_graded(job, result(job.exercise, passed=True))
        text = screen.text
        assert "✔ ex01 Your first coroutine: done, 10/10. Well done!" in text
        assert "Next: ex02 Add two things" in text
        assert "edit exercises/ex02_adder.py" in text
        assert session.focus is not None and session.focus.id == "ex02"

    def test_the_last_exercise(self, kit: Kit, session: Session, screen: Screen) -> None:
        """nothing left: congratulations on the course"""
        from grader.progress import file_hash, remember
        from grader.results import RunResult

        ex01, ex02 = kit.exercises
        kit.stub_path(ex01).write_text(SOLUTION, encoding="utf-8")
        remember(kit, RunResult("exercises", "3", (result(ex01, passed=True),)),
                 {"ex01": file_hash(kit.stub_path(ex01))})  # fmt: skip
        kit.stub_path(ex02).write_text("def add(a, b):\n    return a + b\n", encoding="utf-8")
        session.start(keys=True, mode="events", now=0.0)
        job = session.next_job(0.0, lambda e: file_hash(kit.stub_path(e)))
        assert job is not None and job.exercise.id == "ex02"
        session.on_graded(job, exercise_result(id="ex02", slug="adder", title="Add two things", points=4,
                                               checks=[CheckResult("t::a", "adds", CheckStatus.PASSED)]))  # fmt: skip
        assert "every exercise is done" in screen.text
        assert session.focus is None

    def test_two_files_saved_together_are_graded_in_turn(self, session: Session) -> None:
        """ex02 then ex01 saved: ex02 graded first, ex01 right after"""
        session.start(keys=True, mode="events", now=0.0)
        session.on_change("ex02_adder.py", 1.0)
        session.on_change("ex01_hello_run.py", 1.05)
        first = session.next_job(2.0, hash_of)
        assert first is not None and first.exercise.id == "ex02"
        session.on_grade_failed(first, "the checks are missing")
        second = session.next_job(2.1, hash_of)
        assert second is not None and second.exercise.id == "ex01"

    def test_a_grader_failure_is_shown_and_watching_goes_on(self, kit: Kit, session: Session, screen: Screen) -> None:
        """a kit problem becomes a line, not a crash"""
        session.start(keys=True, mode="events", now=0.0)
        job = Job(kit.exercises[0], None)
        session.grading = job
        session.on_grade_failed(job, "the checks for ex01 are missing")
        assert "could not grade ex01: the checks for ex01 are missing" in screen.text
        assert session.grading is None


class TestKeys:
    """h hint, l list, n next, r re-grade, q quit."""

    def test_hint_is_shown_and_remembered(self, kit: Kit, session: Session, screen: Screen) -> None:
        """h shows the next hint of the current exercise; `grade hint` continues from there"""
        session.start(keys=True, mode="events", now=0.0)
        session.on_key("h", 1.0)
        session.on_key("h", 1.1)
        assert "Hint 1/3 for ex01: First hint" in screen.text
        assert "Hint 2/3 for ex01: Second hint" in screen.text
        assert State.load(kit.state_dir).hints == {"ex01": [1, 2]}

    def test_list_next_regrade_quit(self, session: Session, screen: Screen) -> None:
        """l shows the course map, n moves on, r queues a grade, q finishes"""
        session.start(keys=True, mode="events", now=0.0)
        session.on_key("l", 1.0)
        assert "→" in screen.text and "0/2 exercises done" in screen.text
        session.on_key("n", 1.0)
        assert session.focus is not None and session.focus.id == "ex02"
        assert "ex02 Add two things" in screen.take()
        session.on_key("r", 2.0)
        job = session.next_job(2.0, hash_of)
        assert job is not None and job.exercise.id == "ex02"
        session.on_key("Q", 2.0)
        assert session.finished

    def test_unknown_keys_do_nothing(self, session: Session, screen: Screen) -> None:
        """arrow keys and letters without a meaning change nothing"""
        session.start(keys=True, mode="events", now=0.0)
        before = screen.take()
        for key in "\x1b[Azx":
            session.on_key(key, 1.0)
        assert screen.text == "" and not session.finished and before


class TestFileWatcher:
    """Changed exercise files are reported once, by events or by polling."""

    @pytest.fixture
    def folder(self, tmp_path: Path) -> Path:
        (tmp_path / "a.py").write_text("a = 1\n", encoding="utf-8")
        (tmp_path / "b.py").write_text("b = 1\n", encoding="utf-8")
        return tmp_path

    @staticmethod
    def save(path: Path, text: str) -> None:
        path.write_text(text, encoding="utf-8")

    def test_polling_reports_each_change_once(self, folder: Path) -> None:
        """a save, a new file state, a deletion; other files ignored"""
        seen: list[str] = []
        watcher = FileWatcher(folder, ["a.py", "b.py"], seen.append, poll=True, interval=0.05)
        watcher.start()
        try:
            self.save(folder / "a.py", "a = 2\n")
            self.save(folder / "other.txt", "x")
            wait_until(lambda: seen == ["a.py"])
            (folder / "b.py").unlink()
            wait_until(lambda: seen == ["a.py", "b.py"])
            time.sleep(0.2)
            assert seen == ["a.py", "b.py"] and watcher.mode == "polling"
        finally:
            watcher.stop()

    def test_falls_back_to_polling_when_events_do_not_arrive(self, folder: Path) -> None:
        """events that never come: each change is still reported, then polling takes over"""
        seen: list[str] = []
        notices: list[str] = []

        def silent(folder: Path, names: frozenset[str], stop: threading.Event) -> Iterator[set[str]]:
            stop.wait()
            return
            yield set()

        watcher = FileWatcher(folder, ["a.py"], seen.append, on_notice=notices.append, events=silent,
                              interval=0.05, grace=0.15)  # fmt: skip
        watcher.start()
        try:
            assert watcher.mode == "events"
            self.save(folder / "a.py", "a = 2\n")
            wait_until(lambda: len(seen) == 1)
            assert watcher.mode == "events" and not notices  # one miss may be a fluke
            self.save(folder / "a.py", "a = 33\n")
            wait_until(lambda: len(seen) == 2)
            wait_until(lambda: watcher.mode == "polling")
            assert "not arriving" in notices[0] and "every 0.05s" in notices[0]
        finally:
            watcher.stop()

    def test_an_event_source_that_fails_falls_back(self, folder: Path) -> None:
        """the event watcher failing to start (an inotify limit): polling at once, and a note"""
        seen: list[str] = []
        notices: list[str] = []

        def broken(folder: Path, names: frozenset[str], stop: threading.Event) -> Iterator[set[str]]:
            raise OSError(28, "inotify watch limit reached")
            yield set()

        watcher = FileWatcher(folder, ["a.py"], seen.append, on_notice=notices.append, events=broken,
                              interval=0.05)  # fmt: skip
        watcher.start()
        try:
            wait_until(lambda: watcher.mode == "polling")
            assert "unavailable" in notices[0] and "inotify watch limit" in notices[0]
            self.save(folder / "a.py", "a = 2\n")
            wait_until(lambda: seen == ["a.py"])
        finally:
            watcher.stop()

    def test_real_events_report_once(self, folder: Path) -> None:
        """with watchfiles, a save is reported once (not again by the poller) and events stay on"""
        seen: list[str] = []
        watcher = FileWatcher(folder, ["a.py"], seen.append, interval=0.05, grace=5.0)
        watcher.start()
        try:
            time.sleep(0.3)  # let the OS watch settle
            self.save(folder / "a.py", "a = 2\n")
            wait_until(lambda: seen == ["a.py"])
            time.sleep(0.5)
            assert seen == ["a.py"] and watcher.mode == "events"
        finally:
            watcher.stop()


class TestRunner:
    """`watch()` with its threads, a fake grader and no terminal (keys off)."""

    def run_in_thread(self, kit: Kit, screen: Screen, grade: Callable[..., ExerciseResult],
                      stop: threading.Event) -> threading.Thread:  # fmt: skip
        thread = threading.Thread(
            target=watch, args=(kit, screen),
            kwargs={"poll": True, "grade": grade, "stop": stop, "debouncer": Debouncer(quiet=0.1, longest=1.0)},
            daemon=True,
        )  # fmt: skip
        thread.start()
        wait_until(lambda: "awaitlings watch" in screen.text)
        return thread

    def test_a_save_is_graded_off_the_main_loop(self, kit: Kit, screen: Screen) -> None:
        """the stub is saved as the solution: graded in a worker, congratulated, stopped cleanly"""
        graded_in: list[str] = []

        def grade(kit: Kit, exercise: Exercise, target: Path, *, cancel: threading.Event) -> ExerciseResult:
            graded_in.append(threading.current_thread().name)
            passed = "asyncio.gather" in (target / exercise.filename).read_text(encoding="utf-8")
            return result(exercise, passed=passed)

        stop = threading.Event()
        thread = self.run_in_thread(kit, screen, grade, stop)
        assert "keys are off" in screen.text
        kit.stub_path(kit.exercises[0]).write_text(SOLUTION, encoding="utf-8")
        wait_until(lambda: "Well done!" in screen.text)
        stop.set()
        thread.join(timeout=5)
        assert not thread.is_alive()
        assert graded_in == ["awaitlings-grade"]
        assert screen.text.endswith("Stopped watching.\n")
        assert State.load(kit.state_dir).last["ex01"]["status"] == "passed"

    def test_quitting_cancels_a_grade_in_progress(self, kit: Kit, screen: Screen) -> None:
        """stop while grading: the grade is cancelled, the watch returns at once"""
        started = threading.Event()
        cancelled = threading.Event()

        def slow(kit: Kit, exercise: Exercise, target: Path, *, cancel: threading.Event) -> ExerciseResult:
            started.set()
            if cancel.wait(30):
                cancelled.set()
                raise GradingCancelled("cancelled")
            raise AssertionError("never cancelled")

        stop = threading.Event()
        thread = self.run_in_thread(kit, screen, slow, stop)
        kit.stub_path(kit.exercises[0]).write_text(SOLUTION, encoding="utf-8")
        assert started.wait(10)
        t0 = time.monotonic()
        stop.set()
        thread.join(timeout=5)
        assert not thread.is_alive() and time.monotonic() - t0 < 2
        assert cancelled.is_set()


@pytest.mark.slow
class TestSandboxCancel:
    """The sandbox stops a grade on request and leaves no process behind."""

    def test_cancel_kills_a_hanging_check(self, kit: Kit) -> None:
        """a submission that hangs for minutes: cancelled within a second or two"""
        from grader.sandbox import grade_exercise

        ex01 = kit.exercises[0]
        # At import, outside any loop: a blocking call inside a coroutine is named (and its
        # check failed) by the loop monitor within a second, long before any cancel.
        hanging = SOLUTION + "\nimport time\ntime.sleep(600)\n"
        kit.stub_path(ex01).write_text(hanging, encoding="utf-8")
        cancel = threading.Event()
        timer = threading.Timer(1.5, cancel.set)
        timer.start()
        t0 = time.monotonic()
        with pytest.raises(GradingCancelled):
            grade_exercise(kit, ex01, kit.exercises_dir, cancel=cancel)
        assert time.monotonic() - t0 < 4


def with_ex03(kit: Kit) -> Kit:
    """The test kit with a third exercise (ex03, a stub and nothing else), so that "the next
    after this one" and "the next to do" can differ."""
    from grader.manifest import load_kit

    manifest = kit.exercises_dir / "exercises.toml"
    manifest.write_text(manifest.read_text(encoding="utf-8") + '\n[[exercise]]\nid = "ex03"\nslug = "third"\n'
                        'title = "A third one"\nhints = ["Think.", "Think more."]\n', encoding="utf-8")  # fmt: skip
    for folder in (kit.exercises_dir, kit.root / "grader" / "stubs"):
        (folder / "ex03_third.py").write_text('"""Exercise 03 - third."""\n', encoding="utf-8")
    return load_kit(kit.root)


def adder_result(passed: bool) -> ExerciseResult:
    status = CheckStatus.PASSED if passed else CheckStatus.FAILED
    check = CheckResult("t::a", "adds two ints", status, message=None if passed else "no")
    return exercise_result(id="ex02", slug="adder", title="Add two things", points=4, checks=[check])


class TestNextIsTheListsNext:
    """Every "next" in watch is the exercise `grade list` marks as next."""

    def test_a_pass_names_the_lists_next(self, kit: Kit, screen: Screen) -> None:
        """ex02 passes while ex01 is not started: next is ex01 (as in `grade list`), not ex03"""
        kit = with_ex03(kit)
        session = Session(kit, screen)
        session.start(keys=True, mode="events", now=0.0)
        kit.stub_path(kit.resolve("ex02")).write_text("def add(a, b):\n    return a + b\n", encoding="utf-8")
        session.on_change("ex02_adder.py", 1.0)
        job = session.next_job(5.0, lambda e: "sha")
        assert job is not None
        session.on_graded(job, adder_result(passed=True))
        assert "Next: ex01 Your first coroutine" in screen.text
        assert session.focus is not None and session.focus.id == "ex01"

    def test_n_goes_to_the_lists_next(self, kit: Kit, screen: Screen) -> None:
        """working on ex02 (failing), ex01 not started: n goes to ex01, the list's next"""
        kit = with_ex03(kit)
        session = Session(kit, screen)
        session.start(keys=True, mode="events", now=0.0)
        kit.stub_path(kit.resolve("ex02")).write_text("def add(a, b):\n    return 0\n", encoding="utf-8")
        session.on_change("ex02_adder.py", 1.0)
        job = session.next_job(5.0, lambda e: "sha")
        assert job is not None
        session.on_graded(job, adder_result(passed=False))
        screen.take()
        session.on_key("n", 6.0)
        assert session.focus is not None and session.focus.id == "ex01"
        assert "ex01 Your first coroutine" in screen.text


class TestRedraw:
    """With the screen cleared between results, h, l and n redraw it: pressing them again
    and again never piles screens up."""

    @pytest.fixture
    def clearing(self, kit: Kit, screen: Screen) -> Session:
        session = Session(kit, screen, clear=True)
        session.start(keys=True, mode="events", now=0.0)
        return session

    @staticmethod
    def last_screen(screen: Screen) -> str:
        return screen.text.rsplit(CLEAR, 1)[-1]

    def test_list_twice_is_one_list(self, clearing: Session, screen: Screen) -> None:
        """l, l: each clears first; the screen holds one course map and the keys"""
        clearing.on_key("l", 1.0)
        clearing.on_key("l", 2.0)
        assert screen.text.count(CLEAR) == 2
        shown = self.last_screen(screen)
        assert shown.count("exercises done") == 1 and shown.rstrip().endswith(KEYS)

    def test_hints_redraw_the_exercise_and_every_hint_so_far(self, clearing: Session, screen: Screen) -> None:
        """h, h: the second screen shows the exercise once, hints 1 and 2, and the keys"""
        clearing.on_key("h", 1.0)
        clearing.on_key("h", 2.0)
        shown = self.last_screen(screen)
        assert shown.count("ex01 Your first coroutine") == 1
        assert "Hint 1/3 for ex01" in shown and "Hint 2/3 for ex01" in shown
        assert shown.rstrip().endswith(KEYS)

    def test_next_redraws(self, clearing: Session, screen: Screen) -> None:
        """n: a cleared screen with the next exercise only"""
        clearing.on_key("n", 1.0)
        shown = self.last_screen(screen)
        assert "ex02 Add two things" in shown and "ex01" not in shown

    def test_without_clearing_keys_append(self, session: Session, screen: Screen) -> None:
        """--no-clear (or not a terminal): nothing is cleared, each answer goes below"""
        session.start(keys=True, mode="events", now=0.0)
        session.on_key("l", 1.0)
        session.on_key("h", 1.0)
        assert CLEAR not in screen.text and "exercises done" in screen.text and "Hint 1/3" in screen.text
