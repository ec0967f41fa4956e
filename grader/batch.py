"""``grade batch DIR``: grade every student's submission under DIR, in parallel, into a
gradebook, resumably; one broken or hostile submission never stops the batch.

DIR holds one folder or ``.zip`` per student; the student id is its name (``alice/``,
``bob.zip``). For each, only the exercise files are taken (``grader.submissions``: by
name, symlinks never followed, zip paths never trusted, sizes capped), and each exercise
is graded exactly as ``grade`` grades it, in its own sandboxed child.

Parallelism: the work is a queue of (student, exercise) pairs, student by student, run
by ``jobs`` workers (default: the cores). Students are graded side by side and a
student's exercises run in parallel too, but never more than ``jobs`` children at once,
so two cores get two children, not two students times twelve exercises.

Output, in ``--out`` (default ``DIR-gradebook`` beside DIR), each file written atomically:

- ``students/<id>.json``: a student's full results (the ``json`` format) with the files
  graded, their hashes, the exercises not submitted and the resume key; written as soon
  as that student is done;
- ``gradebook.csv``: one row per student (``grader.reporters.gradebook``), whose notes say
  what was missing (and the rename that would find it), what was taken under a near-miss
  name, and why an exercise could not be graded (a syntax error, at its line);
- ``summary.json`` and ``summary.html``: per-check pass rates and the commonest failures
  (``grader.stats``, ``grader.reporters.classreport``);
- ``.awaitlings-batch``: marks the folder, so a later listing of DIR never grades it.

The three reports are a function of the students' results and of what graded them
(:func:`write_reports`), never of the order students were graded in; the date on the
HTML page is ``SOURCE_DATE_EPOCH``'s when set. ``--shard K/N`` grades one share of DIR
and ``grade batch merge`` joins the shares into the same bytes (``grader.shards``).

Resuming: a student's key hashes the kit version, the Python version, the manifest, the
graded exercises' checks and pristine stubs, and the submission's exercise files. A
re-run skips every student whose saved results carry the same key, so an interrupted
batch picks up where it stopped, and an edited check re-grades everyone.

Each child sees neither DIR nor the output folder (``Limits.hide``): a submission cannot
read another student's files or write a gradebook (as root, where the sandbox has mount
namespaces; elsewhere ``grade doctor`` says what is missing and ``--strict`` refuses).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from grader import stats, submissions
from grader.errors import GraderError, KitError, UsageError
from grader.files import write_atomic
from grader.grading import default_jobs, kit_version
from grader.manifest import Exercise, Kit
from grader.reporters import classreport, gradebook
from grader.reporters import json as json_reporter
from grader.results import ExerciseResult, ExerciseStatus, RunResult, zero_result
from grader.sandbox import UID_BLOCK, Limits, grade_exercise
from grader.shards import Shard, write_record
from grader.stats import ClassStats, class_stats

STUDENT_FORMAT = "awaitlings-batch-student"
SUMMARY_FORMAT = "awaitlings-batch-summary"
VERSION = 1
STUDENTS_DIR = "students"
GRADEBOOK_FILE = "gradebook.csv"
SUMMARY_JSON = "summary.json"
SUMMARY_HTML = "summary.html"
#: Marks an output folder, so a later listing of DIR never takes it for a student.
MARKER = ".awaitlings-batch"


@dataclass(frozen=True)
class Submission:
    student: str
    path: Path
    #: File name (without ``.json``) of this student's results: safe on any file system.
    stem: str


@dataclass(frozen=True)
class StudentOutcome:
    student: str
    run: RunResult
    notes: tuple[str, ...] = ()
    #: False when the grader itself failed on some exercise: re-graded on the next run.
    complete: bool = True
    #: True when the saved results were reused (same key).
    resumed: bool = False
    #: Exercises the submission held no file for (counted apart from failures).
    absent: tuple[str, ...] = ()


@dataclass
class BatchReport:
    out: Path
    outcomes: list[StudentOutcome]
    stats: ClassStats
    ignored: list[str] = field(default_factory=list)

    @property
    def resumed(self) -> int:
        return sum(1 for o in self.outcomes if o.resumed)

    @property
    def incomplete(self) -> list[str]:
        return [o.student for o in self.outcomes if not o.complete]

    @property
    def gradebook(self) -> Path:
        return self.out / GRADEBOOK_FILE

    @property
    def html(self) -> Path:
        return self.out / SUMMARY_HTML


class BatchListener:
    """Progress hooks (the CLI draws a bar); called from worker threads, one at a time."""

    def started(self, total: int, resumed: int) -> None:
        """Called once the submissions are listed: ``resumed`` of ``total`` are already done."""

    def student_done(self, outcome: StudentOutcome) -> None:
        """Called as each student's results are saved (resumed ones too)."""


