"""Mutant: collects results as they complete, losing the input order.

Must fail: test_main_keeps_input_order
"""

import asyncio


async def greet(name: str, delay: float) -> str:
    await asyncio.sleep(delay)
    return f"Hello, {name}!"


def main(names: list[str], delay: float = 0.1) -> list[str]:
    async def greet_all() -> list[str]:
        return [await c for c in asyncio.as_completed([greet(n, delay) for n in names])]

    return asyncio.run(greet_all())
