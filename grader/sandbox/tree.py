"""The child's process tree: kill it whole (session, group, environment mark, adopted
orphans, descendants), reap what became ours, and sweep a sandbox uid clean."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import threading
import time

from grader.sandbox import config, warm

PR_SET_CHILD_SUBREAPER = 36
live_lock = threading.Lock()
#: pids of the children this process spawned and has not yet waited for (never reaped by
#: the orphan sweep, which would steal their exit status from ``Popen.wait``).
live_children: set[int] = set()
_subreaper_set = False


def become_subreaper() -> None:
    """Orphaned grandchildren (double-fork daemons) are re-parented to us, not to init,
    so the sweep below can find and reap them."""
    global _subreaper_set
    if _subreaper_set:
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    _subreaper_set = True


def kill_tree(
    proc: subprocess.Popen[bytes] | warm.WarmProcess, mark: str, since: int, *, adopt_orphans: bool = True
) -> None:
    """SIGKILL the child's process group and session, any process carrying this run's
    environment mark, any orphan re-parented to us since ``since`` (clock ticks), and
    every descendant of those; then reap those that became our children. Our own Popen
    children are left to ``Popen.wait``.

    The orphans matter without a PID namespace (and without root, no uid to sweep): a
    daemon that calls ``setsid`` and then ``execve`` with an empty environment carries
    neither our session nor our mark, but as the subreaper we inherit it when its parent
    exits. In a PID namespace (``adopt_orphans`` false) its orphans go to the namespace's
    init, never to us: a new child of ours is then some other thread's of this program
    (an embedding program's own), and is left alone. Descendants are walked so a
    daemon's own children go too, however deep, in one pass.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    killed: set[int] = set()
    me = os.getpid()
    for _ in range(5):
        table = _process_table()
        roots = {pid for pid in table if pid != me and _belongs(pid, proc.pid, mark)}
        with live_lock:  # a child another thread is spawning (under this lock) is no orphan
            roots |= {
                pid
                for pid, (ppid, started, _zombie) in table.items()
                if adopt_orphans and ppid == me and pid not in live_children and started >= since
            }
        tree = _with_descendants(roots | {proc.pid}, table) - {me}
        victims = [pid for pid in tree if pid in table and not table[pid][2]]  # zombies are dead already
        if not victims:
            break
        for pid in victims:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
            killed.add(pid)
        time.sleep(0.01)
        _reap(killed)
    if adopt_orphans:
        # Also the run's orphans that died by themselves once adopted (a process that keeps
        # forking leaves one per fork): unreaped, each would hold its pid until we exit.
        killed |= {
            pid
            for pid, (ppid, started, zombie) in _process_table().items()
            if zombie and ppid == me and started >= since
        }
    _reap(killed)


def _reap(pids: set[int]) -> None:
    with live_lock:
        for pid in list(pids):
            if pid in live_children:
                continue
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    pids.discard(pid)
            except ChildProcessError:
                pids.discard(pid)  # not ours to reap (its own parent will)


def kill_uid(uid: int | range) -> None:
    """Kill every process of a sandbox uid, or of a block of them (nothing else ever runs
    under them) and reap those re-parented to us, until none is left: a fixed few rounds
    left hundreds of dying processes (a capped fork bomb) behind, and their zombies
    unreaped, on a busy machine."""
    uids = range(uid, uid + 1) if isinstance(uid, int) else uid
    give_up = time.monotonic() + config.SWEEP_S
    pause = 0.01
    while True:
        victims = []
        for pid in _processes():
            try:
                with open(f"/proc/{pid}/status", "rb") as fh:
                    for line in fh:
                        if line.startswith(b"Uid:"):
                            if int(line.split()[1]) in uids:
                                victims.append(pid)
                            break
            except (OSError, ValueError, IndexError):
                continue
        if not victims or time.monotonic() > give_up:
            return
        for pid in victims:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(pause)
        pause = min(pause * 2, 0.2)
        _reap(set(victims))


def _processes() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _process_table() -> dict[int, tuple[int, int, bool]]:
    """Every process: pid -> (parent pid, start time in clock ticks since boot, zombie)."""
    table: dict[int, tuple[int, int, bool]] = {}
    for pid in _processes():
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                stat = fh.read()
            fields = stat[stat.rindex(b")") + 2 :].split()
            table[pid] = (int(fields[1]), int(fields[19]), fields[0] == b"Z")
        except (OSError, ValueError, IndexError):
            continue
    return table


def _with_descendants(roots: set[int], table: dict[int, tuple[int, int, bool]]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _started, _zombie) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    todo = list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return found


def clock_ticks() -> int:
    """Now, in the unit of /proc/<pid>/stat start times (a tick early, for rounding)."""
    try:
        with open("/proc/uptime", encoding="ascii") as fh:
            return int(float(fh.read().split()[0]) * os.sysconf("SC_CLK_TCK")) - 1
    except (OSError, ValueError, IndexError):
        return 0


def _belongs(pid: int, session: int, mark: str) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
        fields = stat[stat.rindex(b")") + 2 :].split()
        if fields[0] == b"Z":
            return False
        pgid, sid = int(fields[2]), int(fields[3])
        if session in (pgid, sid):
            return True
        with open(f"/proc/{pid}/environ", "rb") as fh:
            return f"{config.SANDBOX_ENV_MARK}={mark}".encode() in fh.read().split(b"\0")
    except (OSError, ValueError, IndexError):
        return False