def default_out(root: Path, shard: Shard | None = None) -> Path:
    suffix = f"-{shard.index}-of-{shard.count}" if shard else ""
    return root.parent / f"{root.name}-gradebook{suffix}"


def is_output(folder: Path) -> bool:
    """Whether ``folder`` is a batch's output (its marker, or a gradebook and students/)."""
    return (folder / MARKER).is_file() or ((folder / GRADEBOOK_FILE).is_file() and (folder / STUDENTS_DIR).is_dir())


# --- listing submissions ------------------------------------------------------------------


def discover(root: Path, exclude: Sequence[Path] = ()) -> tuple[list[Submission], list[str]]:
    """One submission per folder or ``.zip`` directly under ``root`` (sorted by student id),
    and notes about what was ignored (other files, symlinks, hidden entries)."""
    excluded = {p.resolve() for p in exclude}
    found: list[Submission] = []
    ignored: list[str] = []
    stems: set[str] = set()
    ids: set[str] = set()
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        shown = submissions.display_name(entry.name)
        if entry.name.startswith(".") or entry.resolve() in excluded:
            continue
        if entry.is_symlink():
            ignored.append(f"{shown}: a symlink, not followed")
            continue
        if entry.is_dir() and is_output(entry):
            ignored.append(f"{shown}: a gradebook folder of grade batch, not a submission")
            continue
        if entry.is_dir():
            student = shown
        elif entry.is_file() and entry.name.lower().endswith(".zip"):
            student = shown[:-4]
        else:
            ignored.append(f"{shown}: not a folder or a .zip")
            continue
        if student in ids:
            ignored.append(f"{shown}: another submission already uses the id {student!r}")
            continue
        ids.add(student)
        stem = _stem(student, stems)
        stems.add(stem.lower())
        found.append(Submission(student, entry, stem))
    return found, ignored


def _stem(student: str, taken: set[str]) -> str:
    """A file name for ``student``: the id when it is plain, else a cleaned id plus a hash."""
    plain = re.sub(r"[^A-Za-z0-9._-]", "_", student)[:80].lstrip(".") or "student"
    if plain != student or plain.lower() in taken:
        plain = f"{plain}-{hashlib.sha256(student.encode('utf-8', 'surrogateescape')).hexdigest()[:10]}"
    return plain


# --- keys ---------------------------------------------------------------------------------


def kit_fingerprint(kit: Kit, exercises: Sequence[Exercise]) -> str:
    """What grading depends on besides the submission: versions, manifest, checks, stubs."""
    digest = hashlib.sha256()
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for part in (kit_version().encode(), version.encode(), (kit.exercises_dir / "exercises.toml").read_bytes()):
        digest.update(hashlib.sha256(part).digest())
    for exercise in exercises:
        digest.update(exercise.id.encode())
        digest.update(hashlib.sha256(kit.checks_path(exercise).read_bytes()).digest())
        stub = kit.pristine_stub(exercise)
        digest.update(hashlib.sha256(stub.read_bytes() if stub.is_file() else b"").digest())
    return digest.hexdigest()


def submission_key(fingerprint: str, collected: submissions.Collected) -> str:
    payload = json.dumps({"kit": fingerprint, "files": collected.fingerprint(), "notes": list(collected.notes)},
                         sort_keys=True)  # fmt: skip
    return hashlib.sha256(payload.encode("utf-8", "surrogateescape")).hexdigest()


# --- the batch ----------------------------------------------------------------------------


@dataclass
class _Student:
    submission: Submission
    collected: submissions.Collected
    key: str
    results: dict[str, ExerciseResult] = field(default_factory=dict)
    remaining: int = 0
    complete: bool = True


