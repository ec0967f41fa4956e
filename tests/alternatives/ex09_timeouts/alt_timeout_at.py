"""Alt: absolute total deadline with asyncio.timeout_at, per-try asyncio.timeout inside."""
from __future__ import annotations
import asyncio


async def fetch_with_deadline(fetch, attempts, per_try, total):
    deadline = asyncio.get_running_loop().time() + total
    async with asyncio.timeout_at(deadline):
        for attempt in range(1, attempts + 1):
            try:
                async with asyncio.timeout(per_try):
                    return await fetch()
            except TimeoutError:
                if attempt == attempts:
                    raise
