"""Linux isolation for the sandboxed child, applied before any pytest or learner code runs.

Run as root (Gradescope, CI, a course server), the child:

1. enters new mount, IPC and network namespaces (``unshare``), with only the loopback
   interface, brought up: learner code can serve and connect on 127.0.0.1, nothing more;
2. builds a new root filesystem from an **allow-list** and switches to it
   (``pivot_root``): an empty tmpfs into which it bind-mounts, read-only, only what a run
   needs (the interpreter, its standard library and site-packages, the grader package,
   the system's programs and shared libraries, a few files of ``/etc``, the device nodes
   ``null``, ``zero``, ``full``, ``random`` and ``urandom``), plus its own work folder;
   ``/tmp``, ``/var/tmp`` and ``/dev/shm`` are fresh, small tmpfs of its own. Nothing
   else exists there: not the kit, not another checkout of it, not homes, not other
   submissions, whatever their path. A place the caller hides (the graded kit, the
   grader's source tree) is never mounted, even when an interpreter path lies inside it,
   except for a virtual environment's own files there;
3. covers its work folder's ``tmp/`` with a size-limited tmpfs owned by its uid: the one
   place it writes, which never reaches the real disk;
4. then (in ``grader.sandbox.child``) enters its own PID namespace
   (``grader.sandbox.pidns``), and drops to a dedicated unprivileged uid, so it cannot
   write outside its private places, cannot signal or inspect the grader, and every
   process it starts is ended by the kernel with the run.

Not root, the child first enters a new **user namespace** where the kernel allows it
(most Linux systems do: ``unshare --user`` works there), mapped to the grading user's own
uid, which gives it the rights to take steps 1 to 3 and the PID namespace of step 4 in
its own namespaces; there is no other uid to drop to, so it gives up every capability
instead (``grader.sandbox.child.drop_capabilities``). The allow-list root, the loopback-only
network and the kernel's end of every process it started are then the same as root's.
Where user namespaces are refused too, the child runs with resource limits only, and
``grade doctor`` says so. Each step reports what it achieved; nothing fails silently.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import platform
import socket
import stat
import struct
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

CLONE_NEWUSER = 0x10000000
CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
CLONE_NEWIPC = 0x08000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
PR_SET_DUMPABLE = 4
#: pivot_root has no libc wrapper: its system call number, by machine.
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "arm64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217, "i686": 217}

#: Fresh, private and small in the child (world-writable, sticky, as on any system).
SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")
SCRATCH_BYTES = 16 * 1024**2
#: What of the system every run may read (whichever of these exist here).
SYSTEM_DIRS = (
    "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
    "/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/libexec",
    "/usr/share/zoneinfo", "/etc/ssl", "/etc/ld.so.conf.d", "/etc/alternatives",
)  # fmt: skip
SYSTEM_FILES = (
    "/etc/hosts", "/etc/host.conf", "/etc/nsswitch.conf", "/etc/gai.conf", "/etc/resolv.conf",
    "/etc/passwd", "/etc/group", "/etc/services", "/etc/protocols", "/etc/localtime",
    "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/mime.types",
)  # fmt: skip
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")


@dataclass
class Isolation:
    """What the child achieved; sent to the parent in the first message."""

    #: Not root: the namespaces below were made in a user namespace of the grading user's.
    user_ns: bool = False
    mount_ns: bool = False
    net_ns: bool = False
    pid_ns: bool = False
    loopback_up: bool = False
    #: Without a mount namespace: the Landlock ABI that holds the run to the allow-list
    #: (``grader.sandbox.landlock``), 0 when none does; and whether it scopes signals.
    landlock: int = 0
    landlock_scoped: bool = False
    #: Without a PID namespace: the run cannot leave its process group (``onegroup``).
    one_group: bool = False
    #: The new root holds only these (the allow-list actually mounted), or Landlock allows
    #: only these; or empty.
    visible: list[str] = field(default_factory=list)
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


def enter_user_namespace(namespaces: int) -> None:
    """Enter a new user namespace together with ``namespaces`` (owned by it), mapping the
    grading user's uid and gid to themselves: the files it owns stay its own, every other
    owner shows as ``nobody``. The process holds every capability in these namespaces
    (and none outside them) until it gives them up."""
    uid, gid = os.getuid(), os.getgid()
    unshare(CLONE_NEWUSER | namespaces)
    # A non-dumpable process (the warm child is) does not own its /proc files, so the maps
    # could not be written: dumpable only while they are, then never again (what this
    # process forks next, the PID namespace's init among them, must not be ptraced).
    libc = _libc()
    libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
    try:
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "w", encoding="ascii") as file:
                file.write(text)
    finally:
        libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def _locked_flags(path_fd: int) -> int:
    """The mount flags a read-only remount of a bind of ``path_fd`` must keep: in a user
    namespace the kernel refuses to clear those its source mount has (nosuid, nodev,
    noexec, its atime mode); as root keeping them changes nothing."""
    flags = os.fstatvfs(path_fd).f_flag
    kept = 0
    for st, ms in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
                   (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME),
                   (os.ST_RELATIME, MS_RELATIME)):  # fmt: skip
        if flags & st:
            kept |= ms
    if not flags & (os.ST_NOATIME | os.ST_RELATIME):
        kept |= MS_STRICTATIME
    return kept


def loopback_up() -> bool:
    """Bring ``lo`` up in this (new) network namespace."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock.fileno(), SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))
    return True


