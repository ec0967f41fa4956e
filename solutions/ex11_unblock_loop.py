"""Exercise 11 - unblock_loop: reference solution."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def handle(request: bytes, hash_fn: Callable[[bytes], bytes]) -> bytes:
    # The call runs in the default thread pool; the loop serves others meanwhile.
    return await asyncio.to_thread(hash_fn, request)


async def handle_many(requests: list[bytes], hash_fn: Callable[[bytes], bytes]) -> list[bytes]:
    # gather returns results in argument order, whatever order the threads finish in.
    return list(await asyncio.gather(*(handle(request, hash_fn) for request in requests)))


if __name__ == "__main__":
    import hashlib

    def slow_hash(data: bytes) -> bytes:
        return hashlib.scrypt(data, salt=b"awaitlings", n=2**14, r=8, p=1)

    print(asyncio.run(handle_many([b"alpha", b"beta", b"gamma"], slow_hash)))
