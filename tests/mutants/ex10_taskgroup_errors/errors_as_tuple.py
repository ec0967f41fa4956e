"""Mutant: returns the group's ``exceptions`` tuple as the errors, not a list.

Must fail: test_value_error_cancels_siblings, test_collects_every_value_error
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def run_all(jobs: list[Callable[[], Awaitable[T]]]) -> tuple[list[T], Any]:
    errors: tuple[Any, ...] = ()
    tasks: list[asyncio.Task[Any]] = []
    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(job()) for job in jobs]
    except* ValueError as group:
        errors = group.exceptions
    if errors:
        return [], errors
    return [task.result() for task in tasks], []
