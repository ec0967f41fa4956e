"""Mutant: waits with time.sleep, which freezes the event loop.

Must fail: test_greet_returns_greeting_after_delay, test_greet_does_not_block_the_loop
"""

import asyncio
import time


async def greet(name: str, delay: float) -> str:
    time.sleep(delay)
    return f"Hello, {name}!"


def main(names: list[str], delay: float = 0.1) -> list[str]:
    async def greet_all() -> list[str]:
        return list(await asyncio.gather(*(greet(n, delay) for n in names)))

    return asyncio.run(greet_all())
