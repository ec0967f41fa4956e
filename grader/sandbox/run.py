"""Grading one exercise, step by step (DESIGN.md section 3): read the learner's file, claim
a uid, lay out a work folder, run the checks (re-running those left without a verdict),
score."""

from __future__ import annotations

import hashlib
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

from grader.errors import GradingCancelled
from grader.manifest import Exercise, Kit
from grader.results import ExerciseResult, ExerciseStatus
from grader.sandbox import workdir
from grader.sandbox.config import CHILD_INI, Limits
from grader.sandbox.intake import Source, check_source
from grader.sandbox.reading import Run
from grader.sandbox.spawn import Workspace, spawn
from grader.sandbox.uids import sandbox_uid
from grader.sandbox.verdicts import no_verdict, require_isolation, score, zero


def grade_exercise(
    kit: Kit,
    exercise: Exercise,
    target: Path | bytes,
    *,
    limits: Limits | None = None,
    skip_untouched: bool = True,
    cancel: threading.Event | None = None,
) -> ExerciseResult:
    """Grade ``exercise`` as found in ``target`` (a folder with the learner's files), or
    the learner's file given as its bytes.

    A file identical to the stub is ``not_started`` without running anything, unless
    ``skip_untouched`` is false (the kit's own verification grades stubs for real).
    Setting ``cancel`` (``grade watch`` quitting) kills the child's whole process tree
    within half a second and raises :class:`GradingCancelled`.
    """
    limits = limits or Limits()
    started = time.monotonic()
    if not exercise.supported():
        needed = ".".join(map(str, exercise.min_python))
        return zero(
            exercise,
            status=ExerciseStatus.UNSUPPORTED,
            message=f"needs Python {needed} or newer; this is {sys.version.split()[0]}",
        )
    source = Source()
    problem, status = check_source(kit, exercise, target, skip_untouched, source)
    if problem is not None:
        return zero(exercise, status=status, message=problem)
    checks_src = kit.checks_path(exercise)
    if not checks_src.is_file():
        from grader.errors import KitError

        raise KitError(f"the checks for {exercise.id} are missing: {checks_src}")
    with sandbox_uid(limits) as uid:
        work = Path(tempfile.mkdtemp(prefix=f"awaitlings-{exercise.id}-"))
        try:
            digest = hashlib.sha256(source.raw).hexdigest()
            space = Workspace(kit, exercise, work, checks_src.name, limits, uid, cancel, digest)
            outcome = run_all(space, checks_src, source.raw)
        finally:
            workdir.remove(work)  # never recursive: the child may have left any tree in tmp/
    if cancel is not None and cancel.is_set():
        raise GradingCancelled(f"grading {exercise.id} was cancelled")
    if limits.strict:
        require_isolation(exercise, outcome)
    result = score(exercise, outcome, time.monotonic() - started)
    if source.missing and result.message is None and result.status is ExerciseStatus.FAILED:
        names = ", ".join(f"`{name}`" for name in source.missing)
        result = replace(
            result,
            message=f"{exercise.filename} does not define {names}: the checks that use "
            f"{'it' if len(source.missing) == 1 else 'them'} cannot pass until it does.",
        )
    return replace(result, flags=source.flags.suspicious) if source.flags.suspicious else result


def run_all(space: Workspace, checks_src: Path, learner: bytes) -> Run:
    """Run the checks, re-running the ones left without a verdict after a crash or kill."""
    work, exercise, uid, cancel = space.work, space.exercise, space.uid, space.cancel
    workdir.lay_out(work, exercise.filename, learner, checks_src, CHILD_INI, uid)
    total = Run()
    selection: list[str] = []
    for _attempt in range(64):
        run = spawn(space, selection)
        if cancel is not None and cancel.is_set():
            break
        if not total.collected:
            total.collected = run.collected
        total.results.update(run.results)
        total.tampered |= run.tampered
        total.isolation = total.isolation or run.isolation
        total.errors += run.errors
        total.output += run.output
        total.output_cut += run.output_cut
        # "done" alone is not enough: a pytest INTERNALERROR (say, the learner's processes
        # used up the thread limit) still ends the session, leaving checks without verdicts.
        finished = run.done and all(c.id in total.results for c in total.collected)
        if finished or run.tampered or not run.collected:
            total.returncode, total.killed_for = run.returncode, run.killed_for
            break
        stuck = run.in_progress
        if stuck is not None and stuck not in run.results:
            total.results[stuck] = no_verdict(run, stuck, exercise)
        if run.importing:
            # The learner's module kills the process at import: every other check would too.
            for check in total.collected:
                total.results.setdefault(check.id, no_verdict(run, check.id, exercise))
            break
        remaining = [c.id for c in total.collected if c.id not in total.results]
        # Re-run what is left only if this run got somewhere (a verdict, or a check to
        # blame): a child that dies before its first check would die again.
        progressed = bool(run.results) or stuck is not None
        if not remaining or not progressed:
            total.returncode, total.killed_for = run.returncode, run.killed_for
            for check_id in remaining:
                total.results[check_id] = no_verdict(run, check_id, exercise)
            break
        selection = remaining
    return total
