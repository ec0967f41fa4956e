"""Grade several exercises of one target, in parallel, into one :class:`RunResult`."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from importlib import metadata
from pathlib import Path

from grader.cache import VerdictCache
from grader.cache import key as verdict_key
from grader.errors import GraderError
from grader.manifest import Exercise, Kit
from grader.results import ExerciseResult, ExerciseStatus, RunResult, zero_result
from grader.sandbox import Limits, grade_exercise

OnResult = Callable[[Exercise, ExerciseResult], None]


def kit_version() -> str:
    try:
        return metadata.version("awaitlings")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def default_jobs() -> int:
    """Children at once by default: what this process may really use (``grader.resources``:
    affinity, the cgroup's CPU quota and memory), not the machine's core count."""
    from grader import resources

    return resources.default_jobs()


def grade_target(
    kit: Kit,
    exercises: Sequence[Exercise],
    target: Path,
    *,
    jobs: int | None = None,
    limits: Limits | None = None,
    on_result: OnResult | None = None,
    skip_untouched: bool = True,
    cache: VerdictCache | None = None,
) -> RunResult:
    """Grade ``exercises`` as found in ``target``; results in manifest order.

    Each exercise runs in its own sandboxed child, ``jobs`` at a time (threads here only
    wait on children). ``on_result`` is called as each exercise finishes (for progress).
    With a ``cache``, an exercise whose file, checks, grader and Python are unchanged
    since a kept verdict gets that verdict (``from_cache``) without a child.
    """
    jobs = max(1, jobs or default_jobs())
    limits = limits or Limits()

    def one(exercise: Exercise) -> ExerciseResult:
        result = _cached(exercise) if cache is not None else None
        if result is None:
            before = _read(target / exercise.filename) if cache is not None else None
            try:
                result = grade_exercise(kit, exercise, target, limits=limits, skip_untouched=skip_untouched)
            except GraderError:
                raise  # the kit or the machine (course mode refused): the whole run says so
            except Exception as exc:  # a grader bug costs this exercise, never the others
                result = _grader_failed(exercise, exc)
            else:
                # Kept only if the file graded is the file hashed (an edit meanwhile is not).
                if cache is not None and before is not None and _read(target / exercise.filename) == before:
                    cache.put(exercise, verdict_key(kit, exercise, before, limits), result)
        if on_result is not None:
            on_result(exercise, result)
        return result

    def _cached(exercise: Exercise) -> ExerciseResult | None:
        assert cache is not None
        learner = _read(target / exercise.filename)
        if learner is None:
            return None
        hit = cache.get(exercise, verdict_key(kit, exercise, learner, limits))
        return replace(hit, from_cache=True) if hit is not None else None

    if jobs == 1 or len(exercises) <= 1:
        results = [one(e) for e in exercises]
    else:
        pool = ThreadPoolExecutor(max_workers=min(jobs, len(exercises)), thread_name_prefix="grade")
        try:
            results = list(pool.map(one, exercises))
        finally:
            # Interrupted (Ctrl-C, SIGTERM): nothing new starts; the running children end
            # within their deadlines and are swept, so no sandbox outlives the grader.
            pool.shutdown(wait=True, cancel_futures=True)
    return RunResult(
        target=_display_path(target, kit.root),
        python=sys.version.split()[0],
        exercises=tuple(results),
        kit_version=kit_version(),
    )


def _grader_failed(exercise: Exercise, exc: Exception) -> ExerciseResult:
    return zero_result(
        id=exercise.id, slug=exercise.slug, title=exercise.title, points=exercise.points,
        status=ExerciseStatus.ERROR,
        message=f"Not graded: the grader itself failed on this exercise ({type(exc).__name__}), so "
        "no check ran to the end. The other exercises were graded. Try again; if it happens "
        "again, run `grade doctor` and report it with its output.",
    )  # fmt: skip


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _display_path(target: Path, root: Path) -> str:
    try:
        return str(target.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(target)
