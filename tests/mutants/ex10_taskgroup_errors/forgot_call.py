"""Mutant: ``tg.create_task(job)`` -- hands the task the job, never calls it.

create_task raises TypeError (a coroutine was expected) and no job ever starts.

Must fail: test_all_succeed_in_job_order, test_runs_jobs_concurrently, test_value_error_cancels_siblings, test_collects_every_value_error, test_other_error_propagates_in_group
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
            tasks = [tg.create_task(job) for job in jobs]  # type: ignore[arg-type]
    except* ValueError as group:
        errors.extend(group.exceptions)
    if errors:
        return [], errors
    return [t.result() for t in tasks], []