def run_batch(
    kit: Kit,
    root: Path,
    *,
    out: Path | None = None,
    exercises: Sequence[Exercise] | None = None,
    jobs: int | None = None,
    limits: Limits | None = None,
    listener: BatchListener | None = None,
    generated_at: str | None = None,
    shard: Shard | None = None,
) -> BatchReport:
    """Grade every submission under ``root`` (or ``shard``'s share of them); see the module docstring."""
    root = root.resolve()
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder: give the folder that holds one folder or .zip per student")
    out = (out or default_out(root, shard)).resolve()
    chosen = tuple(sorted(exercises or kit.exercises, key=lambda e: e.order))
    for exercise in chosen:
        if not kit.checks_path(exercise).is_file():
            raise KitError(f"the checks for {exercise.id} are missing: {kit.checks_path(exercise)}")
    listener = listener or BatchListener()
    everyone, ignored = discover(root, exclude=[out])
    if not everyone:
        raise UsageError(f"no submissions under {root}: expected one folder or .zip per student")
    subs = [s for s in everyone if shard is None or shard.holds(s.student)]
    (out / STUDENTS_DIR).mkdir(parents=True, exist_ok=True)
    if not (out / MARKER).is_file():
        write_atomic(out / MARKER, "An output folder of `grade batch`: never graded as a submission.\n")
    base = limits or Limits()
    limits = replace(base, hide=(*base.hide, str(root), str(out)))
    fingerprint = kit_fingerprint(kit, chosen)

    outcomes: dict[str, StudentOutcome] = {}
    pending: list[_Student] = []
    for sub in subs:
        collected = submissions.collect(sub.path, chosen)
        key = submission_key(fingerprint, collected)
        saved = _load_saved(out, sub, key)
        if saved is not None:
            outcomes[sub.student] = saved
        else:
            pending.append(_Student(sub, collected, key))
    listener.started(len(subs), len(outcomes))
    for outcome in outcomes.values():
        listener.student_done(outcome)

    context = ReportContext(str(root), tuple(e.id for e in chosen), kit_version(), _python())
    try:
        _grade_pending(kit, chosen, pending, out, limits, jobs, listener, outcomes)
    finally:
        ordered = [outcomes[s.student] for s in subs if s.student in outcomes]
        stats = write_reports(out, context, ordered, generated_at)
    if shard is not None:
        write_record(out, shard, context, fingerprint, [s.student for s in everyone], {s.student: s.stem for s in subs})
    return BatchReport(out=out, outcomes=ordered, stats=stats, ignored=ignored)


def _grade_pending(
    kit: Kit,
    exercises: Sequence[Exercise],
    pending: list[_Student],
    out: Path,
    limits: Limits,
    jobs: int | None,
    listener: BatchListener,
    outcomes: dict[str, StudentOutcome],
) -> None:
    """Run the (student, exercise) queue on ``jobs`` workers; save each student when done."""
    lock = threading.Lock()
    fatal: list[BaseException] = []

    def finish(student: _Student) -> None:
        outcome = _save(out, student, exercises)
        outcomes[student.submission.student] = outcome
        listener.student_done(outcome)

    def task(student: _Student, exercise: Exercise) -> None:
        if fatal:
            return
        try:
            result = _grade_file(kit, exercise, student.collected.files[exercise.id], limits)
            ok = True
        except KitError as exc:
            result, ok = _grader_failed(exercise, str(exc)), False
        except GraderError as exc:  # course mode refused: the machine, not the student
            fatal.append(exc)
            return
        except Exception as exc:  # a grader bug must not cost the rest of the class
            result, ok = _grader_failed(exercise, f"{type(exc).__name__}: {exc}"), False
        with lock:
            student.results[exercise.id] = result
            student.complete &= ok
            student.remaining -= 1
            if student.remaining == 0:
                finish(student)

    work: list[tuple[_Student, Exercise]] = []
    for student in pending:
        for exercise in exercises:
            if exercise.id in student.collected.files and exercise.supported():
                work.append((student, exercise))
                student.remaining += 1
            else:
                student.results[exercise.id] = submissions.absent_result(exercise, student.collected)
        if student.remaining == 0:
            with lock:
                finish(student)
    workers = max(1, min(jobs or default_jobs(), UID_BLOCK, len(work) or 1))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="batch")
    futures: list[Future[None]] = []
    try:
        futures = [pool.submit(task, student, exercise) for student, exercise in work]
        remaining = set(futures)
        while remaining:
            _done, remaining = wait(remaining, timeout=0.5)
            if fatal:
                break
    except BaseException:
        fatal.append(KeyboardInterrupt())
        raise
    finally:
        # Interrupted or refused: drop what has not started, let running children finish
        # (each is bounded by its deadlines), so every saved student file is whole.
        pool.shutdown(wait=True, cancel_futures=True)
    for future in futures:
        if not future.cancelled() and future.exception() is not None:
            raise future.exception()  # type: ignore[misc]
    real = [exc for exc in fatal if not isinstance(exc, KeyboardInterrupt)]
    if real:
        raise real[0]


def _grade_file(kit: Kit, exercise: Exercise, found: submissions.Found, limits: Limits) -> ExerciseResult:
    return grade_exercise(kit, exercise, found.data, limits=limits)


def _grader_failed(exercise: Exercise, detail: str) -> ExerciseResult:
    return zero_result(
        id=exercise.id, slug=exercise.slug, title=exercise.title, points=exercise.points,
        status=ExerciseStatus.ERROR,
        message=f"The grader itself failed on this exercise (not the student's fault): {detail}. "
        "Fix the kit or the machine, then re-run the batch: only incomplete submissions are re-graded.",
    )  # fmt: skip


def _python() -> str:
    return sys.version.split()[0]


