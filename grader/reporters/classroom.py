"""GitHub Classroom: the result objects its grading reporter reads, and what students read.

GitHub Classroom's workflow (``.github/workflows/classroom.yml``) runs grading steps, then
``classroom-resources/autograding-grading-reporter@v1``. That reporter, for each name in
its ``runners`` input, base64-decodes the environment variable ``<NAME>_RESULTS`` (the
name upper-cased) into an object ``{version, status, max_score, tests[]}``. It prints ✅
or ❌ and the name of each test (for status ``error`` only ``Error: <message>``), then
"Total points for <runner>: <passed tests / tests * max_score>" and a table of the same
numbers; and it posts ``Points <sum of every test's score>/<sum of max_score>`` (runners
whose max_score is 0 are skipped) as the annotation Classroom reads. The sums are
JavaScript floats, added in order.

So the kit gives one runner per exercise (``ex01`` … : its table row and "Total points"
line are that exercise's), one test per check, and chooses each test's score so that the
reporter's running float sum lands exactly on the kit's score after every test: the posted
points equal the kit's total and never exceed the maximum. The reporter's per-runner lines
count passed checks, unweighted, so for an exercise whose checks weigh differently they
can differ from the kit's score; the posted points and the kit's own summary are right.
The reporter prints no explanation, so :func:`log_text` (for the step's log) and
:func:`summary_markdown` (for ``$GITHUB_STEP_SUMMARY``) carry them. Pure: results in,
JSON and text out.
"""

from __future__ import annotations

import base64
import json
import math
from decimal import Decimal
from typing import Any

from grader.results import CheckStatus, ExerciseResult, ExerciseStatus, RunResult

VERSION = 1
#: The reporter's ``runners`` input must match ``^([a-zA-Z0-9]+,)*[a-zA-Z0-9]+$``.
RUNNER_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def runners(run: RunResult) -> dict[str, dict[str, Any]]:
    """One result object per exercise, keyed by its id (the runner's name)."""
    objects: dict[str, dict[str, Any]] = {}
    for ex in run.exercises:
        if not set(ex.id) <= RUNNER_CHARS:
            raise ValueError(f"{ex.id}: a Classroom runner name has only letters and digits")
        objects[ex.id] = _exercise(ex)
    _fit_scores([t for o in objects.values() if o["max_score"] for t in o["tests"]],
                [e for e in run.exercises if e.status is not ExerciseStatus.UNSUPPORTED])  # fmt: skip
    return objects


def encode_runners(run: RunResult) -> dict[str, str]:
    """Each runner's object as the reporter reads it: base64 of compact UTF-8 JSON."""
    return {name: _encode(obj) for name, obj in runners(run).items()}


def failure_runners(exercises: list[tuple[str, float]], reason: str) -> dict[str, str]:
    """Encoded objects for a run the grader could not finish: each exercise (id, points)
    one ``error`` test that says so and sends the student to the staff; no points."""
    message = f"The autograder could not grade this exercise: {reason}. {CONTACT_STAFF}"
    return {ex_id: _encode({"version": VERSION, "status": "error", "max_score": points,
                            "tests": [_test(f"{ex_id}: not graded", "error", 0.0, message, 0.0)]})
            for ex_id, points in exercises}  # fmt: skip


CONTACT_STAFF = (
    "This is not a verdict on your code: ask the course staff, with a link to this workflow run."
)


def to_dict(run: RunResult) -> dict[str, Any]:
    """All exercises as one result object (``grade --format classroom``), points exact as above."""
    graded = [e for e in run.exercises if e.status is not ExerciseStatus.UNSUPPORTED]
    tests = [t for ex in graded for t in _exercise(ex)["tests"]]
    _fit_scores(tests, graded)
    max_score = float(sum(Decimal(str(e.max_score)) for e in graded))
    return {"version": VERSION, "status": _status(tests), "max_score": max_score, "tests": tests}


def render(run: RunResult) -> str:
    return json.dumps(to_dict(run), indent=2, ensure_ascii=False) + "\n"


def encode(run: RunResult) -> str:
    """The single object as a ``result`` step output: base64 of compact JSON."""
    return _encode(to_dict(run))


