"""Mutant: awaits the jobs one after another (no concurrency at all).

Must fail: test_runs_jobs_concurrently, test_collects_every_value_error
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def run_all(jobs: list[Callable[[], Awaitable[T]]]) -> tuple[list[T], list[ValueError]]:
    results: list[T] = []
    for job in jobs:
        try:
            results.append(await job())
        except ValueError as exc:
            return [], [exc]
    return results, []