def _save(out: Path, student: _Student, exercises: Sequence[Exercise]) -> StudentOutcome:
    sub = student.submission
    run = RunResult(
        target=sub.student,
        python=_python(),
        exercises=tuple(student.results[e.id] for e in exercises),
        kit_version=kit_version(),
    )
    absent = tuple(e.id for e in exercises if e.supported() and e.id not in student.collected.files
                   and e.id not in student.collected.rejected)  # fmt: skip
    notes = _notes(student.collected, run, absent)
    document = {
        "format": STUDENT_FORMAT,
        "version": VERSION,
        "student": sub.student,
        "source": submissions.display_name(sub.path.name),
        "key": student.key,
        "complete": student.complete,
        "notes": list(notes),
        "not_submitted": list(absent),
        "files": {ex_id: {"path": f.path, "sha256": f.sha256} for ex_id, f in sorted(student.collected.files.items())},
        "results": json_reporter.to_dict(run),
    }
    write_atomic(out / STUDENTS_DIR / f"{sub.stem}.json", json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return StudentOutcome(sub.student, run, notes, student.complete, absent=absent)


def _notes(collected: submissions.Collected, run: RunResult, absent: Sequence[str]) -> tuple[str, ...]:
    """The gradebook's notes: files missing (with the renames that would find them), files
    rejected, why each exercise that had a file could not be graded, then intake notes."""
    notes = [f"missing: {', '.join(absent)}"] if absent else []
    notes += [f"{ex_id}: found {hint}" for ex_id in absent for hint in collected.hints.get(ex_id, ())]
    notes += [f"{ex_id}: rejected ({why.split(':')[0]})" for ex_id, why in sorted(collected.rejected.items())]
    notes += [f"{ex.id}: {stats.shown(ex.message)}" for ex in run.exercises
              if ex.status is ExerciseStatus.ERROR and ex.id in collected.files]  # fmt: skip
    return (*notes, *collected.notes)


def load_student(path: Path) -> tuple[StudentOutcome, str]:
    """A saved student file: the outcome and its resume key (ValueError if it is not one)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("format") != STUDENT_FORMAT:
            raise ValueError(f"{path} is not a student file of grade batch")
        run = json_reporter.from_dict(document["results"])
        outcome = StudentOutcome(
            document["student"], run, tuple(document.get("notes", ())), bool(document.get("complete")),
            absent=tuple(document.get("not_submitted", ())),
        )  # fmt: skip
        return outcome, str(document.get("key"))
    except (OSError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path} cannot be read as a student file: {exc}") from None


def _load_saved(out: Path, sub: Submission, key: str) -> StudentOutcome | None:
    try:
        outcome, saved_key = load_student(out / STUDENTS_DIR / f"{sub.stem}.json")
    except ValueError:
        return None  # missing, partial or foreign: grade again
    if saved_key != key or not outcome.complete or outcome.student != sub.student:
        return None
    return replace(outcome, resumed=True)


@dataclass(frozen=True)
class ReportContext:
    """What the class reports say besides the students' results: what was graded, by what."""

    submissions: str
    exercises: tuple[str, ...]
    kit_version: str
    python: str


def write_reports(
    out: Path, context: ReportContext, outcomes: Sequence[StudentOutcome], generated_at: str | None = None
) -> ClassStats:
    """gradebook.csv, summary.json and summary.html in ``out``: a function of the outcomes
    (in any order) and ``context`` only, so a merge of shards writes the same bytes."""
    outcomes = sorted(outcomes, key=lambda o: o.student)
    rows = [gradebook.Row(o.student, o.run, o.notes, o.complete) for o in outcomes]
    write_atomic(out / GRADEBOOK_FILE, gradebook.render(rows, context.exercises))
    stats = class_stats({o.student: o.run for o in outcomes}, {o.student: o.absent for o in outcomes})
    summary = {
        "format": SUMMARY_FORMAT,
        "version": VERSION,
        "submissions": context.submissions,
        "kit_version": context.kit_version,
        "python": context.python,
        "incomplete": [o.student for o in outcomes if not o.complete],
        "stats": dataclasses.asdict(stats),
    }
    write_atomic(out / SUMMARY_JSON, json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    when = generated_at or report_time()
    meta = f"{Path(context.submissions).name} · awaitlings {context.kit_version} · Python {context.python} · {when}"
    write_atomic(out / SUMMARY_HTML, classreport.render_html(stats, meta=meta))
    return stats


def report_time() -> str:
    """The report's date: ``SOURCE_DATE_EPOCH`` (UTC) when set, as in reproducible builds, else now."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(int(epoch)))
    return time.strftime("%Y-%m-%d %H:%M")


def summary_dict(report: BatchReport) -> dict[str, Any]:
    """A short machine-readable account of a batch run (for ``--format json``)."""
    return {
        "out": str(report.out),
        "students": len(report.outcomes),
        "resumed": report.resumed,
        "incomplete": report.incomplete,
        "ignored": report.ignored,
        "mean_total": report.stats.mean_total,
        "max_total": report.stats.max_total,
    }
