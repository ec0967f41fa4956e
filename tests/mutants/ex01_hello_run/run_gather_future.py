"""Mutant: passes ``asyncio.gather(...)`` straight to ``asyncio.run``.

``gather`` returns a future, not a coroutine: ``asyncio.run`` raises ValueError, and the
greetings gather wrapped in tasks (of a loop that never runs) never start.

Must fail: test_main_greets_concurrently, test_main_keeps_input_order
"""

from __future__ import annotations

import asyncio


async def greet(name: str, delay: float) -> str:
    await asyncio.sleep(delay)
    return f"Hello, {name}!"


def main(names: list[str], delay: float = 0.1) -> list[str]:
    return list(asyncio.run(asyncio.gather(*(greet(n, delay) for n in names))))
