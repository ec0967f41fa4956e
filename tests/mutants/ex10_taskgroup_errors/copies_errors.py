"""Mutant: reports new ValueErrors carrying the same messages, not the jobs' own errors.

The copies compare equal in repr but are other objects: the traceback and anything the
caller attached to the original exception are lost.

Must fail: test_value_error_cancels_siblings, test_collects_every_value_error
"""

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
        errors.extend(ValueError(*e.args) for e in failed.exceptions)
    if errors:
        return [], errors
    return [task.result() for task in tasks], []
