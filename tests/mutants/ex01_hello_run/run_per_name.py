"""Mutant: one asyncio.run per name (each run waits for the previous one).

Must fail: test_main_greets_concurrently
"""

import asyncio


async def greet(name: str, delay: float) -> str:
    await asyncio.sleep(delay)
    return f"Hello, {name}!"


def main(names: list[str], delay: float = 0.1) -> list[str]:
    return [asyncio.run(greet(n, delay)) for n in names]
