"""GitHub Classroom: what the workflow's grading step runs (``grade autograde --classroom``).

It grades the repository's ``exercises/`` (the student's copy of the kit), prints the
kit's report with every failed check's explanation (the run's log), appends the Markdown
summary to ``$GITHUB_STEP_SUMMARY`` (the job summary) and writes one step output per
exercise, ``ex01=<base64 result object>`` …, to ``$GITHUB_OUTPUT``, which the workflow
hands to ``autograding-grading-reporter`` as ``EX01_RESULTS`` … (:func:`workflow` is
that workflow; ``grade release`` ships it as :data:`WORKFLOW_PATH`). When the grader
itself fails, every exercise's output is still written, as an error that sends the
student to the staff, so the reporter posts 0 points with a reason instead of crashing
on a missing variable.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from grader.grading import grade_target
from grader.manifest import Kit
from grader.reporters import classroom, terminal
from grader.results import RunResult
from grader.sandbox import Limits

WORKFLOW_PATH = ".github/workflows/classroom.yml"
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


def workflow(python: str, exercise_ids: Sequence[str]) -> str:
    """GitHub Classroom's autograding workflow: install the kit, grade (the explanations in
    the log and the job summary), then post the points with the official reporter, one
    runner per exercise (this module and ``grader.reporters.classroom`` say why)."""
    env = "".join(f'          {i.upper()}_RESULTS: "${{{{ steps.awaitlings.outputs.{i} }}}}"\n' for i in exercise_ids)
    return f"""\
# GitHub Classroom autograding: on every push, install the kit and grade every exercise.
# The Grade step prints each failed check's explanation here and in the job summary, and
# writes one output per exercise (base64 JSON); the official reporter reads them as
# <EXERCISE>_RESULTS and posts the points, which are the kit's, to the classroom.
name: Autograding Tests
'on':
  - push
  - workflow_dispatch
  - repository_dispatch
permissions:
  checks: write
  actions: read
  contents: read
jobs:
  run-autograding-tests:
    runs-on: ubuntu-latest
    timeout-minutes: 20
    if: github.actor != 'github-classroom[bot]'
    steps:
      - name: Checkout code
        uses: actions/checkout@v4
      - name: Set up Python
        uses: actions/setup-python@v5
        with:
          python-version: "{python}"
      - name: Install the kit
        run: python -m pip install -e .
      - name: Grade
        id: awaitlings
        run: grade autograde --classroom
      - name: Autograding Reporter
        if: ${{{{ !cancelled() }}}}
        uses: classroom-resources/autograding-grading-reporter@v1
        env:
{env}        with:
          runners: {",".join(exercise_ids)}
"""


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
