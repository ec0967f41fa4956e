"""The kernel's word on ``time.sleep``: every sleep a worker makes, seen by its checker.

A worker that says its loop waits on a timer may be sleeping in ``time.sleep``: what it
reports about itself is the learner's to forge (SECURITY.md, step 10). This is the
kernel's account instead. Before the learner's module is imported, the worker's main
thread (the one that runs the learner's code and its loops) installs a seccomp filter
that turns its sleeping system calls (``clock_nanosleep``, ``nanosleep``: what
``time.sleep`` makes) into notifications, and hands the filter's listener to the
checker: each such call waits until the checker's :class:`SleepWatch` has recorded which
thread made it, then goes on unchanged. The filter is the worker's for good (seccomp
filters cannot be removed), is inherited by every thread and process it starts, and the
worker keeps no copy of the listener. The grader's own threads in the worker (its link
reader) are started before it, so they are not watched.

A notification carries the calling thread's id as the checker sees it (the worker is in
its PID namespace): the worker's main thread has the worker's pid. A sleep on any other
thread (the learner's, or the grader's loop monitor) is counted apart, never as the loop's.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import platform
import select
import socket
import struct
import threading
from dataclasses import dataclass, field

from grader.loops import GRADER_THREAD_PREFIX
from grader.sandbox.onegroup import (  # the run's own filter: the same BPF and structures
    _ARCH,
    _JEQ_K,
    _JGE_K,
    _LD_W_ABS,
    _NR,
    _RET_K,
    PR_SET_NO_NEW_PRIVS,
    PR_SET_SECCOMP,
    SECCOMP_RET_ALLOW,
    SECCOMP_RET_ERRNO,
    _Filter,
    _Program,
)

SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3
SECCOMP_RET_USER_NOTIF = 0x7FC00000
SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1
#: struct seccomp_data, after the instruction pointer: the first argument's low 32 bits.
_ARG0 = 16

#: Per machine: its audit architecture, seccomp's own number, the sleeping calls (name by
#: number), and the first number of another ABI sharing the architecture (x32's), if any.
MACHINES: dict[str, tuple[int, int, dict[int, str], int | None]] = {
    "x86_64": (0xC000003E, 317, {35: "nanosleep", 230: "clock_nanosleep"}, 0x40000000),
    "aarch64": (0xC00000B7, 277, {101: "nanosleep", 115: "clock_nanosleep"}, None),
}
MACHINES["arm64"] = MACHINES["aarch64"]
#: prctl's number, per machine.
PRCTL = {"x86_64": 157, "aarch64": 167, "arm64": 167}

#: struct seccomp_notif (id, pid, flags, then seccomp_data: nr, arch, ip, six args) and
#: struct seccomp_notif_resp (id, val, error, flags).
_NOTIF = struct.Struct("=QIIiIQ6Q")
_RESP = struct.Struct("=QqiI")
#: _IOWR('!', 0, struct seccomp_notif) and _IOWR('!', 1, struct seccomp_notif_resp).
_RECV = (3 << 30) | (_NOTIF.size << 16) | (ord("!") << 8) | 0
_SEND = (3 << 30) | (_RESP.size << 16) | (ord("!") << 8) | 1

#: The first byte a worker sends: with the listener (``S``), or none (``N``).
WITH_LISTENER, WITHOUT = b"S", b"N"


def program(machine: str) -> list[tuple[int, int, int, int]]:
    """The filter for ``machine`` as (code, jump if true, jump if false, k): a sleeping
    call notifies the listener; a filter of the process's own (``seccomp``, or ``prctl``'s
    ``PR_SET_SECCOMP``) is refused ``EPERM``, since one answering the sleeps itself would
    outrank the notification and hide them; everything else passes (another ABI's
    numbers too: the run's own filter, ``grader.sandbox.onegroup``, answers those
    ENOSYS)."""
    arch, seccomp, sleeping, other_abi = MACHINES[machine]
    prctl = PRCTL[machine]
    deny = SECCOMP_RET_ERRNO | errno.EPERM
    # (code, true label or offset, false label or offset, k): labels resolved below.
    steps: list[tuple[int, int | str, int | str, int]] = [
        (_LD_W_ABS, 0, 0, _ARCH),
        (_JEQ_K, 1, 0, arch),
        (_RET_K, 0, 0, SECCOMP_RET_ALLOW),
        (_LD_W_ABS, 0, 0, _NR),
    ]
    if other_abi is not None:
        steps += [(_JGE_K, 0, 1, other_abi), (_RET_K, 0, 0, SECCOMP_RET_ALLOW)]
    steps += [(_JEQ_K, "deny", 0, seccomp), (_JEQ_K, "prctl", 0, prctl)]
    steps += [(_JEQ_K, "notify", 0, number) for number in sorted(sleeping)]
    labels = {"notify": len(steps) + 1, "deny": len(steps) + 2, "prctl": len(steps) + 3}
    steps += [
        (_RET_K, 0, 0, SECCOMP_RET_ALLOW),
        (_RET_K, 0, 0, SECCOMP_RET_USER_NOTIF),
        (_RET_K, 0, 0, deny),
        (_LD_W_ABS, 0, 0, _ARG0),
        (_JEQ_K, 1, 0, PR_SET_SECCOMP),
        (_RET_K, 0, 0, SECCOMP_RET_ALLOW),
        (_RET_K, 0, 0, deny),
    ]
    resolved: list[tuple[int, int, int, int]] = []
    for pc, (code, jump_true, jump_false, k) in enumerate(steps):
        jt = labels[jump_true] - pc - 1 if isinstance(jump_true, str) else jump_true
        jf = labels[jump_false] - pc - 1 if isinstance(jump_false, str) else jump_false
        resolved.append((code, jt, jf, k))
    return resolved


def watch_this_thread() -> tuple[int | None, str | None]:
    """Install the filter on the calling thread (and all it starts, for good): its
    listener's descriptor, or ``None`` and why not."""
    machine = platform.machine()
    if machine not in MACHINES:
        return None, f"no sleep filter for {machine}"
    steps = program(machine)
    filters = (_Filter * len(steps))(*(_Filter(*step) for step in steps))
    prog = _Program(len(steps), filters)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return None, f"prctl(PR_SET_NO_NEW_PRIVS): {errno.errorcode.get(ctypes.get_errno(), '?')}"
    fd = libc.syscall(
        ctypes.c_long(MACHINES[machine][1]),
        ctypes.c_long(SECCOMP_SET_MODE_FILTER),
        ctypes.c_long(SECCOMP_FILTER_FLAG_NEW_LISTENER),
        ctypes.byref(prog),
    )
    if fd < 0:
        return None, f"seccomp: {errno.errorcode.get(ctypes.get_errno(), '?')}"
    return int(fd), None


