"""Alt: asyncio.timeout(total) as a context object, inspecting cm.expired() to tell the
deadlines apart; a per-try asyncio.timeout_at computed from loop time."""
from __future__ import annotations
import asyncio


async def fetch_with_deadline(fetch, attempts, per_try, total):
    loop = asyncio.get_running_loop()
    outer = asyncio.timeout(total)
    async with outer:
        tries = 0
        while True:
            tries += 1
            inner = asyncio.timeout_at(loop.time() + per_try)
            try:
                async with inner:
                    return await fetch()
            except TimeoutError:
                if not inner.expired():
                    raise
                if tries >= attempts:
                    raise TimeoutError(f"gave up after {tries} attempts") from None
