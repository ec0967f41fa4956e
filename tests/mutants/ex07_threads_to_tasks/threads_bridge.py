"""Still threads: each pool thread hands its probe to the main loop with
`run_coroutine_threadsafe` and blocks until it is done. Correct results, right limit,
but `limit` threads sit idle waiting.

Must fail: test_starts_no_threads
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor


async def scan(host, ports, probe, limit=100):
    loop = asyncio.get_running_loop()

    def run_probe(port):
        return asyncio.run_coroutine_threadsafe(probe(host, port), loop).result()

    pool = ThreadPoolExecutor(max_workers=limit)
    try:
        results = await asyncio.gather(*(loop.run_in_executor(pool, run_probe, p) for p in ports))
    finally:
        pool.shutdown(wait=False)
    return sorted(p for p, ok in zip(ports, results) if ok)
