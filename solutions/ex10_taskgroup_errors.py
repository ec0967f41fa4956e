"""Exercise 10 - taskgroup_errors: reference solution."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def run_all(jobs: list[Callable[[], Awaitable[T]]]) -> tuple[list[T], list[ValueError]]:
    errors: list[ValueError] = []
    tasks: list[asyncio.Task[Any]] = []
    try:
        async with asyncio.TaskGroup() as group:
            for job in jobs:
                tasks.append(group.create_task(job()))
    except* ValueError as failed:
        # Only the ValueError part of the group lands here; anything else in the same
        # group is re-raised (as an ExceptionGroup) when this block ends.
        errors.extend(_leaves(failed))
    if errors:
        return [], errors
    return [task.result() for task in tasks], []


def _leaves(group: BaseExceptionGroup[ValueError]) -> list[ValueError]:
    found: list[ValueError] = []
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            found.extend(_leaves(exc))
        else:
            found.append(exc)
    return found
