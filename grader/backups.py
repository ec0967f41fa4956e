"""Never lose the learner's work: timestamped backups of exercise files, ``grade reset``
(back the file up, then put the pristine stub back) and restoring a backup.

Backups live in the kit's state folder (``.awaitlings/backups/``, ignored by git), one
file per backup, named ``<module>-<YYYYmmdd-HHMMSS>[-n].py`` so they sort by age and
open with Python highlighting. Nothing here deletes a backup. A file that is still the
stub is never backed up (there is nothing of the learner's in it).
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from grader.errors import KitError, UsageError
from grader.manifest import Exercise, Kit

BACKUPS = "backups"


@dataclass(frozen=True)
class Backup:
    """One saved copy of an exercise file."""

    exercise_id: str
    path: Path
    #: When it was taken, local time, ``YYYY-mm-dd HH:MM:SS``.
    taken: str
    size: int


@dataclass(frozen=True)
class Outcome:
    """What a reset or a restore did to the exercise file."""

    exercise: Exercise
    #: ``reset`` (stub written), ``missing`` (stub written, there was no file),
    #: ``untouched`` (already the stub: nothing done), ``restored``, ``same`` (the file
    #: already equals the backup: nothing done).
    action: str
    #: Where the learner's previous file was saved (None: there was nothing to save).
    backup: Backup | None = None

    @property
    def changed(self) -> bool:
        return self.action in ("reset", "missing", "restored")


def backups_dir(kit: Kit) -> Path:
    return kit.state_dir / BACKUPS


def differs_from_stub(kit: Kit, exercise: Exercise) -> bool:
    """The exercise file exists and holds something other than the stub."""
    try:
        data = kit.stub_path(exercise).read_bytes()
    except FileNotFoundError:
        return False
    _stub(kit, exercise)  # a missing pristine stub is the kit's error, said as such
    return not kit.untouched(exercise, data)


def backups(kit: Kit, exercise: Exercise) -> list[Backup]:
    """The backups of ``exercise``, newest first."""
    pattern = re.compile(rf"^{re.escape(exercise.module)}-(\d{{8}})-(\d{{6}})(?:-(\d+))?\.py$")
    found: list[tuple[tuple[str, str, int], Backup]] = []
    with contextlib.suppress(FileNotFoundError):
        for path in backups_dir(kit).iterdir():
            match = pattern.match(path.name)
            if not match or not path.is_file():
                continue
            day, clock, n = match.group(1), match.group(2), int(match.group(3) or 1)
            taken = f"{day[:4]}-{day[4:6]}-{day[6:]} {clock[:2]}:{clock[2:4]}:{clock[4:]}"
            found.append(((day, clock, n), Backup(exercise.id, path, taken, path.stat().st_size)))
    return [backup for _, backup in sorted(found, key=lambda item: item[0], reverse=True)]


def back_up(kit: Kit, exercise: Exercise, data: bytes) -> Backup:
    """Save ``data`` (the exercise file's content) as a new backup and return it."""
    folder = backups_dir(kit)
    folder.mkdir(parents=True, exist_ok=True)
    ignore = kit.state_dir / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n", encoding="utf-8")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        suffix = "" if n == 1 else f"-{n}"
        path = folder / f"{exercise.module}-{stamp}{suffix}.py"
        try:
            with open(path, "xb") as fh:  # never overwrite an earlier backup
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        except FileExistsError:
            continue
        if path.read_bytes() != data:
            raise KitError(f"could not write a faithful backup to {path}; nothing was changed")
        taken = time.strftime("%Y-%m-%d %H:%M:%S", time.strptime(stamp, "%Y%m%d-%H%M%S"))
        return Backup(exercise.id, path, taken, len(data))
    raise KitError(f"too many backups of {exercise.id} this second in {folder}")


def reset(kit: Kit, exercise: Exercise) -> Outcome:
    """Put the pristine stub back, after backing up the learner's file (if it is not
    already the stub)."""
    stub = _stub(kit, exercise)
    path = kit.stub_path(exercise)
    current = _read(path)
    if current is not None and kit.untouched(exercise, current):
        return Outcome(exercise, "untouched")
    saved = back_up(kit, exercise, current) if current is not None else None
    _replace(path, stub, expected=current, saved=saved)
    return Outcome(exercise, "missing" if current is None else "reset", saved)


def restore(kit: Kit, exercise: Exercise, backup: Backup) -> Outcome:
    """Put ``backup`` back in place of the exercise file; the current file is backed up
    first unless it is the stub or already equals the backup."""
    wanted = backup.path.read_bytes()
    path = kit.stub_path(exercise)
    current = _read(path)
    if current == wanted:
        return Outcome(exercise, "same")
    _stub(kit, exercise)
    keep = current is not None and not kit.untouched(exercise, current)
    saved = back_up(kit, exercise, current) if keep and current is not None else None
    _replace(path, wanted, expected=current, saved=saved)
    return Outcome(exercise, "restored", saved)


def _stub(kit: Kit, exercise: Exercise) -> bytes:
    source = kit.pristine_stub(exercise)
    try:
        return source.read_bytes()
    except OSError as exc:
        raise KitError(f"the pristine stub of {exercise.id} is missing ({source}): reinstall the kit") from exc


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _replace(path: Path, data: bytes, *, expected: bytes | None, saved: Backup | None) -> None:
    """Write ``data`` to ``path`` atomically, unless the file changed since it was read
    (an editor saving at this very moment): then refuse, and lose nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.awaitlings-tmp")
    tmp.write_bytes(data)
    with contextlib.suppress(OSError):
        os.chmod(tmp, path.stat().st_mode & 0o7777)
    if _read(path) != expected:
        tmp.unlink()
        where = f" (your earlier version is in {saved.path})" if saved else ""
        raise UsageError(f"{path.name} changed while it was being replaced; nothing was changed{where}. Try again.")
    os.replace(tmp, path)
