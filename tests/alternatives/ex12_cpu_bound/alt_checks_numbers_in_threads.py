"""Alt: each number is checked in a worker thread first (``operator.index``, a TypeError
for anything but an integer), one quick ``to_thread`` call after another, then the
squares are computed in a process pool.

Many quick thread calls: each is a moment where a pool thread has just taken its call off
the queue and looks idle. The worker process once reported itself idle in that moment,
and the checker's clock jumped over the check's time limit (session 17; the checker's own
loop had been fixed for it in session 16).
"""

from __future__ import annotations

import asyncio
import operator
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any


def slow_square(n: int) -> int:
    total = 0
    for _ in range(n):
        total += n
    return total


async def crunch_all(nums: list[int], fn: Callable[[int], Any] = slow_square) -> list[Any]:
    checked = [await asyncio.to_thread(operator.index, n) for n in nums]
    for _ in range(200):  # 200 quick calls more: the moment above, often enough to be seen
        await asyncio.to_thread(operator.index, 0)
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor() as pool:
        return list(await asyncio.gather(*(loop.run_in_executor(pool, fn, n) for n in checked)))
