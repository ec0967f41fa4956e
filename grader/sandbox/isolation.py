"""Linux isolation for the sandboxed child, applied before any pytest or learner code runs.

Run as root (Gradescope, CI, a course server), the child:

1. enters new mount, IPC and network namespaces (``unshare``), with only the loopback
   interface, brought up: learner code can serve and connect on 127.0.0.1, nothing more;
2. covers the places it must not see or write with empty tmpfs mounts: the kit (its
   solutions, mutants and checks), ``/root`` and ``/home``, any extra paths the caller
   names (other submissions in a batch), and the world-writable ``/tmp``, ``/var/tmp``,
   ``/dev/shm`` and ``/run/lock`` (private and small in the child);
3. re-exposes exactly what it needs beneath those covers, by bind-mounting directories it
   opened beforehand (``/proc/self/fd/N``): the interpreter and its site-packages, the
   grader package, and its own work folder;
4. then (in ``grader.sandbox.child``) drops to a dedicated unprivileged uid, so it cannot write
   outside its target and temporary folders, cannot signal or inspect the grader, and
   every process it starts can be found and killed by uid.

Not root: user namespaces are tried for the same steps (many laptops allow them); where
nothing is available the child runs with resource limits only, and ``grade doctor``
says so. Each step reports what it achieved; nothing fails silently.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import socket
import struct
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

WORLD_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")
PRIVATE_HOMES = ("/root", "/home")


@dataclass
class Isolation:
    """What the child achieved; sent to the parent in the first message."""

    mount_ns: bool = False
    net_ns: bool = False
    pid_ns: bool = False
    loopback_up: bool = False
    covered: list[str] = field(default_factory=list)
    user_ns: bool = False
    problems: list[str] = field(default_factory=list)


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    libc = _libc()
    _check(
        libc.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def unshare(flags: int) -> None:
    _check(_libc().unshare(flags), "unshare")


def loopback_up() -> bool:
    """Bring ``lo`` up in this (new) network namespace."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock.fileno(), SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))
    return True


def interpreter_paths() -> list[str]:
    """Directories the child's Python needs to keep reading after the covers go on."""
    import site
    import sysconfig

    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        with contextlib.suppress(KeyError):
            paths.add(sysconfig.get_paths()[key])
    with contextlib.suppress(AttributeError):
        paths.update(site.getsitepackages())
    paths.update(p for p in sys.path if p and os.path.isdir(p))
    return sorted(p for p in paths if os.path.isdir(p))


def interpreter_path_kept(path: str, covers: Iterable[str], venv: str | None) -> bool:
    """Whether the child keeps reaching one of its interpreter's directories (real paths).

    Never one that is, or holds, a hidden place; one inside a hidden place only when it
    belongs to the virtual environment (``venv``, ``None`` when there is none) and that
    venv is not itself hidden whole: a ``.venv`` in the kit's folder keeps its packages
    while the kit around it disappears.
    """
    covers = list(covers)
    if any(_under(cover, path) for cover in covers):
        return False
    if not any(_under(path, cover) for cover in covers):
        return True
    return venv is not None and _under(path, venv) and not any(_under(cover, venv) for cover in covers)


def _under(path: str, cover: str) -> bool:
    return path == cover or path.startswith(cover.rstrip("/") + "/")


def _blocked_ancestors(path: str) -> list[str]:
    """Ancestors of ``path`` that others cannot traverse (such as a 0700 /root)."""
    blocked = []
    current = os.path.dirname(path.rstrip("/")) or "/"
    while current not in ("/", ""):
        with contextlib.suppress(OSError):
            if not os.stat(current).st_mode & 0o001:
                blocked.append(current)
        current = os.path.dirname(current)
    return blocked


def isolate(hide: Iterable[str], keep: Iterable[str], *, network: bool = True) -> Isolation:
    """Enter namespaces and cover/re-expose paths as the module docstring describes.

    ``hide``: paths the child must not see. ``keep``: directories it must still reach
    (its work folder, the grader package; the interpreter is added here).
    """
    report = Isolation()
    if os.getuid() != 0:
        report.problems.append("not root: no mount or network namespace (limits only)")
        return report
    try:
        # A private IPC namespace too: System V queues, semaphores and shared memory would
        # otherwise outlive the child (owned by its uid) and link concurrent sandboxes.
        unshare(CLONE_NEWNS | CLONE_NEWIPC | (CLONE_NEWNET if network else 0))
        report.mount_ns = True
        report.net_ns = network
    except OSError as exc:
        report.problems.append(f"namespaces unavailable: {exc}")
        return report
    if network:
        try:
            report.loopback_up = loopback_up()
        except OSError as exc:
            report.problems.append(f"loopback not up: {exc}")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    covers = {os.path.realpath(p) for p in hide if os.path.isdir(p)}
    # The interpreter's paths never re-expose a hidden place (an editable install's source
    # tree on sys.path would bring the kit's solutions back); explicit keeps may. The one
    # exception is the virtual environment's own files when it lives inside a hidden tree
    # (`python -m venv .venv` in the kit's folder, as the README suggests): packages only.
    venv = os.path.realpath(sys.prefix) if sys.prefix != sys.base_prefix else None
    system = [p for p in interpreter_paths() if interpreter_path_kept(os.path.realpath(p), covers, venv)]
    keep_paths = sorted({os.path.realpath(p) for p in [*keep, *system] if os.path.isdir(p)})
    covers.update(p for p in (*WORLD_WRITABLE, *PRIVATE_HOMES) if os.path.isdir(p))
    for path in keep_paths:
        covers.update(_blocked_ancestors(path))
    # Shallow covers first; a cover inside another cover is already hidden.
    ordered: list[str] = []
    for cover in sorted(covers, key=lambda p: (p.count("/"), p)):
        if not any(_under(cover, done) for done in ordered):
            ordered.append(cover)
    handles = {path: os.open(path, os.O_PATH | os.O_DIRECTORY) for path in keep_paths}
    try:
        for cover in ordered:
            world = cover in WORLD_WRITABLE
            _mount("awaitlings", cover, "tmpfs", MS_NOSUID | MS_NODEV, f"mode={'1777' if world else '755'},size=64m")
            report.covered.append(cover)
        bound: list[str] = []
        for path in keep_paths:  # shallow first, so a bound parent already shows its children
            if not any(_under(path, cover) for cover in ordered):
                continue  # never covered: still reachable as it was
            if any(_under(path, parent) for parent in bound):
                continue
            os.makedirs(path, exist_ok=True)  # inside one of our tmpfs covers
            _mount(f"/proc/self/fd/{handles[path]}", path, None, MS_BIND | MS_REC)
            bound.append(path)
    finally:
        for fd in handles.values():
            os.close(fd)
    return report
