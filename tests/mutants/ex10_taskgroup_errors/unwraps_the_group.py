"""Mutant: handles ValueErrors with except*, then unwraps what is left and raises it bare.

Must fail: test_other_error_propagates_in_group
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
        try:
            async with asyncio.TaskGroup() as tg:
                for job in jobs:
                    tasks.append(tg.create_task(job()))  # type: ignore[arg-type]
        except* ValueError as group:
            errors.extend(group.exceptions)  # type: ignore[arg-type]
    except ExceptionGroup as rest:
        raise rest.exceptions[0] from None
    if errors:
        return [], errors
    return [t.result() for t in tasks], []