def available() -> str | None:
    """Whether a worker started here can hand over its sleeps: ``None``, or why not (tried
    in a forked process, so that this one stays unfiltered)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read)
            _fd, why = watch_this_thread()
            os.write(write, (why or "").encode()[:200])
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        answer = pipe.read().decode(errors="replace")
    os.waitpid(pid, 0)
    return answer or None


def hand_over(sock: socket.socket) -> None:
    """In the worker, before anything else is said: watch this thread, send the listener
    to the checker, keep no copy."""
    fd, _why = watch_this_thread()
    if fd is None:
        sock.sendall(WITHOUT)
        return
    try:
        socket.send_fds(sock, [WITH_LISTENER], [fd])
    finally:
        os.close(fd)


def take_over(sock: socket.socket) -> SleepWatch | None:
    """In the checker, before the worker's first message: its listener, watched; ``None``
    if it has none (no seccomp here: the verdicts fall back to the worker's account)."""
    data, fds, _flags, _address = socket.recv_fds(sock, 1, 1)
    if data != WITH_LISTENER or not fds:
        for fd in fds:
            os.close(fd)
        if data not in (WITH_LISTENER, WITHOUT):
            raise OSError("the worker began with something else")
        return None
    for fd in fds[1:]:
        os.close(fd)
    return SleepWatch(fds[0])


@dataclass
class SleepWatch:
    """Answers a worker's filter: counts each sleep, on the worker's main thread
    (:attr:`main`, the worker's pid) or elsewhere, and lets it go on (see the module
    docstring). Ends, closing the listener, when no watched thread is left or on
    :meth:`stop`."""

    fd: int
    #: The worker's main thread (its pid), once known.
    main: int | None = None
    on_main: int = 0
    elsewhere: int = 0
    #: The system call of the last sleep on the main thread.
    last_call: str = ""
    _stopping: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._names = MACHINES.get(platform.machine(), (0, 0, {}, None))[2]
        self._thread = threading.Thread(target=self._run, name=GRADER_THREAD_PREFIX + "sleeps", daemon=True)
        self._thread.start()

    def mark(self) -> tuple[int, int]:
        """Where the counts stand: pass it to :meth:`since`."""
        with self._lock:
            return self.on_main, self.elsewhere

    def since(self, mark: tuple[int, int]) -> tuple[int, int]:
        """The sleeps since ``mark``: on the main thread, elsewhere."""
        with self._lock:
            return self.on_main - mark[0], self.elsewhere - mark[1]

    def stop(self) -> None:
        self._stopping = True

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        notif = bytearray(_NOTIF.size)
        try:
            while not self._stopping:
                events = poller.poll(200)
                if not events:
                    continue
                if events[0][1] & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
                    return  # every watched thread has ended
                notif[:] = bytes(_NOTIF.size)  # the kernel wants it zeroed
                try:
                    fcntl.ioctl(self.fd, _RECV, notif, True)
                except OSError as exc:
                    if exc.errno in (errno.ENOENT, errno.EINTR):
                        continue  # the caller went away meanwhile
                    return
                number, tid, _flags, nr, *_ = _NOTIF.unpack(notif)
                with self._lock:
                    if tid == self.main:
                        self.on_main += 1
                        self.last_call = self._names.get(nr, f"syscall {nr}")
                    else:
                        self.elsewhere += 1
                response = bytearray(_RESP.pack(number, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE))
                with contextlib.suppress(OSError):
                    fcntl.ioctl(self.fd, _SEND, response, True)
        finally:
            with contextlib.suppress(OSError):
                os.close(self.fd)
