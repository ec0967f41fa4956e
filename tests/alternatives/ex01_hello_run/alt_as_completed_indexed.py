"""ex01 alt: as_completed, each coroutine wrapped to carry its index; results placed by index."""
from __future__ import annotations
import asyncio


async def greet(name: str, delay: float) -> str:
    await asyncio.sleep(delay)
    return f"Hello, {name}!"


def main(names: list[str], delay: float = 0.1) -> list[str]:
    async def indexed(i, name):
        return i, await greet(name, delay)

    async def go():
        results = [None] * len(names)
        for fut in asyncio.as_completed([indexed(i, n) for i, n in enumerate(names)]):
            i, text = await fut
            results[i] = text
        return results

    return asyncio.run(go())
