"""Runs each attempt as a task; on the per-try timeout it cancels it and awaits it inside
`except asyncio.CancelledError: pass`. That handler also swallows the total deadline's
cancellation when it arrives while waiting for an attempt slow to die: the call carries
on retrying past the deadline (and hangs on the next attempt that ignores a cancel).

Must fail: test_swallowing_fetch_still_times_out
"""

from __future__ import annotations

import asyncio


async def fetch_with_deadline(fetch, attempts, per_try, total):
    async def call():
        return await fetch()

    async with asyncio.timeout(total):
        for _ in range(attempts):
            task = asyncio.create_task(call())
            try:
                done, _ = await asyncio.wait({task}, timeout=per_try)
            except asyncio.CancelledError:
                task.cancel()
                await asyncio.wait({task})
                raise
            if done:
                return task.result()
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        raise TimeoutError
