"""Mutant: a plain blocking socket inside the coroutine.

``socket.create_connection``, ``sendall`` and ``recv`` wait on the event loop's thread:
the server, in the same loop, never runs, so the first ``recv`` waits forever.

Must fail: test_small_payloads_come_back_unchanged, test_large_payload_does_not_deadlock, test_one_byte_at_a_time, test_half_closes_after_sending, test_returns_what_arrives_before_eof, test_long_runs_without_line_breaks, test_waits_for_a_slow_answer, test_closes_the_connection
"""

from __future__ import annotations

import socket


async def echo_roundtrip(host: str, port: int, payload: bytes) -> bytes:
    with socket.create_connection((host, port)) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
        return b"".join(chunks)
