"""Mutant: ``except* KeyError: pass`` -- silences the KeyError; ``task.result()`` on the
failed task then raises it bare, outside any ExceptionGroup.

Must fail: test_other_error_propagates_in_group
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
        errors.extend(group.exceptions)
    except* KeyError:
        pass
    if errors:
        return [], errors
    return [t.result() for t in tasks], []
