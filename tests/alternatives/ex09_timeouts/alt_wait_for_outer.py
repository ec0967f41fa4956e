"""Alt: asyncio.wait_for(total) around a retry coroutine; asyncio.timeout(per_try) inside."""
from __future__ import annotations
import asyncio


async def fetch_with_deadline(fetch, attempts, per_try, total):
    async def retry():
        last = None
        for _ in range(attempts):
            try:
                async with asyncio.timeout(per_try):
                    return await fetch()
            except TimeoutError as exc:
                last = exc
        raise TimeoutError(f"{attempts} attempts timed out") from last

    return await asyncio.wait_for(retry(), timeout=total)
