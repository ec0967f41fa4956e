"""Shared by the kit's own test suites (tests/grader, tests/kit, tests/release).

The suite runs under pytest-xdist (``-n auto`` in pyproject's addopts). Most of its time
is spent waiting: on sandboxed children that sleep, on deadlines that a hostile submission
must run into, on pip. So ``auto`` here means two workers per core, not one: measured on
this kit's 2-core CI machine, 4 workers finish in about 60% of the time of 2.
"""

from __future__ import annotations

import os

import pytest


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist's own hook reads it (.ci/run sets it when it runs Pythons side by side)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(2, 2 * cores)
