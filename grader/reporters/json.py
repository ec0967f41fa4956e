"""The ``json`` format: awaitlings' own documented, versioned schema (DESIGN.md section 5).

Course scripts and outside tools parse it; a change of shape needs a new ``version``.
:func:`from_dict` reads it back (``grade batch`` resumes from the files it wrote); the
check weights, which the format does not carry, come back as the checks' points.
"""

from __future__ import annotations

import json
from typing import Any

from grader.results import CheckResult, CheckStatus, ExerciseResult, ExerciseStatus, RunResult

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


def from_dict(data: dict[str, Any]) -> RunResult:
    """The :class:`RunResult` a :func:`to_dict` document describes (``ValueError`` if it is not one)."""
    if data.get("format") != FORMAT or data.get("version") != VERSION:
        raise ValueError(f"not an {FORMAT} version {VERSION} document")
    try:
        exercises = tuple(
            ExerciseResult(
                id=str(ex["id"]),
                slug=str(ex["slug"]),
                title=str(ex["title"]),
                status=ExerciseStatus(ex["status"]),
                max_score=float(ex["max_score"]),
                score=float(ex["score"]),
                duration_s=float(ex["duration_s"]),
                message=ex["message"],
                flags=tuple(str(f) for f in ex.get("flags", ())),
                checks=tuple(
                    CheckResult(
                        id=str(c["id"]),
                        name=str(c["name"]),
                        status=CheckStatus(c["status"]),
                        weight=float(c["max_score"]),
                        hidden=bool(c["hidden"]),
                        message=c["message"],
                        output=str(c["output"]),
                        score=float(c["score"]),
                        max_score=float(c["max_score"]),
                    )
                    for c in ex["checks"]
                ),
            )
            for ex in data["exercises"]
        )
        return RunResult(
            target=str(data["target"]),
            python=str(data["python"]),
            kit_version=str(data.get("kit_version", "")),
            exercises=exercises,
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"malformed {FORMAT} document: {exc!r}") from exc
