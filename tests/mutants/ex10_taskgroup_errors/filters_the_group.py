"""Mutant: catches the whole ExceptionGroup and keeps only its ValueErrors.

Any other exception in the group (a KeyError) is silently dropped.

Must fail: test_other_error_propagates_in_group
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def run_all(jobs: list[Callable[[], Awaitable[T]]]) -> tuple[list[T], list[ValueError]]:
    tasks: list[asyncio.Task[Any]] = []
    try:
        async with asyncio.TaskGroup() as tg:
            for job in jobs:
                tasks.append(tg.create_task(job()))  # type: ignore[arg-type]
    except ExceptionGroup as group:
        return [], [e for e in group.exceptions if isinstance(e, ValueError)]
    return [t.result() for t in tasks], []
