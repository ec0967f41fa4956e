"""Alt: TaskGroup, plain `except ExceptionGroup` + eg.split(ValueError); the rest re-raised."""
from __future__ import annotations
import asyncio


async def run_all(jobs):
    tasks = []
    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(job()) for job in jobs]
    except ExceptionGroup as eg:
        values, rest = eg.split(ValueError)
        if rest is not None:
            raise rest
        flat = []
        stack = [values]
        while stack:
            g = stack.pop()
            for e in g.exceptions:
                (stack.append(e) if isinstance(e, BaseExceptionGroup) else flat.append(e))
        return [], flat
    return [t.result() for t in tasks], []
