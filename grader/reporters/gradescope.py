"""Gradescope's ``results.json``, as its autograder specification documents it.

Top level: ``score``, ``max_score`` (the points possible; Gradescope takes the
assignment's total from its own settings and ignores this key, but people and scripts
reading the file want it), ``execution_time`` (whole seconds), ``output`` (shown to the
student; Gradescope renders it as ``simple_format``, HTML with line breaks, so the text is
HTML-escaped), ``visibility``, ``stdout_visibility``, ``extra_data`` (the points possible
again, the kit and Python versions) and ``tests``. One test per check —
``name``, ``number`` (``"2.3"``: exercise 2, check 3), ``score``, ``max_score``,
``status`` (``passed``/``failed``), ``output``, ``visibility``, ``tags`` — and one
failed test for an exercise that had no check to run (not started, missing, unsupported).

Hidden checks are ``after_published`` by default: students see them once grades are
published, not while they can still resubmit against them; ``hidden_visibility`` sets
another of Gradescope's values (``hidden`` never shows them). Pure: results in, JSON out.
"""

from __future__ import annotations

import html
import json
import math
from typing import Any

from grader.results import CheckResult, CheckStatus, ExerciseResult, ExerciseStatus, RunResult

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
DEFAULT_HIDDEN_VISIBILITY = "after_published"
#: Characters of a check's captured output kept in the test's output.
OUTPUT_CAP = 2000

_EXERCISE_WORD = {
    ExerciseStatus.PASSED: "passed",
    ExerciseStatus.FAILED: "failing",
    ExerciseStatus.ERROR: "could not be graded",
    ExerciseStatus.NOT_STARTED: "not started",
    ExerciseStatus.UNSUPPORTED: "not graded on this Python",
}


def to_dict(
    run: RunResult, *, hidden_visibility: str = DEFAULT_HIDDEN_VISIBILITY, notes: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The results.json object. ``notes`` are appended to the top-level output (what the
    autograder found in the submission, for instance)."""
    if hidden_visibility not in VISIBILITIES:
        raise ValueError(f"hidden_visibility must be one of {', '.join(VISIBILITIES)}, not {hidden_visibility!r}")
    tests: list[dict[str, Any]] = []
    for ex_index, ex in enumerate(run.exercises, start=1):
        if not ex.checks or ex.status in (ExerciseStatus.NOT_STARTED, ExerciseStatus.UNSUPPORTED):
            tests.append(_test(f"{ex.id} {ex.title}", f"{ex_index}", 0.0, ex.max_score, False, ex.message or "", ex))
            continue
        for check_index, check in enumerate(ex.checks, start=1):
            test = _test(
                f"{ex.id} {check.name}", f"{ex_index}.{check_index}", check.score, check.max_score,
                check.status is CheckStatus.PASSED, _check_output(ex, check), ex,
            )  # fmt: skip
            if check.hidden:
                test["visibility"] = hidden_visibility
            tests.append(test)
    duration = sum(e.duration_s for e in run.exercises)
    return {
        "score": run.score,
        "max_score": run.max_score,
        "execution_time": math.ceil(duration),
        "output": html.escape(_overview(run, notes), quote=False),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "extra_data": {"max_score": run.max_score, "kit_version": run.kit_version, "python": run.python},
        "tests": tests,
    }


def render(run: RunResult, *, hidden_visibility: str = DEFAULT_HIDDEN_VISIBILITY, notes: tuple[str, ...] = ()) -> str:
    data = to_dict(run, hidden_visibility=hidden_visibility, notes=notes)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _test(
    name: str, number: str, score: float, max_score: float, passed: bool, output: str, ex: ExerciseResult
) -> dict[str, Any]:
    return {
        "name": name,
        "number": number,
        "score": float(score),
        "max_score": float(max_score),
        "status": "passed" if passed else "failed",
        "output": output,
        "visibility": "visible",
        "tags": [ex.id, ex.slug],
    }


def _check_output(ex: ExerciseResult, check: CheckResult) -> str:
    """The teaching message (or the exercise's, when it crashed), then what the code printed."""
    text = check.message or ""
    if not text and ex.message and ex.status is ExerciseStatus.ERROR:
        text = ex.message
    printed = check.output.strip()
    if printed and not check.passed:
        if len(printed) > OUTPUT_CAP:
            printed = printed[:OUTPUT_CAP] + f"… ({len(printed)} characters)"
        text = f"{text}\n\nYour code printed:\n{printed}" if text else f"Your code printed:\n{printed}"
    return text


def _overview(run: RunResult, notes: tuple[str, ...]) -> str:
    lines = [f"awaitlings {run.kit_version} on Python {run.python}: {run.score:g}/{run.max_score:g} points"]
    for ex in run.exercises:
        lines.append(f"  {ex.id} {ex.title}: {ex.score:g}/{ex.max_score:g} ({_EXERCISE_WORD[ex.status]})")
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)
