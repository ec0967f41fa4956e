"""Landlock: the allow-list file system where no namespace can be made.

A grader that is not root builds its sandbox in a user namespace (``isolation``). Some
systems refuse those to ordinary users (Ubuntu since 23.10 through AppArmor, hardened
kernels through ``kernel.unprivileged_userns_clone``, containers through seccomp), and
there the child would otherwise read everything the grading user can read: the kit's
solutions and hidden checks among them. Landlock (Linux 5.13 and later, enabled by most
distributions) needs no privilege: a process restricts itself and everything it starts,
for good, and the kernel enforces it on every open, whoever owns the file.

So, where the namespaces failed, the child restricts itself to the same allow-list the
namespaces' root is built from: the system's programs and libraries, a few files of
``/etc``, the interpreter and its packages, the grader package, read-only; its work folder,
and ``/dev/shm`` (where multiprocessing keeps its semaphores), writable; five devices;
``/proc``, readable (the checks read the worker's and the kernel's state there; the files
of a process outside the sandbox stay closed to it, since Landlock denies what would need
ptrace rights over such a process). From Landlock's ABI 6 (Linux 6.12) it also cannot
signal a process outside the sandbox nor connect to an abstract UNIX socket made outside
it. What Landlock does not give: a network limited to loopback (it filters TCP by port
only), a PID namespace (the sweeps end what the run started), a total for the disk.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field

#: System call numbers, the same on every architecture Linux added them to.
SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1
PR_SET_NO_NEW_PRIVS = 38

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 12
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
#: The rights that apply to a file as well as to a folder (the others only to folders).
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
READ = EXECUTE | READ_FILE | READ_DIR
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1

#: Writable for every run besides its work folder: POSIX semaphores live there.
SHARED_MEMORY = "/dev/shm"


@dataclass
class Restriction:
    """What the child achieved with Landlock; part of its first message."""

    abi: int = 0
    #: Every file-system access outside these paths is refused by the kernel.
    paths: list[str] = field(default_factory=list)
    #: Signals and abstract UNIX sockets are scoped to the sandbox (ABI 6).
    scoped: bool = False
    problems: list[str] = field(default_factory=list)


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def abi() -> int:
    """The Landlock ABI version this kernel offers, 0 when it offers none."""
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    version = libc.syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(CREATE_RULESET_VERSION))
    return max(int(version), 0)


def handled_rights(version: int) -> int:
    """Every file-system right the ABI ``version`` knows: all of them are refused by default."""
    rights = (1 << 13) - 1
    if version >= 2:
        rights |= REFER
    if version >= 3:
        rights |= TRUNCATE
    if version >= 5:
        rights |= IOCTL_DEV
    return rights


class _RulesetAttr(ctypes.Structure):
    _fields_ = (("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64))  # fmt: skip


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


def _error(what: str) -> OSError:
    errno = ctypes.get_errno()
    return OSError(errno, f"{what}: {os.strerror(errno)}")


def restrict(readable: Iterable[str], writable: Iterable[str]) -> Restriction:
    """Restrict this process, and all it starts, to ``readable`` (with what is listed in the
    module docstring) and ``writable``; what it achieved. Irrevocable."""
    report = Restriction(abi=abi())
    if report.abi < 1:
        report.problems.append("no Landlock in this kernel: the child reads what your user can read")
        return report
    rights = handled_rights(report.abi)
    wanted: dict[str, int] = {}
    for path in (*readable, "/proc"):
        wanted[path] = wanted.get(path, 0) | READ
    for path in (*writable, SHARED_MEMORY):
        wanted[path] = rights
    from grader.sandbox.isolation import DEVICES

    for path in DEVICES:
        wanted[path] = READ_FILE | WRITE_FILE
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    attr = _RulesetAttr(rights, 0, SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if report.abi >= 6 else 0)
    # The structure grew with the ABI: hand the kernel only the fields it knows.
    size = 24 if report.abi >= 6 else 16 if report.abi >= 4 else 8
    ruleset = libc.syscall(SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        report.problems.append(f"no Landlock rule set: {_error('landlock_create_ruleset')}")
        return report
    try:
        for path, allowed in sorted(wanted.items()):
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # not on this system
            try:
                folder = stat.S_ISDIR(os.fstat(fd).st_mode)
                rule = _PathBeneathAttr(allowed & rights & (~0 if folder else FILE_RIGHTS), fd)
                if libc.syscall(SYS_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(RULE_PATH_BENEATH),
                                ctypes.byref(rule), ctypes.c_uint32(0)) != 0:  # fmt: skip
                    report.problems.append(f"{path} left out: {_error('landlock_add_rule')}")
                    continue
                report.paths.append(path)
            finally:
                os.close(fd)
        # Without it the kernel refuses an unprivileged process its own restriction.
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise _error("prctl(PR_SET_NO_NEW_PRIVS)")
        if libc.syscall(SYS_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
            raise _error("landlock_restrict_self")
    except OSError as exc:
        report.paths = []
        report.problems.append(f"Landlock not applied: {exc}")
        return report
    finally:
        with contextlib.suppress(OSError):
            os.close(ruleset)
    report.scoped = report.abi >= 6
    if not report.scoped:
        report.problems.append(
            f"Landlock ABI {report.abi} (Linux before 6.12): signals and abstract sockets not scoped"
        )
    return report


def scope_signals() -> str | None:
    """A Landlock domain of this process's own that handles no file access and only scopes
    signals (ABI 6): from now on neither it nor what it starts can signal a process
    outside it, whatever their uid (what a split run's worker does, so that it cannot stop
    or kill its checker, which shares its uid). ``None``, or why not."""
    version = abi()
    if version < 6:
        return f"signals not scoped: Landlock ABI {version} (Linux before 6.12)"
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    attr = _RulesetAttr(0, 0, SCOPE_SIGNAL)
    ruleset = libc.syscall(SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(24), ctypes.c_uint32(0))
    if ruleset < 0:
        return f"signals not scoped: {_error('landlock_create_ruleset')}"
    try:
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return f"signals not scoped: {_error('prctl(PR_SET_NO_NEW_PRIVS)')}"
        if libc.syscall(SYS_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
            return f"signals not scoped: {_error('landlock_restrict_self')}"
    finally:
        os.close(ruleset)
    return None
