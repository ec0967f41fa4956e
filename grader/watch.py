"""``grade watch``: re-grade the exercise being edited on every save.

Three kinds of thread, one owner of the state. The main thread runs a :class:`Session`
(a state machine: events in, text out) fed from one queue: file changes
(:mod:`grader.filewatch`), key presses (:mod:`grader.keys`) and finished grades. A save
burst is debounced into one grade (:class:`Debouncer`); grading runs in a worker thread,
one exercise at a time, so keys answer at once; a save that arrives while grading is
graded right after. Quitting (``q``, Ctrl-C, SIGTERM) cancels a grade in progress,
kills its sandbox, and restores the terminal.
"""

from __future__ import annotations

import contextlib
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Protocol, TextIO

from grader.errors import GraderError, GradingCancelled
from grader.filewatch import FileWatcher
from grader.keys import KeyReader, cbreak
from grader.manifest import Exercise, Kit
from grader.progress import Progress, Standing, course_map, file_hash, hint_now, next_up, remember
from grader.reporters import learner
from grader.results import ExerciseResult, ExerciseStatus, RunResult
from grader.state import State

#: Grade once no save came for this long...
QUIET_S = 0.3
#: ...but never later than this after the first save of a burst (an editor that keeps
#: writing, a formatter running after the save).
LONGEST_S = 2.0
CLEAR = "\x1b[H\x1b[2J"  # home, clear the screen (the scrollback stays)
KEYS = "keys: h hint · l list · n next · r re-grade · q quit"


class GradeFn(Protocol):
    def __call__(self, kit: Kit, exercise: Exercise, target: Path, *, cancel: threading.Event) -> ExerciseResult: ...


def _grade(kit: Kit, exercise: Exercise, target: Path, *, cancel: threading.Event) -> ExerciseResult:
    from grader.sandbox import grade_exercise

    return grade_exercise(kit, exercise, target, cancel=cancel)


@dataclass
class Debouncer:
    """Coalesces bursts of events per key: a key is due once ``quiet`` seconds passed
    without a new event for it, or ``longest`` seconds after the burst's first event."""

    quiet: float = QUIET_S
    longest: float = LONGEST_S
    _first: dict[str, float] = field(default_factory=dict)
    _last: dict[str, float] = field(default_factory=dict)

    def add(self, key: str, now: float) -> None:
        self._first.setdefault(key, now)
        self._last[key] = now

    def due(self, now: float) -> list[str]:
        """The keys whose burst is over, oldest burst first; they are forgotten."""
        ready = [k for k in self._first if now >= min(self._last[k] + self.quiet, self._first[k] + self.longest)]
        ready.sort(key=self._first.__getitem__)
        for key in ready:
            del self._first[key], self._last[key]
        return ready

    def next_due(self) -> float | None:
        """When the next key becomes due (None: nothing pending)."""
        times = [min(self._last[k] + self.quiet, self._first[k] + self.longest) for k in self._first]
        return min(times, default=None)

    def __contains__(self, key: str) -> bool:
        return key in self._first


@dataclass(frozen=True)
class Job:
    """One grade to run: the exercise and the hash of the file when grading began."""

    exercise: Exercise
    sha256: str | None


