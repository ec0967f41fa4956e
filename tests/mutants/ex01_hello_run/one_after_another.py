"""Mutant: awaits each greeting in turn, so they never overlap.

Must fail: test_main_greets_concurrently
"""

import asyncio


async def greet(name: str, delay: float) -> str:
    await asyncio.sleep(delay)
    return f"Hello, {name}!"


def main(names: list[str], delay: float = 0.1) -> list[str]:
    async def greet_all() -> list[str]:
        return [await greet(n, delay) for n in names]

    return asyncio.run(greet_all())
