"""Gradescope's ``results.json``, as its autograder specification documents it.

Top level: ``score``, ``max_score`` (the points possible; Gradescope takes the
assignment's total from its own settings and ignores this key, but people and scripts
reading the file want it), ``execution_time`` (whole seconds of wall time, when the caller
measured it), ``output`` (shown to the student; Gradescope renders it as ``simple_format``,
HTML with line breaks, so the text is HTML-escaped), ``visibility``, ``stdout_visibility``,
``extra_data`` (the points possible again, the kit and Python versions) and ``tests``. One
test per check — ``name``, ``number`` (``"2.3"``: exercise 2, check 3), ``score``,
``max_score``, ``status`` (``passed``/``failed``), ``output``, ``visibility``, ``tags`` —
and one failed test for an exercise that had no check to run (not started, missing,
unsupported).

Hidden checks are ``after_published`` by default (``after_due_date`` and ``visible`` are
the other values :data:`HIDDEN_VISIBILITIES` allows). The specification: "If test cases
are hidden, students will not be able to see their total score. Test cases with visibility
set to ``hidden`` don't affect this, since they should only be used for tests which don't
contribute points to the total." Hidden checks carry points, so ``hidden`` would show a
total they decided, and it is refused. The top-level ``output`` is always shown, so while
a hidden check is concealed it names neither the total nor the score or verdict of an
exercise with hidden checks: only what the visible checks decided.

:func:`failure_dict` is the file for a run that could not grade (the grader failed, was
stopped, or has not finished yet): no score to trust, and a message that sends the student
to the course staff. Pure: results in, JSON out.
"""

from __future__ import annotations

import html
import json
import math
from typing import Any

from grader.results import CheckResult, CheckStatus, ExerciseResult, ExerciseStatus, RunResult

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
#: What hidden checks may be: not ``hidden``, which Gradescope reserves for tests worth no points.
HIDDEN_VISIBILITIES = ("after_due_date", "after_published", "visible")
DEFAULT_HIDDEN_VISIBILITY = "after_published"
#: Seconds of grading per submission (``grade autograde --time-budget``): Gradescope's
#: default limit is 10 minutes, and the rest is margin (running checks end within their own
#: timeouts, results get written). The whole kit takes about 30 s on two cores.
DEFAULT_BUDGET_S = 480.0
#: Characters of a check's captured output kept in the test's output.
OUTPUT_CAP = 2000
CONTACT_STAFF = (
    "This is not a verdict on your code: please contact the course staff, who can see the autograder's log, "
    "and mention when you submitted."
)

_EXERCISE_WORD = {
    ExerciseStatus.PASSED: "passed",
    ExerciseStatus.FAILED: "failing",
    ExerciseStatus.ERROR: "could not be graded",
    ExerciseStatus.NOT_STARTED: "not started",
    ExerciseStatus.UNSUPPORTED: "not graded on this Python",
}
_WHEN = {"after_due_date": "after the due date", "after_published": "when grades are published"}


def to_dict(
    run: RunResult,
    *,
    hidden_visibility: str = DEFAULT_HIDDEN_VISIBILITY,
    notes: tuple[str, ...] = (),
    execution_time: float | None = None,
) -> dict[str, Any]:
    """The results.json object. ``notes`` are appended to the top-level output (what the
    autograder found in the submission, for instance); ``execution_time`` is the run's wall
    time in seconds, left out when not measured."""
    check_visibility(hidden_visibility)
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
    concealed = hidden_visibility != "visible" and any(c.hidden for e in run.exercises for c in e.checks)
    data: dict[str, Any] = {"score": run.score, "max_score": run.max_score}
    if execution_time is not None:
        data["execution_time"] = math.ceil(max(0.0, execution_time))
    overview = _concealed_overview(run, hidden_visibility) if concealed else _overview(run)
    if notes:
        overview += "\n\n" + "\n".join(notes)
    data |= {
        "output": html.escape(overview, quote=False),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "extra_data": {"max_score": run.max_score, "kit_version": run.kit_version, "python": run.python},
        "tests": tests,
    }
    return data


