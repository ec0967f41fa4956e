"""Alt: each attempt is a task; asyncio.wait(timeout=per_try); on timeout or on any exit
the attempt is cancelled and waited for -- re-cancelled if our own task gets cancelled
(the total deadline) while we wait -- all inside asyncio.timeout(total)."""
from __future__ import annotations
import asyncio


async def _cancel_and_wait(task):
    task.cancel()
    try:
        await asyncio.wait({task})
    except asyncio.CancelledError:
        task.cancel()  # we are being cancelled: cancel the attempt again, wait, go on out
        await asyncio.wait({task})
        raise


async def fetch_with_deadline(fetch, attempts, per_try, total):
    async def call():
        return await fetch()

    async with asyncio.timeout(total):
        for _ in range(attempts):
            task = asyncio.ensure_future(call())
            try:
                done, _ = await asyncio.wait({task}, timeout=per_try)
            except asyncio.CancelledError:
                task.cancel()
                await asyncio.wait({task})
                raise
            if not done:
                await _cancel_and_wait(task)
            if not task.cancelled():
                return task.result()
        raise TimeoutError("every attempt timed out")
