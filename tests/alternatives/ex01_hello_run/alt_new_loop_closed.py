"""ex01 alt: a loop made by hand, run once and closed in a finally (what asyncio.run does)."""
from __future__ import annotations

import asyncio


async def greet(name: str, delay: float) -> str:
    await asyncio.sleep(delay)
    return f"Hello, {name}!"


def main(names: list[str], delay: float = 0.1) -> list[str]:
    async def greet_all() -> list[str]:
        return list(await asyncio.gather(*(greet(n, delay) for n in names)))

    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(greet_all())
    finally:
        loop.close()
