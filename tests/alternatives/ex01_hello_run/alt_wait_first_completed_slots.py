"""ex01 alt: asyncio.wait(FIRST_COMPLETED) in a loop, each finished task's result put
back in its own slot (the done sets are read in any order, the slots keep the order)."""
from __future__ import annotations

import asyncio


async def greet(name: str, delay: float) -> str:
    await asyncio.sleep(delay)
    return f"Hello, {name}!"


def main(names: list[str], delay: float = 0.1) -> list[str]:
    async def greet_all() -> list[str]:
        slots = {asyncio.ensure_future(greet(n, delay)): i for i, n in enumerate(names)}
        out = [""] * len(names)
        pending = set(slots)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                out[slots[task]] = task.result()
        return out

    return asyncio.run(greet_all())
