"""Reporters: pure functions from a :class:`~grader.results.RunResult` to text."""

from __future__ import annotations

from collections.abc import Callable

from grader.results import RunResult

Renderer = Callable[[RunResult], str]


def renderer(fmt: str) -> Renderer:
    """The machine-readable renderer for ``fmt`` (``json``, ``gradescope``, ``junit``, ``classroom``)."""
    if fmt == "json":
        from grader.reporters.json import render
    elif fmt == "gradescope":
        from grader.reporters.gradescope import render
    elif fmt == "junit":
        from grader.reporters.junit import render
    elif fmt == "classroom":
        from grader.reporters.classroom import render
    else:
        raise ValueError(f"no renderer for format {fmt!r}")
    return render
