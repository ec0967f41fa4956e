"""Waits a short back-off (`asyncio.sleep(0.02)`) before each retry: every retry starts
20 ms late, so a later attempt answers, and the last one gives up, later than the
attempts themselves take. The contract says the next attempt starts at once.

Must fail: test_later_attempt_succeeds, test_gives_up_after_attempts, test_other_errors_propagate_at_once
"""

from __future__ import annotations

import asyncio


async def fetch_with_deadline(fetch, attempts, per_try, total):
    async with asyncio.timeout(total):
        for i in range(attempts):
            if i:
                await asyncio.sleep(0.02)
            try:
                async with asyncio.timeout(per_try):
                    return await fetch()
            except TimeoutError:
                continue
        raise TimeoutError