def summary_markdown(run: RunResult) -> str:
    """The job summary: the points per exercise, then each failed check and why."""
    lines = [f"## awaitlings: {run.score:g}/{run.max_score:g} points", "",
             "| exercise | points | status |", "| --- | ---: | --- |"]  # fmt: skip
    for ex in run.exercises:
        status = ex.status.value.replace("_", " ")
        lines.append(f"| {ex.id} {_md_cell(ex.title)} | {ex.score:g}/{ex.max_score:g} | {status} |")
    failing = [ex for ex in run.exercises if ex.status not in (ExerciseStatus.PASSED, ExerciseStatus.UNSUPPORTED)]
    if failing:
        lines += ["", "### What to fix", ""]
    for ex in failing:
        lines.append(f"#### {ex.id} {_md_text(ex.title)}")
        if ex.message and (not ex.checks or ex.status is not ExerciseStatus.FAILED):
            lines += ["", _quote(ex.message)]
        for check in ex.checks:
            if check.passed or (ex.status is ExerciseStatus.ERROR and check.message == ex.message):
                continue
            lines += ["", f"- ❌ **{_md_text(check.name)}** ({check.max_score:g} points)"]
            if check.message:
                lines.append(_quote(check.message, indent="  "))
        lines.append("")
    lines += ["", "Run `grade` in your copy of the kit to see the same report, and `grade hint EXERCISE` for a hint."]
    return "\n".join(lines) + "\n"


def _exercise(ex: ExerciseResult) -> dict[str, Any]:
    max_score = 0.0 if ex.status is ExerciseStatus.UNSUPPORTED else float(ex.max_score)
    tests: list[dict[str, Any]] = []
    if not ex.checks or ex.status in (ExerciseStatus.NOT_STARTED, ExerciseStatus.UNSUPPORTED):
        tests.append(_test(f"{ex.id} {ex.title}", "fail", 0.0, ex.message or ex.status.value.replace("_", " "),
                           ex.duration_s))  # fmt: skip
    for check in ex.checks if tests == [] else ():
        status = "pass" if check.passed else ("error" if check.status is CheckStatus.ERROR else "fail")
        name = f"{ex.id} {check.name}"
        message = "" if check.passed else (check.message or ex.message or check.status.value)
        if status == "error":  # the reporter prints only the message of an error: name the check in it
            message = f"{name}: {message}"
        tests.append(_test(name, status, check.score, message, check.duration_s))
    return {"version": VERSION, "status": _status(tests), "max_score": max_score, "tests": tests}


def _status(tests: list[dict[str, Any]]) -> str:
    if any(t["status"] == "error" for t in tests):
        return "error"
    return "pass" if tests and all(t["status"] == "pass" for t in tests) else "fail"


def _fit_scores(tests: list[dict[str, Any]], exercises: list[ExerciseResult]) -> None:
    """Set each passed test's score so that adding them in order, as the reporter does
    (floats, from 0), gives after each exercise exactly the kit's running total of exercise
    scores; a test that did not pass scores exactly 0."""
    by_exercise: dict[str, list[dict[str, Any]]] = {}
    for test in tests:
        by_exercise.setdefault(test["name"].split(" ", 1)[0], []).append(test)
    total, running = 0.0, Decimal(0)
    for ex in exercises:
        own = by_exercise.get(ex.id, [])
        weight = sum(Decimal(str(c.weight)) for c in ex.checks)
        passed_tests = [t for t in own if t["status"] == "pass"]
        passed = Decimal(0)
        for test, check in zip(own, ex.checks, strict=False):
            if test["status"] != "pass" or not ex.score:  # a crashed exercise scores 0 whatever passed
                test["score"] = 0.0
                continue
            passed += Decimal(str(check.weight))
            # The kit's own rounding (results.exercise_result), cumulatively; the last passed
            # check lands on the exercise's score itself.
            share = Decimal(str(ex.max_score)) * passed / weight
            gained = Decimal(str(ex.score)) if test is passed_tests[-1] else round(share, 4)
            test["score"] = _step(total, float(running + gained))
            total += test["score"]
        for test in own[len(ex.checks):]:
            test["score"] = 0.0
        running += Decimal(str(ex.score))


def _step(total: float, target: float) -> float:
    """The score that takes the float ``total`` exactly to ``target``: the rounded difference
    when that works (it usually does), else the next float that does."""
    step = round(target - total, 4)
    if total + step == target:
        return step
    step = target - total
    while total + step < target:
        step = math.nextafter(step, math.inf)
    while total + step > target:
        step = math.nextafter(step, -math.inf)
    return step


def _test(name: str, status: str, score: float, message: str, seconds: float) -> dict[str, Any]:
    return {
        "name": name,
        "status": status,
        "score": float(score),
        "message": message,
        "line_no": 0,
        "execution_time": f"{seconds:.2f}s",
    }


def _encode(obj: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(obj, ensure_ascii=False).encode("utf-8")).decode("ascii")


def _md_text(text: str) -> str:
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _md_cell(text: str) -> str:
    return _md_text(text).replace("|", "\\|")


def _quote(text: str, indent: str = "") -> str:
    return "\n".join(f"{indent}> {_md_text(line)}" if line else f"{indent}>" for line in text.splitlines())
