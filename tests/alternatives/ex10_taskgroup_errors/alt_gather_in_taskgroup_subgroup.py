"""Alt: TaskGroup; catch BaseExceptionGroup, use subgroup() to keep the ValueErrors,
re-raise the original group if anything else is inside (the group then carries both)."""
from __future__ import annotations
import asyncio


def _flatten(g):
    for e in g.exceptions:
        if isinstance(e, BaseExceptionGroup):
            yield from _flatten(e)
        else:
            yield e


async def run_all(jobs):
    async def body():
        async with asyncio.TaskGroup() as tg:
            ts = [tg.create_task(j()) for j in jobs]
        return [t.result() for t in ts]

    try:
        return await body(), []
    except BaseExceptionGroup as eg:
        if eg.subgroup(lambda e: not isinstance(e, (ValueError, BaseExceptionGroup))) is not None:
            raise
        return [], list(_flatten(eg))
