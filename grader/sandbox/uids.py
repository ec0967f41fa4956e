"""Dedicated uids (as root): a block per grader process, claimed with a lock no other
grader can hold, and a uid per concurrent child, swept clean before it is used again."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from grader.sandbox.config import Limits
from grader.sandbox.tree import kill_uid, live_lock

#: Dedicated uids for sandboxes: a block per grader process, a uid per concurrent child.
UID_BASE = 61000
UID_BLOCK = 32
UID_BLOCKS = 1000
#: Where grader processes claim their uid blocks (root-only, so sandboxes cannot hold one).
UID_LOCKS = Path("/run/awaitlings")

_claim_lock = threading.Lock()  # held while this process claims (and sweeps) its uid block
_free_uids: list[int] = []
_uids_ready = False
_uid_block: range | None = None
_uid_lock_fd: int | None = None  # holds this process's claim on its uid block


@contextlib.contextmanager
def sandbox_uid(limits: Limits) -> Iterator[int | None]:
    """A dedicated uid for one exercise's children, when running as root (and building
    the namespaces as root: in a user namespace only the grader's own uid is mapped)."""
    global _uids_ready, _uid_block
    if os.getuid() != 0 or not limits.drop_uid or limits.user_namespace:
        yield None
        return
    with _claim_lock:
        if not _uids_ready:
            first = _claim_uid_block()
            block = range(first, first + UID_BLOCK)
            # A grader killed outright (SIGKILL, a CI runner's timeout) could not sweep;
            # whatever its sandboxes left under these uids goes now, before they are reused.
            # (Not under live_lock: the sweep reaps, and reaping takes that lock.)
            kill_uid(block)
            with live_lock:
                _uid_block = block
                _free_uids.extend(block)
                _uids_ready = True
    with live_lock:
        uid = _free_uids.pop(0)
    try:
        yield uid
    finally:
        kill_uid(uid)
        with live_lock:
            _free_uids.append(uid)


def uid_block() -> range | None:
    """The sandbox uids this grader process uses (claimed on first use as root), if any."""
    return _uid_block


def _claim_uid_block() -> int:
    """The first uid of a block no other grader process on this machine holds.

    Two graders whose pids agree modulo ``UID_BLOCKS`` would otherwise share uids, and
    each one's uid sweep would kill the other's sandboxes mid-check. A block is claimed
    with an exclusive ``flock`` held (the descriptor never closed) for this process's
    life, starting from the pid's block and moving on to the next free one.
    """
    global _uid_lock_fd
    start = os.getpid() % UID_BLOCKS
    try:
        UID_LOCKS.mkdir(mode=0o700, exist_ok=True)
        for step in range(UID_BLOCKS):
            block = (start + step) % UID_BLOCKS
            fd = os.open(UID_LOCKS / f"uid-block-{block}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            _uid_lock_fd = fd
            return UID_BASE + block * UID_BLOCK
    except OSError:
        pass  # no /run to claim in: fall back to the pid's block
    return UID_BASE + start * UID_BLOCK
