"""Mutant: greet hands time.sleep to a thread (asyncio.to_thread): the loop stays free,
but the wait is not on the loop and ties up a thread.

Must fail: test_greet_returns_greeting_after_delay
"""

from __future__ import annotations

import asyncio
import time


async def greet(name, delay):
    await asyncio.to_thread(time.sleep, delay)
    return f"Hello, {name}!"

def main(names, delay=0.1):
    async def all_of_them():
        return await asyncio.gather(*(greet(n, delay) for n in names))
    return asyncio.run(all_of_them())
