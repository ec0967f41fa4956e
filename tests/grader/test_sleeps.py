"""The kernel's account of a worker's sleeps (grader.split.sleeps) and the checker's own
reading of the learner's source (grader.probes.source): evidence the worker cannot forge."""

from __future__ import annotations

import platform
import socket
import subprocess
import sys
import textwrap
import time
from types import SimpleNamespace

import pytest

from grader.probes.source import binds_async_def
from grader.split import sleeps

ALLOW, NOTIFY = sleeps.SECCOMP_RET_ALLOW, sleeps.SECCOMP_RET_USER_NOTIF


def run_filter(steps: list[tuple[int, int, int, int]], arch: int, nr: int, arg0: int = 0) -> int:
    """Run the classic BPF program the way the kernel does, on one system call."""
    data = {sleeps._ARCH: arch, sleeps._NR: nr, sleeps._ARG0: arg0}
    accumulator, pc = 0, 0
    while True:
        code, jump_true, jump_false, k = steps[pc]
        if code == sleeps._LD_W_ABS:
            accumulator = data[k]
        elif code == sleeps._RET_K:
            return k
        elif code in (sleeps._JEQ_K, sleeps._JGE_K):
            taken = accumulator == k if code == sleeps._JEQ_K else accumulator >= k
            pc += jump_true if taken else jump_false
        else:
            raise AssertionError(f"unexpected instruction {code:#x}")
        pc += 1


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_the_filter_notifies_sleeps_only(machine: str) -> None:
    arch, _, sleeping, other_abi = sleeps.MACHINES[machine]
    steps = sleeps.program(machine)
    for nr in sleeping:
        assert run_filter(steps, arch, nr) == NOTIFY
    for nr in (0, 1, 7, 202, 232, 281, 999):  # read, write, poll, futex, epoll_wait...
        if nr not in sleeping:
            assert run_filter(steps, arch, nr) == ALLOW
    assert run_filter(steps, 0x40000003, min(sleeping)) == ALLOW  # another architecture's
    # A filter of the process's own, which could answer the sleeps before the listener hears them:
    deny = sleeps.SECCOMP_RET_ERRNO | 1  # EPERM
    assert run_filter(steps, arch, sleeps.MACHINES[machine][1]) == deny
    prctl = sleeps.PRCTL[machine]
    assert run_filter(steps, arch, prctl, sleeps.PR_SET_SECCOMP) == deny
    assert run_filter(steps, arch, prctl, 15) == ALLOW  # PR_SET_NAME and the rest
    if other_abi is not None:
        assert run_filter(steps, arch, other_abi + min(sleeping)) == ALLOW


@pytest.mark.skipif(platform.machine() not in sleeps.MACHINES, reason="no sleep filter for this machine")
def test_the_checker_counts_each_sleep_by_thread() -> None:
    """A real process hands over its listener, then sleeps three times on its main thread
    and once on another: the checker counts them apart, each sleep goes on unchanged, and
    the watch ends when the process does."""
    ours, theirs = socket.socketpair()
    code = textwrap.dedent(
        f"""
        import socket, threading, time
        from grader.split import sleeps
        link = socket.socket(fileno={theirs.fileno()})
        sleeps.hand_over(link)
        link.recv(1)  # the checker knows our pid now
        start = time.monotonic()
        for _ in range(3):
            time.sleep(0.02)
        other = threading.Thread(target=time.sleep, args=(0.01,))
        other.start()
        other.join()
        link.sendall(b"%.3f" % (time.monotonic() - start))
        link.recv(1)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", code], pass_fds=[theirs.fileno()])
    theirs.close()
    try:
        ours.settimeout(120)  # a backstop: a loaded machine starts Python slowly
        watch = sleeps.take_over(ours)
        assert watch is not None
        watch.main = child.pid
        mark = watch.mark()
        ours.sendall(b"g")
        slept = float(ours.recv(16))
        assert watch.since(mark) == (3, 1)
        assert watch.last_call == "clock_nanosleep"
        assert slept >= 0.06  # the sleeps went on, unchanged
        ours.sendall(b"q")
        assert child.wait(120) == 0
    finally:
        ours.close()
        if child.poll() is None:
            child.kill()
    deadline = time.monotonic() + 5
    while watch._thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not watch._thread.is_alive()


def test_a_worker_without_a_listener_says_so() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(sleeps.WITHOUT)
        assert sleeps.take_over(ours) is None
        theirs.sendall(b"{")
        with pytest.raises(OSError):
            sleeps.take_over(ours)


def module(source: str) -> SimpleNamespace:
    return SimpleNamespace(learner_source=textwrap.dedent(source).encode())


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("async def greet(name, delay):\n    return name\n", True),
        ("import functools\n@functools.cache\nasync def greet(n, d):\n    pass\n", True),
        ("async def greet(n, d):\n    pass\ngreet: object\n", True),  # an annotation binds nothing
        ("def greet(name, delay):\n    return name\n", False),
        ("async def greet(n, d):\n    pass\ndef greet(n, d):\n    pass\n", False),
        ("greet = lambda n, d: n\n", False),
        # What the source cannot tell is left to the run (the module's own account):
        ("async def _greet(n, d):\n    pass\ngreet = _greet\n", None),
        ("async def greet(n, d):\n    pass\ngreet = staticmethod(greet)\n", None),
        ("def traced(f):\n    return f\n@traced\ndef greet(n, d):\n    pass\n", None),
        ("async def greet(n, d):\n    pass\nfrom os import path as greet\n", None),
        ("if V:\n    async def greet(n, d):\n        pass\nelse:\n    def greet(n, d):\n        pass\n", None),
        ("async def greet(n, d):\n    pass\nif __name__ == '__main__':\n    greet = None\n", None),
        ("class Greeter:\n    async def greet(self):\n        pass\n", None),
        ("def greet(:\n", None),
    ],
)
def test_what_the_source_binds(source: str, expected: bool | None) -> None:
    assert binds_async_def(module(source), "greet") is expected


def test_no_source_no_evidence() -> None:
    assert binds_async_def(SimpleNamespace(), "greet") is None
