"""Mutant: starts every greeting, then sleeps a few delays ("they should be done by now")
and reads each result, instead of awaiting them: a greeting that takes longer is not ready.

Must fail: test_main_keeps_input_order
"""

from __future__ import annotations

import asyncio


async def greet(name: str, delay: float) -> str:
    await asyncio.sleep(delay)
    return f"Hello, {name}!"


def main(names: list[str], delay: float = 0.1) -> list[str]:
    async def greet_all() -> list[str]:
        tasks = [asyncio.create_task(greet(n, delay)) for n in names]
        await asyncio.sleep(2 * delay)  # "should be done by now"
        return [t.result() for t in tasks]
    return asyncio.run(greet_all())
