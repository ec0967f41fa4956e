"""GitHub Classroom: the result object of its autograding actions.

GitHub Classroom's workflow (``.github/workflows/classroom.yml``) runs grading steps and
then ``classroom-resources/autograding-grading-reporter``, which reads each step's
``result`` output (this JSON, base64-encoded, passed as ``<STEP_ID>_RESULTS``), prints
every test, and posts ``Points <sum of tests' score>/<max_score>`` to the classroom. The
object: ``version``, ``status`` (``pass``/``fail``/``error``), ``max_score`` and
``tests[]`` with ``name``, ``status``, ``score``, ``message``, ``line_no``,
``execution_time``.

One test per check (points are the check's share, as everywhere), one failed test for an
exercise with no check to run; an exercise this Python cannot grade is left out, so it
costs no points. Pure: results in, JSON out.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from grader.results import CheckStatus, ExerciseStatus, RunResult

VERSION = 1


def to_dict(run: RunResult) -> dict[str, Any]:
    tests: list[dict[str, Any]] = []
    max_score = 0.0
    for ex in run.exercises:
        if ex.status is ExerciseStatus.UNSUPPORTED:
            continue
        max_score += ex.max_score
        if not ex.checks or ex.status is ExerciseStatus.NOT_STARTED:
            tests.append(_test(f"{ex.id} {ex.title}", "fail", 0.0, ex.message or ex.status.value, ex.duration_s))
            continue
        for check in ex.checks:
            passed = check.status is CheckStatus.PASSED
            status = "pass" if passed else ("error" if check.status is CheckStatus.ERROR else "fail")
            message = "" if passed else (check.message or ex.message or check.status.value)
            tests.append(_test(f"{ex.id} {check.name}", status, check.score, message, check.duration_s))
    if any(t["status"] == "error" for t in tests):
        status = "error"
    elif all(t["status"] == "pass" for t in tests) and tests:
        status = "pass"
    else:
        status = "fail"
    return {"version": VERSION, "status": status, "max_score": round(max_score, 4), "tests": tests}


def render(run: RunResult) -> str:
    return json.dumps(to_dict(run), indent=2, ensure_ascii=False) + "\n"


def encode(run: RunResult) -> str:
    """The ``result`` step output as the reporter action reads it: base64 of compact JSON."""
    return base64.b64encode(json.dumps(to_dict(run), ensure_ascii=False).encode("utf-8")).decode("ascii")


def _test(name: str, status: str, score: float, message: str, seconds: float) -> dict[str, Any]:
    return {
        "name": name,
        "status": status,
        "score": float(score),
        "message": message,
        "line_no": 0,
        "execution_time": f"{seconds:.2f}s",
    }
