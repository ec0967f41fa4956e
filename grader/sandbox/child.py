"""The sandboxed child: ``python -I -B -m grader.sandbox.child SETTINGS -- PYTEST_ARGS``, or a fork
of the warm child (:mod:`grader.sandbox.warm`) given the same settings and arguments.

Before any pytest or learner code runs it reads the result-channel key from stdin (then
points stdin at /dev/null, so ``input()`` in learner code sees end-of-file instead of
hanging), applies the resource limits, marks the process non-dumpable, drops privileges
when started as root (gives up its user namespace's capabilities when not), and only
then runs pytest in this same process. Doing this here rather than in a ``preexec_fn``
keeps the parent free to grade exercises from several threads at once (``preexec_fn``
is unsafe in a threaded parent).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import gc
import json
import os
import resource
import signal
import sys
from typing import Any, NoReturn

PR_SET_DUMPABLE = 4
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


def _prctl(option: int, value: int) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(option, value, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def apply_limits(settings: dict[str, Any]) -> None:
    """Resource limits from the parent's settings (names as in ``sandbox.Limits``)."""
    pairs = {
        "memory_bytes": resource.RLIMIT_AS,
        "cpu_seconds": resource.RLIMIT_CPU,
        "open_files": resource.RLIMIT_NOFILE,
        "file_size_bytes": resource.RLIMIT_FSIZE,
        "processes": resource.RLIMIT_NPROC,
    }
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for name, which in pairs.items():
        value = settings.get(name)
        if value is None:
            continue
        _soft, hard = resource.getrlimit(which)
        value = int(value)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))


def drop_privileges(uid: int | None, gid: int | None) -> None:
    if uid is None or os.getuid() != 0:
        return
    os.setgroups([])
    os.setgid(gid if gid is not None else uid)
    os.setuid(uid)


def drop_capabilities() -> str | None:
    """Give up every capability for good (the bounding set too, so no program this process
    runs gets one back): what a child in a user namespace of its own does instead of the
    uid drop, once its namespaces are built. ``None``, or what failed."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in range(64):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != errno.EINVAL:
            return f"capabilities kept: PR_CAPBSET_DROP {cap}: {os.strerror(ctypes.get_errno())}"
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable: twice 32 bits, all clear
    if libc.capset(header, data) != 0:
        return f"capabilities kept: capset: {os.strerror(ctypes.get_errno())}"
    return None


def _probe(report: Any) -> dict[str, Any]:
    # First what needs no import: a uid that cannot read the interpreter fails below.
    unreadable = [path for path in _loaded_from() if not os.access(path, os.R_OK | os.X_OK)]
    try:
        return _probe_all(report, unreadable)
    except Exception as exc:  # an import or a codec out of reach: say what was found
        return {"unreadable": unreadable, "error": f"{type(exc).__name__}: {exc}"}


def _probe_all(report: Any, unreadable: list[str]) -> dict[str, Any]:
    import socket

    limits = {
        name: resource.getrlimit(getattr(resource, name))[0]
        for name in ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_NOFILE", "RLIMIT_FSIZE", "RLIMIT_NPROC", "RLIMIT_CORE")
    }
    with open("/proc/self/status", encoding="ascii") as fh:
        status = dict(line.split(":", 1) for line in fh if ":" in line)
    return {
        "uid": os.getuid(),
        "gid": os.getgid(),
        "user_ns": report.user_ns,
        "landlock": report.landlock,
        "landlock_scoped": report.landlock_scoped,
        "one_group": report.one_group,
        "capabilities": status.get("CapEff", "").strip(),
        "mount_ns": report.mount_ns,
        "net_ns": report.net_ns,
        "pid_ns": report.pid_ns,
        "pid": os.getpid(),
        "loopback_up": report.loopback_up,
        "interfaces": [name for _, name in socket.if_nameindex()],
        "visible": report.visible,
        "problems": report.problems,
        "limits": limits,
        "no_new_privs": status.get("NoNewPrivs", "").strip(),
        "environment": sorted(os.environ),
        "unreadable": unreadable,
        "sleep_watch": _sleep_watch(),
    }


def _sleep_watch() -> str:
    """``""`` if a worker here can hand its sleeps to the checker, else why not."""
    from grader.split import sleeps

    try:
        return sleeps.available() or ""
    except OSError as exc:
        return str(exc)


def _loaded_from() -> list[str]:
    """The standard library's folder and pytest's (the installed packages), from modules
    already imported: :func:`grader.sandbox.isolation.interpreter_paths` is the full list,
    but it imports ``sysconfig`` data that a uid which cannot read them cannot load."""
    import pytest

    return sorted({os.path.dirname(os.__file__), os.path.dirname(os.path.dirname(pytest.__file__))})


def main() -> None:
    """A fresh interpreter (``python -m grader.sandbox.child``): the key arrives on stdin."""
    settings = json.loads(sys.argv[1])
    args = sys.argv[sys.argv.index("--") + 1 :]
    key = sys.stdin.readline().strip().encode()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    finish(run(settings, args, key))


def finish(code: int) -> NoReturn:
    """End a run once pytest has returned: every verdict has been sent by then.

    Not through the interpreter's shutdown, which would wait for whatever the learner's
    code left behind (a non-daemon thread, a process pool whose lock an interrupted check
    left held, an ``atexit`` handler) while the parent waits for the run to end.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def run(settings: dict[str, Any], args: list[str], key: bytes) -> int:
    """Contain this process, then run pytest in it; its exit code.

    Shared by both ways a run starts: :func:`main` in a fresh interpreter, and a fork of
    the warm child (:mod:`grader.sandbox.warm`), which has done the imports below already.
    """
    # Writing past the file-size limit should fail with an error, not kill the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    # Everything the grader needs is imported before the covers go on and the uid drops.
    import pytest

    import grader.plugin
    from grader.sandbox import pidns
    from grader.sandbox.isolation import Isolation, isolate

    preload()
    report = Isolation()
    spec = settings.get("isolate")
    if spec and not spec.get("landlock_only"):
        report = isolate(
            spec.get("hide", []),
            spec.get("keep", []),
            network=bool(spec.get("network", True)),
            private=spec.get("private"),
            user_namespace=bool(spec.get("user_namespace")),
            writable=spec.get("writable", []),
        )
    if spec and (not report.mount_ns or spec.get("landlock_only")):
        # No namespace (not root, and user namespaces refused): the kernel can still hold
        # the run to the same allow-list, through Landlock (grader.sandbox.landlock). Only
        # the scratch folder is writable: the learner's copy stays as it was scanned.
        _restrict(report, spec)
    if report.mount_ns:
        # The kernel kills whatever this run starts when the run ends (grader.sandbox.pidns).
        why_not = pidns.enter()
        report.pid_ns = why_not is None
        if why_not:
            report.problems.append(why_not)
    if not report.pid_ns:
        # Nothing ends the run's processes with it but the grader's kill: keep them all in
        # the group that kill reaches at once (grader.sandbox.onegroup).
        from grader.sandbox import onegroup

        why_not = onegroup.stay_in_group()
        report.one_group = why_not is None
        if why_not:
            report.problems.append(why_not)
    apply_limits(settings.get("limits", {}))
    drop_privileges(settings.get("uid"), settings.get("gid"))
    if report.user_ns:
        # The namespaces are built: nothing more needs their capabilities.
        why_not = drop_capabilities()
        if why_not:
            report.problems.append(why_not)
    # After setuid (a credential change clears both): die with the grader; no ptrace and
    # no /proc/<pid>/fd for other processes of this uid.
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    _prctl(PR_SET_DUMPABLE, 0)
    _prctl(PR_SET_NO_NEW_PRIVS, 1)  # setuid programs (su, sudo) cannot give root back

    if args == ["--probe"]:  # `grade doctor`: report what this child achieved, run nothing
        print(json.dumps(_probe(report)), flush=True)
        return 0
    isolation = {
        "user_ns": report.user_ns,
        "landlock": report.landlock,
        "mount_ns": report.mount_ns,
        "net_ns": report.net_ns,
        "pid_ns": report.pid_ns,
        "loopback_up": report.loopback_up,
        "visible": report.visible,
        "uid": os.getuid(),
        "problems": report.problems,
    }
    if report.net_ns:
        from grader import procstate

        procstate.PRIVATE_NETWORK = True
    if _runs_split_checks(args):
        # The learner's code will run in workers: start their zygote (a fresh interpreter)
        # now, beside pytest's start-up, rather than when the first check needs it.
        from grader.split import checker

        checker.prestart()
    sandboxed = grader.plugin.Sandboxed(key, isolation, settings.get("learner_sha256") or None)
    freeze_heap()
    return int(pytest.main(args, plugins=[sandboxed]))