def interpreter_paths() -> list[str]:
    """Directories the child's Python needs to keep reading in its new root."""
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


def isolate(
    hide: Iterable[str],
    keep: Iterable[str],
    *,
    network: bool = True,
    private: dict[str, Any] | None = None,
    user_namespace: bool = False,
    writable: Iterable[str] = (),
) -> Isolation:
    """Enter namespaces and switch to an allow-list root, as the module docstring describes.

    ``hide``: paths never mounted (nor any interpreter path inside them, but a venv's).
    ``keep``: directories the child must reach (its work folder, the grader package;
    the interpreter's and the system's are added here). ``private``: ``{"path", "uid",
    "size"}``, a folder covered by a tmpfs of that size owned by that uid.
    ``user_namespace``: in a user namespace even as root (not root, always).
    ``writable``: those of ``keep`` mounted writable (the work folder); the others, like
    everything else, are read-only whoever owns them (in a user namespace the child is
    the grading user, who owns the grader's source tree).
    """
    report = Isolation()
    # A private IPC namespace too: System V queues, semaphores and shared memory would
    # otherwise outlive the child (owned by its uid) and link concurrent sandboxes.
    namespaces = CLONE_NEWNS | CLONE_NEWIPC | (CLONE_NEWNET if network else 0)
    if os.getuid() != 0 or user_namespace:
        try:
            enter_user_namespace(namespaces)
        except OSError as exc:
            report.problems.append(
                f"not root, and no user namespace ({exc}): no mount or network namespace (limits only)"
            )
            return report
        report.user_ns = True
    else:
        try:
            unshare(namespaces)
        except OSError as exc:
            report.problems.append(f"namespaces unavailable: {exc}")
            return report
    report.net_ns = network
    if network:
        try:
            report.loopback_up = loopback_up()
        except OSError as exc:
            report.problems.append(f"loopback not up: {exc}")
    wanted = allow_list(hide, keep, writable)
    try:
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
        report.visible = _switch_root(wanted)
        report.mount_ns = True
    except OSError as exc:
        report.problems.append(f"no allow-list root: {exc}")
        return report
    if private:
        owner = int(private["uid"])
        options = f"mode=0700,uid={owner},gid={owner},size={int(private['size'])}"
        _mount("awaitlings", str(private["path"]), "tmpfs", MS_NOSUID | MS_NODEV, options)
    return report