class Session:
    """What ``grade watch`` shows and does, driven by events; no threads, no I/O but
    ``out`` (the text to show) and the kit's files and state. The runner calls
    :meth:`start`, then ``on_*`` as events arrive and :meth:`next_job` to learn what
    to grade; tests drive it directly with their own clock."""

    def __init__(
        self,
        kit: Kit,
        out: Callable[[str], None],
        *,
        color: bool = False,
        width: Callable[[], int] = lambda: 80,
        clear: bool = False,
        debouncer: Debouncer | None = None,
    ) -> None:
        self.kit = kit
        self.out = out
        self.color = color
        self.width = width
        self.clear = clear
        self.debouncer = debouncer or Debouncer()
        self.focus: Exercise | None = None
        self.grading: Job | None = None
        self.finished = False
        self.keys = False
        #: The screen about the focus (where it stands, or its last result): `h` shows it
        #: again above the hint.
        self.view = ""
        self._by_file = {e.filename: e for e in kit.exercises}

    # --- events -----------------------------------------------------------------------

    def start(self, *, keys: bool, mode: str, now: float) -> None:
        """Show where the learner stands; grade the current exercise at once if its file
        changed since its last grade."""
        rows = self._rows()
        row = next_up(rows)
        self.focus = row.exercise if row else None
        how = "on every save" + (" (polling)" if mode == "polling" else "")
        self.keys = keys
        self._say(f"awaitlings watch: grading exercises/ {how}")
        self._say(KEYS if keys else "keys are off (stdin is not a terminal): Ctrl-C stops")
        self._say("")
        if row is None:
            self._say("Every exercise is done. Well done! Edit any of them to grade it again.")
            return
        self.view = learner.render_standing(row, self._summary(row.exercise), color=self.color, width=self.width())
        self.out(self.view)
        if row.changed or row.standing is Standing.NOT_GRADED:
            self.debouncer.add(row.exercise.id, now - self.debouncer.longest)

    def on_change(self, filename: str, now: float) -> None:
        exercise = self._by_file.get(filename)
        if exercise is not None:
            self.debouncer.add(exercise.id, now)

    def on_key(self, key: str, now: float) -> None:
        key = key.lower()
        if key == "q":
            self.finished = True
        elif key == "h":
            self._hint()
        elif key == "l":
            self._redraw("course map", learner.render_course_map(self._rows(), color=self.color, width=self.width()))
        elif key == "n":
            self._next()
        elif key == "r":
            if self.focus is None:
                self._say("Nothing to re-grade: every exercise is done.")
            else:
                self.debouncer.add(self.focus.id, now - self.debouncer.longest)
        elif key in ("?", "\n", "\r", " "):
            self._say(KEYS)

    def on_notice(self, text: str) -> None:
        self._say(f"note: {text}")

    def next_job(self, now: float, sha256: Callable[[Exercise], str | None]) -> Job | None:
        """The grade to start now, if any: the oldest burst that is over, when no grade is
        running (later ones wait in the debouncer)."""
        if self.grading is not None or self.finished:
            return None
        due = self.debouncer.due(now)
        if not due:
            return None
        for later in due[1:]:
            self.debouncer.add(later, now - self.debouncer.longest)  # graded right after
        exercise = self.kit.resolve(due[0])
        self.grading = Job(exercise, sha256(exercise))
        self.focus = exercise
        waiting = " (and then " + ", ".join(due[1:]) + ")" if len(due) > 1 else ""
        self._say(f"grading {exercise.id}…{waiting}")
        return self.grading

    def on_graded(self, job: Job, result: ExerciseResult) -> None:
        self.grading = None
        self._record(job, result)
        if self.clear:
            self.out(CLEAR)
        self._say(f"awaitlings watch · {job.exercise.id} graded at {time.strftime('%H:%M:%S')}")
        self._say("")
        if result.status is not ExerciseStatus.PASSED:
            self.view = learner.render_watch_result(result, color=self.color, width=self.width())
        else:
            rows = self._rows()
            upcoming = next_up(rows, job.exercise.id)
            self.focus = upcoming.exercise if upcoming else None
            self.view = learner.render_congratulations(
                result, upcoming, self._summary(upcoming.exercise) if upcoming else "",
                done=sum(1 for r in rows if r.done), total=len(rows), color=self.color, width=self.width(),
            )  # fmt: skip
        self.out(self.view)
        self._say("")
        if job.exercise.id in self.debouncer:
            self._say("(saved again while grading: grading again…)")
        self._say(KEYS if self.keys else "Ctrl-C stops watching")

    def on_grade_failed(self, job: Job, message: str) -> None:
        self.grading = None
        self._say(f"could not grade {job.exercise.id}: {message}")

    # --- helpers ----------------------------------------------------------------------

    def _say(self, line: str) -> None:
        self.out(line + "\n")

    def _redraw(self, title: str, body: str) -> None:
        """Show ``body`` as the whole screen (cleared first, with a title and the keys),
        so keys pressed again and again never pile screens up; without clearing, below."""
        if not self.clear:
            self._say("")
            self.out(body)
            return
        self.out(CLEAR)
        self._say(f"awaitlings watch · {title}")
        self._say("")
        self.out(body)
        self._say("")
        self._say(KEYS if self.keys else "Ctrl-C stops watching")

    def _rows(self) -> tuple[Progress, ...]:
        return course_map(self.kit, State.load(self.kit.state_dir))

    def _summary(self, exercise: Exercise) -> str:
        try:
            return learner.task_summary(self.kit.pristine_stub(exercise).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            return ""

    def _hint(self) -> None:
        if self.focus is None:
            self._say("No hint: every exercise is done.")
            return
        state = State.load(self.kit.state_dir)
        index, because = hint_now(self.kit, state, self.focus)
        with contextlib.suppress(OSError):
            state.save()
        available = len(self.focus.hints)
        hints = learner.render_hint(self.focus, index, shown=state.shown(self.focus.id, available), show_all=self.clear,
                                    because=because, color=self.color, width=self.width())  # fmt: skip
        if not self.clear:
            self._say("")
            self.out(hints)
            return
        self._redraw(f"hints for {self.focus.id}", (self.view + "\n" if self.view else "") + hints)

    def _next(self) -> None:
        row = next_up(self._rows(), self.focus.id if self.focus else None)
        if row is None:
            self._say("No other exercise left to do.")
            return
        self.focus = row.exercise
        self.view = learner.render_standing(row, self._summary(row.exercise), color=self.color, width=self.width())
        self._redraw(row.exercise.id, self.view)

    def _record(self, job: Job, result: ExerciseResult) -> None:
        remember(self.kit, RunResult(target="exercises", python="", exercises=(result,)), {result.id: job.sha256})


def watch(
    kit: Kit,
    out: Callable[[str], None],
    *,
    keys_from: TextIO | None = None,
    poll: bool = False,
    color: bool = False,
    width: Callable[[], int] = lambda: 80,
    clear: bool = False,
    grade: GradeFn = _grade,
    debouncer: Debouncer | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Watch the kit's exercises and re-grade on every save, until ``q``, Ctrl-C,
    SIGTERM or ``stop`` is set. ``keys_from`` is the terminal to read keys from (None,
    or not a terminal: no keys)."""
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    session = Session(kit, out, color=color, width=width, clear=clear, debouncer=debouncer)
    cancel = threading.Event()
    worker: threading.Thread | None = None
    folder = kit.exercises_dir

    def run_job(job: Job) -> None:
        try:
            result = grade(kit, job.exercise, folder, cancel=cancel)
        except GradingCancelled:
            return
        except GraderError as exc:
            events.put(("failed", (job, str(exc))))
            return
        except Exception as exc:  # a bug in the grader must not end the learner's session
            events.put(("failed", (job, f"the grader itself failed ({type(exc).__name__}: {exc})")))
            return
        events.put(("graded", (job, result)))

    watcher = FileWatcher(
        folder, [e.filename for e in kit.exercises], lambda name: events.put(("change", name)),
        poll=poll, on_notice=lambda text: events.put(("notice", text)),
    )  # fmt: skip
    with _sigterm_interrupts(), cbreak(keys_from) as fd:
        reader = KeyReader(fd, lambda key: events.put(("key", key))) if fd is not None else None
        try:
            watcher.start()
            session.start(keys=reader is not None, mode=watcher.mode, now=time.monotonic())
            if reader is not None:
                reader.start()
            while not session.finished and not (stop is not None and stop.is_set()):
                job = session.next_job(time.monotonic(), lambda e: file_hash(folder / e.filename))
                if job is not None:
                    worker = threading.Thread(target=run_job, args=(job,), name="awaitlings-grade", daemon=True)
                    worker.start()
                due = session.debouncer.next_due()
                wait = 0.25 if due is None or session.grading else min(0.25, max(0.0, due - time.monotonic()))
                try:
                    kind, payload = events.get(timeout=wait)
                except queue.Empty:
                    continue
                _dispatch(session, kind, payload)
            session.out("Stopped watching.\n")
        except KeyboardInterrupt:
            session.out("\nStopped watching.\n")
        finally:
            cancel.set()
            watcher.stop()
            if reader is not None:
                reader.stop()
            if worker is not None:
                worker.join(timeout=5)


def _dispatch(session: Session, kind: str, payload: Any) -> None:
    now = time.monotonic()
    if kind == "change":
        session.on_change(payload, now)
    elif kind == "key":
        session.on_key(payload, now)
    elif kind == "graded":
        session.on_graded(*payload)
    elif kind == "failed":
        session.on_grade_failed(*payload)
    elif kind == "notice":
        session.on_notice(payload)


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM ends the watch like Ctrl-C does (so the terminal is restored)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
