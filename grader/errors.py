"""The grader's errors: one boundary, turned into exit codes and messages in ``cli.py``.

Every message says what to do next.
"""

from __future__ import annotations


class GraderError(Exception):
    """Base of every error the grader library raises on purpose."""

    exit_code = 3


class UsageError(GraderError):
    """The user asked for something that cannot be done as asked (exit code 2)."""

    exit_code = 2


class UnknownExercise(UsageError):
    """An exercise id that the manifest does not know."""

    def __init__(self, name: str, suggestion: str | None) -> None:
        hint = f"; did you mean {suggestion!r}?" if suggestion else "; `grade list` shows them all"
        super().__init__(f"no exercise called {name!r}{hint}")
        self.name = name
        self.suggestion = suggestion


class KitError(GraderError):
    """The kit itself is broken or missing (exit code 3): not the learner's fault."""


class GradingCancelled(GraderError):
    """Grading was stopped on request (``grade watch`` quitting); nothing was scored."""
