"""Gradescope's ``results.json`` (the autograder specification's top-level keys and
``tests[]`` entries). Hidden checks are ``after_published`` by default: students see
them once grades are published, not while they can still resubmit."""

from __future__ import annotations

import json
from typing import Any

from grader.results import CheckStatus, ExerciseStatus, RunResult


def to_dict(run: RunResult, *, hidden_visibility: str = "after_published") -> dict[str, Any]:
    tests: list[dict[str, Any]] = []
    for ex_index, ex in enumerate(run.exercises, start=1):
        if not ex.checks or ex.status in (ExerciseStatus.NOT_STARTED, ExerciseStatus.UNSUPPORTED):
            tests.append(
                {
                    "name": f"{ex.id} {ex.title}",
                    "number": f"{ex_index}",
                    "score": 0.0,
                    "max_score": ex.max_score,
                    "status": "failed",
                    "output": ex.message or "",
                    "visibility": "visible",
                    "tags": [ex.id, ex.slug],
                }
            )
            continue
        for check_index, check in enumerate(ex.checks, start=1):
            output = check.message or ""
            if ex.message and ex.status is ExerciseStatus.ERROR and not output:
                output = ex.message
            tests.append(
                {
                    "name": f"{ex.id} {check.name}",
                    "number": f"{ex_index}.{check_index}",
                    "score": check.score,
                    "max_score": check.max_score,
                    "status": "passed" if check.status is CheckStatus.PASSED else "failed",
                    "output": output,
                    "visibility": hidden_visibility if check.hidden else "visible",
                    "tags": [ex.id, ex.slug],
                }
            )
    duration = sum(e.duration_s for e in run.exercises)
    return {
        "score": run.score,
        "max_score": run.max_score,
        "execution_time": round(duration, 3),
        "output": f"awaitlings {run.kit_version} on Python {run.python}: {run.score:g}/{run.max_score:g}",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def render(run: RunResult) -> str:
    return json.dumps(to_dict(run), indent=2, ensure_ascii=False) + "\n"
