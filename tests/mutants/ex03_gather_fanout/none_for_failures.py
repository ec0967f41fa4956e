"""Mutant: "asyncio doesn't propagate exceptions", so each fetch is wrapped in
`try: ... except Exception: return None`: a failed url comes back as None and the caller
never learns that anything failed.

Must fail: test_same_exception_propagates, test_several_failures_none_lost
"""

from __future__ import annotations

import asyncio


async def fetch_all(urls, fetch):
    async def fetch_or_none(url):
        try:
            return await fetch(url)
        except Exception:
            return None

    return list(await asyncio.gather(*(fetch_or_none(url) for url in urls)))
