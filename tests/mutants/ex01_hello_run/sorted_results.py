"""Mutant: sorts the greetings (alphabetical order, not the order of names).

Concurrent and complete, so only the order check may fail it.

Must fail: test_main_keeps_input_order
"""

from __future__ import annotations

import asyncio


async def greet(name: str, delay: float) -> str:
    await asyncio.sleep(delay)
    return f"Hello, {name}!"


def main(names: list[str], delay: float = 0.1) -> list[str]:
    async def greet_all() -> list[str]:
        return sorted(await asyncio.gather(*(greet(n, delay) for n in names)))

    return asyncio.run(greet_all())
