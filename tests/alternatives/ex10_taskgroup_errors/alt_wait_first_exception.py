"""Alt: no TaskGroup -- create_task + asyncio.wait(FIRST_EXCEPTION), cancel the rest, wait
for them, then sort the errors by hand (raise an ExceptionGroup for anything not ValueError)."""
from __future__ import annotations
import asyncio


async def run_all(jobs):
    tasks = [asyncio.ensure_future(job()) for job in jobs]
    if not tasks:
        return [], []
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for t in tasks:
            if not t.done():
                t.cancel()
        await asyncio.wait(tasks)
    failures = [t.exception() for t in tasks if not t.cancelled() and t.exception() is not None]
    if not failures:
        return [t.result() for t in tasks], []
    others = [e for e in failures if not isinstance(e, ValueError)]
    if others:
        raise ExceptionGroup("run_all failed", failures)
    return [], failures
