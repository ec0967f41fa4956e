"""Mutant: ``errors.append(group)`` in ``except* ValueError as group:``.

The list holds the ExceptionGroup itself, not the ValueErrors inside it
(``group.exceptions``).

Must fail: test_value_error_cancels_siblings, test_collects_every_value_error
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any


async def run_all(jobs: list[Callable[[], Awaitable[Any]]]) -> tuple[list[Any], list[Any]]:
    errors: list[Any] = []
    tasks: list[asyncio.Task[Any]] = []
    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(job()) for job in jobs]
    except* ValueError as group:
        errors.append(group)
    if errors:
        return [], errors
    return [t.result() for t in tasks], []
