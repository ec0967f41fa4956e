"""Mutant: a TaskGroup whose jobs append their results as they finish.

Results come back in completion order, not job order.

Must fail: test_all_succeed_in_job_order
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def run_all(jobs: list[Callable[[], Awaitable[T]]]) -> tuple[list[T], list[ValueError]]:
    results: list[T] = []
    errors: list[ValueError] = []

    async def run(job: Callable[[], Awaitable[T]]) -> None:
        results.append(await job())

    try:
        async with asyncio.TaskGroup() as tg:
            for job in jobs:
                tg.create_task(run(job))
    except* ValueError as group:
        errors.extend(group.exceptions)  # type: ignore[arg-type]
    if errors:
        return [], errors
    return results, []