def render(
    run: RunResult,
    *,
    hidden_visibility: str = DEFAULT_HIDDEN_VISIBILITY,
    notes: tuple[str, ...] = (),
    execution_time: float | None = None,
) -> str:
    data = to_dict(run, hidden_visibility=hidden_visibility, notes=notes, execution_time=execution_time)
    return _dump(data)


def failure_dict(
    reason: str,
    *,
    max_score: float | None = None,
    execution_time: float | None = None,
    kit_version: str = "",
    python: str = "",
) -> dict[str, Any]:
    """results.json for a submission the autograder could not grade: score 0 (Gradescope
    needs one), ``reason`` and the request to contact the staff as the visible output."""
    data: dict[str, Any] = {"score": 0.0}
    if max_score is not None:
        data["max_score"] = max_score
    if execution_time is not None:
        data["execution_time"] = math.ceil(max(0.0, execution_time))
    text = f"The autograder could not grade this submission: {reason}\n\n{CONTACT_STAFF}"
    extra: dict[str, Any] = {"grader_failed": True, "kit_version": kit_version, "python": python}
    if max_score is not None:
        extra["max_score"] = max_score
    data |= {
        "output": html.escape(text, quote=False),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "extra_data": extra,
        "tests": [],
    }
    return data


def render_failure(reason: str, **kwargs: Any) -> str:
    return _dump(failure_dict(reason, **kwargs))


def check_visibility(hidden_visibility: str) -> None:
    """Refuse a value Gradescope does not know, and ``hidden`` (see the module docstring)."""
    if hidden_visibility == "hidden":
        raise ValueError(
            "hidden_visibility 'hidden' would let students see a total that hidden checks decided (Gradescope shows "
            "the total when every hidden test is 'hidden', as such tests should carry no points): use "
            "after_published or after_due_date"
        )
    if hidden_visibility not in HIDDEN_VISIBILITIES:
        allowed = ", ".join(HIDDEN_VISIBILITIES)
        raise ValueError(f"hidden_visibility must be one of {allowed}, not {hidden_visibility!r}")


def _dump(data: dict[str, Any]) -> str:
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


def _overview(run: RunResult) -> str:
    lines = [f"awaitlings {run.kit_version} on Python {run.python}: {run.score:g}/{run.max_score:g} points"]
    for ex in run.exercises:
        lines.append(f"  {ex.id} {ex.title}: {ex.score:g}/{ex.max_score:g} ({_EXERCISE_WORD[ex.status]})")
    return "\n".join(lines)


def _concealed_overview(run: RunResult, hidden_visibility: str) -> str:
    """The overview without anything a concealed hidden check decided: no total; for an
    exercise with hidden checks, the visible checks' verdicts only."""
    when = _WHEN[hidden_visibility]
    lines = [
        f"awaitlings {run.kit_version} on Python {run.python}",
        f"Some checks are hidden until {when.removeprefix('when ')}: they count towards your score, so your total "
        f"and the score of an exercise with hidden checks are shown {when}.",
    ]
    for ex in run.exercises:
        hidden = [c for c in ex.checks if c.hidden]
        if not hidden or ex.status in (ExerciseStatus.NOT_STARTED, ExerciseStatus.UNSUPPORTED):
            lines.append(f"  {ex.id} {ex.title}: {ex.score:g}/{ex.max_score:g} ({_EXERCISE_WORD[ex.status]})")
            continue
        visible = [c for c in ex.checks if not c.hidden]
        if ex.status is ExerciseStatus.ERROR and not any(c.passed for c in ex.checks):
            verdict = "could not be graded"  # the file itself failed: every check says why, hidden ones too
        else:
            verdict = f"{sum(c.passed for c in visible)} of {len(visible)} visible checks passed"
        lines.append(f"  {ex.id} {ex.title}: {verdict}, {len(hidden)} hidden (shown {when})")
    return "\n".join(lines)
