"""The kernel does the killing: the rest of a run lives in its own PID namespace.

Sweeping a uid or a process tree from outside is a race a determined process can win
(one that keeps changing its pid, fork after fork, while the sweep lists /proc and
kills what it listed). A PID namespace is not a race: when its first process (its
"init", PID 1) ends, the kernel kills every other process in it, however they forked,
re-parented or renamed themselves. So, inside the child's own mount namespace
(``isolation.isolate`` made it, as root or in a user namespace of the child's), the
sandboxed child becomes three processes:

    relay (the pid the grader knows) -> init (PID 1, root, runs no Python of the run)
                                        -> the run (PID 2: limits, uid drop, pytest)

- **init** mounts a fresh ``/proc`` (the run sees its own namespace only, not the host's
  processes), then reaps whatever is re-parented to it, and exits as soon as the run
  does: everything still alive in the namespace dies with it. It dies with the relay
  (``PR_SET_PDEATHSIG``), and the run cannot signal it: as root the run is another uid;
  in a user namespace it is the same uid, but the kernel gives a namespace's init only
  the signals it handles from inside, and init handles none (SIGKILL included).
- **relay** holds no pipe of the run; it waits for init and ends the way the run
  ended (the same exit code, or killed by the same signal), so the grader reads the
  run's status as before. Killing the relay's process group (the grader's ``kill_tree``)
  kills init, so the whole namespace.

Where the namespace cannot be made (not root, no mount namespace, a kernel or container
that refuses), the run goes on in the caller's namespace and the reason is reported;
the uid and tree sweeps (``grader.sandbox.tree``) remain as they were, in both cases.
"""

from __future__ import annotations

import contextlib
import os
import signal
import struct
from typing import NoReturn

from grader.sandbox.child import PR_SET_PDEATHSIG, _prctl
from grader.sandbox.isolation import MS_NODEV, MS_NOSUID, _mount, unshare

CLONE_NEWPID = 0x20000000
MS_NOEXEC = 8
#: Signals init ignores: it must outlive nothing but the run and its relay.
_IGNORED = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGPIPE", "SIGUSR1", "SIGUSR2", "SIGXFSZ")


def enter() -> str | None:
    """Continue this process's run as PID 2 of a new PID namespace.

    Returns ``None`` in the run once it is there, or why not (the run then continues
    here, in this process). The relay and init never return from this call.
    """
    try:
        unshare(CLONE_NEWPID)
    except OSError as exc:
        return f"no PID namespace: {exc}"
    status_r, status_w = os.pipe()
    init = os.fork()
    if init != 0:
        os.close(status_w)
        _relay(init, status_r)  # never returns
    os.close(status_r)
    try:
        if not _prctl(PR_SET_PDEATHSIG, signal.SIGKILL):
            raise OSError("prctl(PR_SET_PDEATHSIG) failed")
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except OSError as exc:
        # Without its own /proc the run would read the host's process table with the
        # namespace's pids: stop here; the relay reports a failed start.
        os.write(2, f"awaitlings: PID namespace without /proc: {exc}\n".encode())
        os._exit(70)
    run = os.fork()
    if run == 0:
        os.close(status_w)
        return None
    _init(run, status_w)  # never returns


def _quiet() -> None:
    """Hold nothing of the run: stdin, stdout and stderr on /dev/null, every other fd closed
    (the run's result and output pipes must reach end-of-file when the run's side ends)."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def _init(run: int, status_w: int) -> NoReturn:
    """PID 1: reap everything; when the run ends, report its raw wait status and exit."""
    for name in _IGNORED:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    _quiet()
    os.closerange(3, status_w)
    os.closerange(status_w + 1, _max_fd())
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(71)  # the run is gone without a status: cannot happen, but never hang
        if pid == run:
            with contextlib.suppress(OSError):
                os.write(status_w, struct.pack("=i", status))
            os._exit(0)  # the kernel now kills what is left in the namespace


def _relay(init: int, status_r: int) -> NoReturn:
    """Outside the namespace: wait for init, then end as the run ended."""
    for name in _IGNORED:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    _quiet()
    os.closerange(3, status_r)
    os.closerange(status_r + 1, _max_fd())
    while True:
        try:
            _pid, init_status = os.waitpid(init, 0)
            break
        except ChildProcessError:
            os._exit(71)
    raw = b""
    with contextlib.suppress(OSError):
        raw = os.read(status_r, 4)
    if len(raw) != 4:  # init itself failed (no /proc) or was killed
        os._exit(_code(init_status) if _code(init_status) >= 0 else 70)
    code = _code(struct.unpack("=i", raw)[0])
    if code < 0:  # killed by a signal: so is the relay, so the grader reads the same status
        sig = -code
        with contextlib.suppress(OSError, ValueError):
            signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [sig])
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)  # a signal whose default is not to end a process
    os._exit(code)


def _code(status: int) -> int:
    try:
        return os.waitstatus_to_exitcode(status)
    except ValueError:
        return 70


def _max_fd() -> int:
    try:
        return os.sysconf("SC_OPEN_MAX")
    except (OSError, ValueError):
        return 1024
