"""Mutant: one ``asyncio.run`` per name, each in its own thread (``ThreadPoolExecutor.map``).

The greetings overlap and come back in order, but main runs N event loops in N threads
instead of N coroutines on one loop: the contract says "on one event loop".

Must fail: test_main_greets_concurrently
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor


async def greet(name: str, delay: float) -> str:
    await asyncio.sleep(delay)
    return f"Hello, {name}!"


def main(names: list[str], delay: float = 0.1) -> list[str]:
    with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
        return list(pool.map(lambda n: asyncio.run(greet(n, delay)), names))
