"""Mutant: each job runs in a wrapper that catches its own ValueError and records it.

The TaskGroup never sees a failure, so it cancels nothing: run_all waits for every other
job to end (forever, if one never does).

Must fail: test_value_error_cancels_siblings, test_collects_every_value_error
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def run_all(jobs: list[Callable[[], Awaitable[T]]]) -> tuple[list[T], list[ValueError]]:
    errors: list[ValueError] = []

    async def guarded(job: Callable[[], Awaitable[T]]) -> Any:
        try:
            return await job()
        except ValueError as exc:
            errors.append(exc)
            return None

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(guarded(job)) for job in jobs]
    if errors:
        return [], errors
    return [task.result() for task in tasks], []