def allow_list(hide: Iterable[str], keep: Iterable[str], writable: Iterable[str] = ()) -> dict[str, bool]:
    """Every path the child may reach (real paths), and whether it may write there: what
    the new root is built from here, and what ``grader.sandbox.landlock`` allows where no
    namespace can be made. The arguments are :func:`isolate`'s."""
    hidden = {os.path.realpath(p) for p in hide}
    venv = os.path.realpath(sys.prefix) if sys.prefix != sys.base_prefix else None
    open_to_writes = {os.path.realpath(p) for p in writable}
    wanted: dict[str, bool] = {}  # path -> writable
    for path in [*SYSTEM_DIRS, *SYSTEM_FILES, *DEVICES]:
        if os.path.lexists(path) and not any(_under(path, h) for h in hidden):
            wanted[path] = False
    for path in interpreter_paths():
        if interpreter_path_kept(os.path.realpath(path), hidden, venv):
            wanted.setdefault(os.path.realpath(path), False)
    for path in keep:  # the work folder and the grader package: kept even inside hidden places
        if os.path.isdir(path):
            wanted[os.path.realpath(path)] = os.path.realpath(path) in open_to_writes
    return wanted


def _switch_root(wanted: dict[str, bool]) -> list[str]:
    """Build the new root, from ``wanted`` (:func:`allow_list`), on a tmpfs over /tmp (this
    namespace's only) and pivot into it; the paths now visible. Everything is opened
    (``O_PATH``) before the tmpfs hides it."""
    cwd = os.getcwd()
    # One mount per tree: a path inside another wanted path comes with it.
    roots = sorted(wanted, key=lambda p: (p.count("/"), p))
    chosen: list[str] = []
    for path in roots:  # (a writable folder inside a read-only one gets a mount of its own)
        if not any(_under(path, done) and not os.path.islink(done) and wanted[done] == wanted[path] for done in chosen):
            chosen.append(path)
    links = {p: os.readlink(p) for p in chosen if os.path.islink(p)}
    handles = {p: os.open(p, os.O_PATH | os.O_CLOEXEC) for p in chosen if p not in links}
    new_root = "/tmp"
    try:
        _mount("awaitlings-root", new_root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=1m")
        for path in (*SCRATCH, "/proc", "/dev"):
            os.makedirs(new_root + path, exist_ok=True)
        for path in SCRATCH:  # first: the work folder (under the real /tmp) is bound inside
            _mount("awaitlings", new_root + path, "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={SCRATCH_BYTES}")
        for path in chosen:
            inside = new_root + path
            os.makedirs(os.path.dirname(inside), exist_ok=True)
            if path in links:
                os.symlink(links[path], inside)
                continue
            if stat.S_ISDIR(os.fstat(handles[path]).st_mode):
                os.makedirs(inside, exist_ok=True)
            else:
                os.close(os.open(inside, os.O_CREAT | os.O_WRONLY, 0o644))
            _mount(f"/proc/self/fd/{handles[path]}", inside, None, MS_BIND | MS_REC)
            if not wanted[path]:  # read-only; device nodes only where devices are wanted
                nodev = 0 if path in DEVICES else MS_NODEV
                kept = _locked_flags(handles[path])
                _mount(None, inside, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | nodev | kept)
    finally:
        for fd in handles.values():
            os.close(fd)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):  # fmt: skip
        with contextlib.suppress(FileExistsError):
            os.symlink(target, f"{new_root}/dev/{name}")
    # Until the PID namespace mounts its own, the host's /proc (never the learner's: the
    # run only starts after that mount, or without a PID namespace, with this one).
    _mount("/proc", new_root + "/proc", None, MS_BIND | MS_REC)
    # The root's own tmpfs holds only the mount points and links made above: read-only,
    # so nothing can be added beside them (an /etc/ld.so.preload, a module in a folder
    # some path searches). In a user namespace the child owns that tmpfs; as another uid
    # it could not write there anyway. The scratch places and the work folder are mounts
    # of their own and stay writable.
    _mount(None, new_root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "mode=755,size=1m")
    _pivot(new_root)
    with contextlib.suppress(OSError):
        os.chdir(cwd)
    return chosen


def _pivot(new_root: str) -> None:
    """Make ``new_root`` this namespace's ``/`` and let go of the old root entirely."""
    number = SYS_PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise OSError(f"pivot_root: unknown system call number on {platform.machine()}")
    os.chdir(new_root)
    libc = _libc()
    _check(libc.syscall(number, b".", b"."), "pivot_root")
    # The old root is now stacked under the new one at "/": detach it, so no path leads there.
    _check(libc.umount2(b".", MNT_DETACH), "umount old root")
    os.chdir("/")
