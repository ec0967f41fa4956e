"""Awaits each probe before starting the next: tasks in name only.

Must fail: test_probes_run_concurrently, test_uses_the_whole_budget, test_limit_larger_than_ports
"""

from __future__ import annotations


async def scan(host, ports, probe, limit=100):
    found = []
    for port in ports:
        if await probe(host, port):
            found.append(port)
    return sorted(found)
