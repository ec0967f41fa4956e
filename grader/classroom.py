"""GitHub Classroom: what the workflow's grading step runs (``grade autograde --classroom``).

It grades the repository's ``exercises/`` (the student's copy of the kit), prints the
kit's report with every failed check's explanation (the run's log), appends the Markdown
summary to ``$GITHUB_STEP_SUMMARY`` (the job summary) and writes one step output per
exercise, ``ex01=<base64 result object>`` …, to ``$GITHUB_OUTPUT``, which the workflow
hands to ``autograding-grading-reporter`` as ``EX01_RESULTS`` … (``grader.release``
writes that workflow). When the grader itself fails, every exercise's output is still
written, as an error that sends the student to the staff, so the reporter posts 0 points
with a reason instead of crashing on a missing variable.
"""

from __future__ import annotations

import os
from pathlib import Path

from grader.grading import grade_target
from grader.manifest import Kit
from grader.reporters import classroom, terminal
from grader.results import RunResult
from grader.sandbox import Limits

OUTPUT_ENV = "GITHUB_OUTPUT"
SUMMARY_ENV = "GITHUB_STEP_SUMMARY"
LOG_WIDTH = 100


def autograde(kit: Kit, *, jobs: int | None = None, limits: Limits | None = None) -> tuple[RunResult, str]:
    """Grade the kit's exercises, write the step outputs and job summary; return the run
    and the text for the log."""
    run = grade_target(kit, kit.exercises, kit.exercises_dir, jobs=jobs, limits=limits)
    _append(SUMMARY_ENV, classroom.summary_markdown(run))
    _append(OUTPUT_ENV, "".join(f"{name}={value}\n" for name, value in classroom.encode_runners(run).items()))
    return run, terminal.render_detail(run, color=False, width=LOG_WIDTH)


def write_failure(kit: Kit | None, reason: str) -> None:
    """Step outputs and summary for a run the grader could not finish (``kit`` None: it
    could not even be loaded, so only the summary says so)."""
    text = f"## awaitlings: not graded\n\nThe autograder could not grade this push: {reason}.\n\n"
    text += classroom.CONTACT_STAFF + "\n"
    _append(SUMMARY_ENV, text)
    if kit is not None:
        encoded = classroom.failure_runners([(e.id, e.points) for e in kit.exercises], reason)
        _append(OUTPUT_ENV, "".join(f"{name}={value}\n" for name, value in encoded.items()))


def _append(env: str, text: str) -> None:
    path = os.environ.get(env)
    if path:
        with Path(path).open("a", encoding="utf-8") as fh:
            fh.write(text)
