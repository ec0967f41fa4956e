"""The ``json`` format: awaitlings' own documented, versioned schema (DESIGN.md section 5).

Course scripts and outside tools parse it; a change of shape needs a new ``version``.
"""

from __future__ import annotations

import json
from typing import Any

from grader.results import CheckResult, ExerciseResult, RunResult

FORMAT = "awaitlings-results"
VERSION = 1


def check_dict(check: CheckResult) -> dict[str, Any]:
    return {
        "id": check.id,
        "name": check.name,
        "status": check.status.value,
        "score": check.score,
        "max_score": check.max_score,
        "hidden": check.hidden,
        "message": check.message,
        "output": check.output,
    }


def exercise_dict(ex: ExerciseResult) -> dict[str, Any]:
    return {
        "id": ex.id,
        "slug": ex.slug,
        "title": ex.title,
        "status": ex.status.value,
        "score": ex.score,
        "max_score": ex.max_score,
        "duration_s": ex.duration_s,
        "message": ex.message,
        "checks": [check_dict(c) for c in ex.checks],
        "flags": list(ex.flags),
    }


def to_dict(run: RunResult) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "target": run.target,
        "python": run.python,
        "kit_version": run.kit_version,
        "score": run.score,
        "max_score": run.max_score,
        "exercises": [exercise_dict(e) for e in run.exercises],
    }


def render(run: RunResult) -> str:
    return json.dumps(to_dict(run), indent=2, ensure_ascii=False) + "\n"