def _restrict(report: Any, spec: dict[str, Any]) -> None:
    """Landlock in place of the namespaces: the same paths, read-only but for scratch."""
    from grader.sandbox import landlock
    from grader.sandbox.isolation import allow_list

    wanted = allow_list(spec.get("hide", []), spec.get("keep", []))
    scratch = [str((spec.get("private") or {}).get("path") or os.environ.get("TMPDIR", ""))]
    restriction = landlock.restrict(sorted(wanted), [path for path in scratch if os.path.isdir(path)])
    report.landlock = restriction.abi if restriction.paths else 0
    report.landlock_scoped = restriction.scoped
    report.visible = restriction.paths
    report.problems.extend(restriction.problems)


def _runs_split_checks(args: list[str]) -> bool:
    """Some checks file among pytest's arguments marks its checks ``split``."""
    for arg in args:
        path = arg.split("::", 1)[0]
        if path.endswith(".py"):
            with contextlib.suppress(OSError), open(path, encoding="utf-8") as fh:
                if "pytest.mark.split" in fh.read():
                    return True
    return False


def preload() -> None:
    """Import what every run needs (the warm child does this once, before any fork): pytest
    and its plugins, the grader's plugin and probes, and what pytest and the checks import
    on the way (the learner's code is never imported here)."""
    import concurrent.futures.process
    import concurrent.futures.thread  # noqa: F401
    import multiprocessing.pool  # noqa: F401
    import pdb  # noqa: F401
    import random  # noqa: F401
    import secrets  # noqa: F401
    import unittest  # noqa: F401
    import xml.etree.ElementTree  # noqa: F401

    import pytest  # noqa: F401
    import pytest_asyncio.plugin  # noqa: F401
    import pytest_timeout  # noqa: F401

    import grader.plugin
    import grader.probes
    import grader.probes.pools
    import grader.probes.streams
    import grader.split.checker  # noqa: F401


def freeze_heap() -> None:
    """Move every object alive now out of the garbage collector's reach (``gc.freeze``):
    the checks' own collections (one per check, to pin warnings on the right check) then
    scan only what the run created, not pytest's and the grader's modules, and a forked
    run does not copy the pages a collection would touch."""
    gc.collect()
    gc.freeze()


if __name__ == "__main__":
    main()
