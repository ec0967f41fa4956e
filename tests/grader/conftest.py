"""Shared fixtures for the grader's own tests.

``make_kit`` builds a small, complete kit in a temporary folder: the real ex01
(stub, solution, checks) and a tiny ex02 ``adder`` with two trivial checks, a short
per-check timeout so hostile submissions cost seconds, and its own pristine stubs.

The whole suite (tests/grader, tests/kit, tests/release) runs under pytest-xdist (``-n
auto`` in pyproject's addopts), and ``auto`` is decided here, in the conftest of the first
testpath: most of the suite's time is spent waiting (on sandboxed children that sleep, on
deadlines a hostile submission must run into, on pip), so it means two workers per core,
not one. (Not in ``tests/conftest.py``: pytest would put ``tests/`` on ``sys.path``, and
``tests/grader/`` would shadow the ``grader`` package as a namespace package.)
"""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from grader.manifest import Kit, load_kit

ROOT = Path(__file__).resolve().parents[2]


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto``: two workers per core, or PYTEST_XDIST_AUTO_NUM_WORKERS when set."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist's own hook reads it (.ci/run sets it: it runs three Pythons side by side)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(2, 2 * cores)

HINTS_EX01 = (
    "First hint: await asyncio.sleep(delay) waits without blocking.",
    "Second hint: gather the coroutines.",
    "Third hint: one asyncio.run call.",
)

ADDER_STUB = '''\
"""Exercise 02 - adder: a tiny exercise for the grader's own tests."""


def add(a, b):
    # TODO: return the sum of a and b.
    raise NotImplementedError("add")
'''

ADDER_SOLUTION = '''\
"""Exercise 02 - adder: reference solution."""


def add(a, b):
    return a + b
'''

ADDER_CHECKS = '''\
"""Checks for ex02 adder (the grader's test kit)."""

import pytest


def test_adds_ints(ex):
    """adds two ints"""
    assert ex.add(2, 3) == 5


@pytest.mark.weight(3)
def test_adds_strings(ex):
    """adds two strings"""
    assert ex.add("a", "b") == "ab"
'''


def _manifest(timeout: float) -> str:
    hints = ", ".join(f'"{h}"' for h in HINTS_EX01)
    return textwrap.dedent(
        f"""\
        [defaults]
        points = 10
        timeout = {timeout}

        [[exercise]]
        id = "ex01"
        slug = "hello_run"
        title = "Your first coroutine"
        hints = [{hints}]

        [[exercise]]
        id = "ex02"
        slug = "adder"
        title = "Add two things"
        points = 4
        hints = ["Use +.", "Return it."]
        """
    )


def build_kit(root: Path, *, timeout: float = 3, split: bool = False) -> Kit:
    """Write the test kit under ``root`` and load it; with ``split``, ex01's checks run as a
    split check (the learner's code in a worker process, grader.split)."""
    for sub in ("exercises", "solutions", "tests/checks", "grader/stubs"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "exercises" / "exercises.toml").write_text(_manifest(timeout), encoding="utf-8")
    stub = ROOT / "grader" / "stubs" / "ex01_hello_run.py"
    for folder in ("exercises", "grader/stubs"):
        shutil.copyfile(stub, root / folder / "ex01_hello_run.py")
        (root / folder / "ex02_adder.py").write_text(ADDER_STUB, encoding="utf-8")
    shutil.copyfile(ROOT / "solutions" / "ex01_hello_run.py", root / "solutions" / "ex01_hello_run.py")
    (root / "solutions" / "ex02_adder.py").write_text(ADDER_SOLUTION, encoding="utf-8")
    checks = (ROOT / "tests" / "checks" / "test_ex01_hello_run.py").read_text(encoding="utf-8")
    mark = "pytestmark = pytest.mark.split\n"
    if not split:
        # The in-process run, as a checks file without the split mark runs: its defences are tested here.
        checks = checks.replace(mark, "")
    elif mark not in checks:
        checks += "\n\n" + mark
    (root / "tests" / "checks" / "test_ex01_hello_run.py").write_text(checks, encoding="utf-8")
    (root / "tests" / "checks" / "test_ex02_adder.py").write_text(ADDER_CHECKS, encoding="utf-8")
    return load_kit(root)


@pytest.fixture
def make_kit(tmp_path: Path) -> Callable[..., Kit]:
    """A factory: ``make_kit(timeout=3)`` builds the test kit in a fresh folder."""
    count = 0

    def make(*, timeout: float = 3, split: bool = False) -> Kit:
        nonlocal count
        count += 1
        return build_kit(tmp_path / f"kit{count}", timeout=timeout, split=split)

    return make


@pytest.fixture
def kit(make_kit: Callable[..., Kit]) -> Kit:
    """The test kit (ex01 hello_run and ex02 adder), 3 s per check."""
    return make_kit()
