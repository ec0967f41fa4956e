"""Mutant: a TaskGroup, but only the first ValueError of the group is reported.

Must fail: test_collects_every_value_error
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
        async with asyncio.TaskGroup() as tg:
            for job in jobs:
                tasks.append(tg.create_task(job()))  # type: ignore[arg-type]
    except* ValueError as group:
        errors.append(group.exceptions[0])  # type: ignore[arg-type]
    if errors:
        return [], errors
    return [t.result() for t in tasks], []
