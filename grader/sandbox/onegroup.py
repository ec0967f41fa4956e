"""Without a PID namespace, the run stays in one process group, which dies at once.

Where the kernel gives no PID namespace (not root and user namespaces refused, or
``Limits(isolate=False)``), the grader ends what a run started by sweeping: its process
group and session, the processes that carry the run's mark, the orphans re-parented to
it (``grader.sandbox.tree``). A process that leaves the group (``setsid``, ``setpgid``)
and then keeps changing its pid wins that race. Signalling a process group is not a race:
the kernel delivers it to every member at once, and a fork under way either completes
before it (the child is signalled too) or is restarted after it. So the run gives up, for
itself and everything it starts, the two system calls that leave a group: a seccomp
filter (no privilege needed after ``PR_SET_NO_NEW_PRIVS``) answers them ``EPERM``.
A learner's program has no need of them; the grader's own steps that make a new session
(the child's start) happen before the filter.
"""

from __future__ import annotations

import ctypes
import errno
import platform

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
_LD_W_ABS, _JEQ_K, _JGE_K, _RET_K = 0x20, 0x15, 0x35, 0x06
#: struct seccomp_data: the system call's number, then the architecture it was made in.
_NR, _ARCH = 0, 4
#: Per machine: its audit architecture, setsid's and setpgid's numbers, and the first
#: number of another ABI sharing that architecture (x32's on x86_64), if any.
MACHINES = {
    "x86_64": (0xC000003E, 112, 109, 0x40000000),
    "aarch64": (0xC00000B7, 157, 154, None),
    "arm64": (0xC00000B7, 157, 154, None),
}


class _Filter(ctypes.Structure):
    _fields_ = (("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32))


class _Program(ctypes.Structure):
    _fields_ = (("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_Filter)))


def program(machine: str) -> list[tuple[int, int, int, int]]:
    """The filter for ``machine``, as (code, jump if true, jump if false, k): setsid and
    setpgid answer EPERM; a call made in another ABI (i386's ``int 0x80``, x32) answers
    ENOSYS, so that neither can be reached by another number; everything else passes."""
    arch, setsid, setpgid, other_abi = MACHINES[machine]
    deny, foreign = SECCOMP_RET_ERRNO | errno.EPERM, SECCOMP_RET_ERRNO | errno.ENOSYS
    steps: list[tuple[int, int, int, int]] = [
        (_LD_W_ABS, 0, 0, _ARCH),
        (_JEQ_K, 1, 0, arch),
        (_RET_K, 0, 0, foreign),
        (_LD_W_ABS, 0, 0, _NR),
    ]
    if other_abi is not None:
        steps += [(_JGE_K, 0, 1, other_abi), (_RET_K, 0, 0, foreign)]
    steps += [
        (_JEQ_K, 2, 0, setsid),
        (_JEQ_K, 1, 0, setpgid),
        (_RET_K, 0, 0, SECCOMP_RET_ALLOW),
        (_RET_K, 0, 0, deny),
    ]
    return steps


def stay_in_group() -> str | None:
    """Install the filter in this process (and all it starts, for good); ``None``, or why not."""
    machine = platform.machine()
    if machine not in MACHINES:
        return f"no seccomp filter for {machine}: a process may leave the run's group"
    steps = program(machine)
    filters = (_Filter * len(steps))(*(_Filter(*step) for step in steps))
    prog = _Program(len(steps), filters)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return f"no seccomp filter: prctl(PR_SET_NO_NEW_PRIVS): {ctypes.get_errno()}"
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        return f"no seccomp filter: {errno.errorcode.get(ctypes.get_errno(), ctypes.get_errno())}"
    return None
