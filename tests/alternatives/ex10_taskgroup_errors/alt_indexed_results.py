"""Alt: TaskGroup whose tasks write into a pre-sized list by index; except* collects
group.exceptions into a list outside the handler."""
from __future__ import annotations
import asyncio


async def run_all(jobs):
    results = [None] * len(jobs)
    errors: list[ValueError] = []

    async def run(i, job):
        results[i] = await job()

    try:
        async with asyncio.TaskGroup() as tg:
            for i, job in enumerate(jobs):
                tg.create_task(run(i, job))
    except* ValueError as group:
        errors = list(group.exceptions)
    return ([], errors) if errors else (results, [])
