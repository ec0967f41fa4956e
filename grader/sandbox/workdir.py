"""The run's work folder: laid out by the parent, removed by the parent without trusting
anything the child may have built in it.

Layout (``lay_out``)::

    work/                 the parent's; 0755, read-only to the sandbox uid
      pytest.ini          the child's ini
      test_exNN_*.py      the checks
      target/             the parent's, read-only to the sandbox uid (its working folder)
        exNN_*.py         the learner's file: the bytes the parent scanned, 0444, the parent's
      tmp/                the only place the sandbox uid may write (TMPDIR); under the root
                          sandbox a private tmpfs covers it in the child's mount namespace

So the child can neither replace the file its checks import (each check imports it
afresh) nor plant anything next to it. Without a sandbox uid (a grader that is not
root) the child is the folder's owner and these modes are advice only; the plugin then
still refuses to run a learner's file whose bytes are not the scanned ones.

``remove`` deletes the folder iteratively, through directory file descriptors: a child
may leave a tree thousands of levels deep (deeper than recursion or PATH_MAX allow),
symlinks pointing anywhere, or folders it made unreadable, and none of it may crash the
grader or reach outside the folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def lay_out(work: Path, learner_name: str, learner: bytes, checks: Path, ini: str, uid: int | None) -> Path:
    """Create the layout above in ``work`` (which exists and is empty); the target folder."""
    target = work / "target"
    target.mkdir()
    (work / "tmp").mkdir()
    learner_file = target / learner_name
    learner_file.write_bytes(learner)
    shutil.copyfile(checks, work / checks.name)
    (work / "pytest.ini").write_text(ini, encoding="utf-8")
    if uid is not None:
        os.chmod(work, 0o755)
        os.chmod(target, 0o755)
        os.chmod(learner_file, 0o444)
        os.chown(work / "tmp", uid, uid)
    return target


def remove(path: Path) -> None:
    """Delete ``path`` and everything under it, never following a symlink, never
    recursing, never raising for what cannot be removed (it is left, and the caller
    goes on)."""
    with contextlib.suppress(OSError):
        _remove(str(path))


def _remove(path: str) -> None:
    parent_fd = os.open(os.path.dirname(os.path.abspath(path)) or "/", _DIR_FLAGS)
    try:
        name = os.path.basename(os.path.abspath(path))
        try:
            info = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if not stat.S_ISDIR(info.st_mode):
            os.unlink(name, dir_fd=parent_fd)
            return
        _empty(parent_fd, name)
        os.rmdir(name, dir_fd=parent_fd)
    finally:
        os.close(parent_fd)


def _empty(parent_fd: int, name: str) -> None:
    """Empty the directory ``name`` (relative to ``parent_fd``) depth-first, one open
    directory at a time: going down opens a child and closes the parent; coming back
    up opens ``..`` and checks it is the directory we came from (device and inode).
    A directory that cannot be emptied or removed is left, and never visited again."""
    fd = _open_dir(parent_fd, name)
    trail: list[tuple[tuple[int, int], str]] = []  # (the parent's identity, the name below it)
    left: set[tuple[int, int]] = set()
    try:
        while True:
            child = _next_entry(fd, left)
            if child is not None:
                try:
                    below = _open_dir(fd, child)
                except OSError:
                    with contextlib.suppress(OSError):
                        left.add(_identity_at(fd, child))
                    continue
                trail.append((_identity(fd), child))
                os.close(fd)
                fd = below
                continue
            if not trail:
                return  # ``name`` itself is empty (or holds only what is left)
            here = _identity(fd)
            up = os.open("..", _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = up
            parent, child = trail.pop()
            if _identity(fd) != parent:
                raise OSError("the tree changed while it was being removed")
            try:
                os.rmdir(child, dir_fd=fd)
            except OSError:
                left.add(here)
    finally:
        os.close(fd)


def _open_dir(parent_fd: int, name: str) -> int:
    info = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    if not stat.S_ISDIR(info.st_mode):
        raise NotADirectoryError(name)
    if stat.S_IMODE(info.st_mode) & 0o700 != 0o700:  # made unreadable: only matters without root
        # Through a descriptor of this very folder, never by name: between the look above
        # and the chmod, a process of the run could swap the folder for a symbolic link to
        # any file, and a chmod by name would follow it.
        with contextlib.suppress(OSError):
            handle = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=parent_fd)
            try:
                os.chmod(f"/proc/self/fd/{handle}", 0o700)
            finally:
                os.close(handle)
    return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)


def _next_entry(fd: int, left: set[tuple[int, int]]) -> str | None:
    """Unlink every non-directory in ``fd``; the name of one subdirectory still to empty,
    or None."""
    with os.scandir(fd) as entries:
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if not is_dir:
                with contextlib.suppress(OSError):
                    os.unlink(entry.name, dir_fd=fd)
                continue
            with contextlib.suppress(OSError):
                info = entry.stat(follow_symlinks=False)
                if (info.st_dev, info.st_ino) not in left:
                    return entry.name
    return None


def _identity(fd: int) -> tuple[int, int]:
    info = os.fstat(fd)
    return info.st_dev, info.st_ino


def _identity_at(fd: int, name: str) -> tuple[int, int]:
    info = os.stat(name, dir_fd=fd, follow_symlinks=False)
    return info.st_dev, info.st_ino
