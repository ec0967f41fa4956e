"""Untrusted submissions in, exercise files out: find the files a course grades, by name,
in a folder or a zip, without trusting anything about how the submission is laid out.

A submission is one student's folder or zip (Gradescope's ``/autograder/submission``, or
one entry of a ``grade batch`` folder). Students put their files at the top level, in an
``exercises/`` folder, or nested deeper (``hw3/awaitlings/exercises/``); the grader looks
at every folder and takes each exercise file by its exact name, the shallowest one when
there are several (``exercises/`` wins a tie). Without an exact name, a near miss is taken
when only one file (or identical copies) fits: letter case (``Ex03_Gather_Fanout.py``), a
copy suffix (``ex01_hello_run (1).py``), spaces or dashes, or the slug alone
(``echo_server.py``); a note says so and names the rename to make. Other likely names (a
typo, ``.txt``, several candidates) are never graded, only named with their rename in the
"not found" message. In a whole-repository upload (a folder holding ``grader/stubs/`` or
``exercises/exercises.toml``), the kit's own ``grader/``, ``tests/`` and ``solutions/``
are never taken: the learner's copies are the ones in ``exercises/``. Nothing is extracted
or copied except the chosen files' bytes, read here into memory under a size cap:

- symlinks are never followed (a link to ``/etc/shadow`` or to another student's file
  named like an exercise is ignored and reported);
- zip entries with absolute paths, ``..`` parts, drive letters or a symlink mode are
  ignored and reported (nothing is ever written under a name taken from the zip);
- file, entry-count and depth caps bound the work a hostile submission can cause;
- names that are not valid UTF-8 are shown escaped, never used as paths.

Pure with respect to the grader: no grading, no child processes; just bytes and notes.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import stat
import sys
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grader.manifest import Exercise
from grader.results import ExerciseResult, ExerciseStatus, zero_result

#: Largest exercise file taken (bytes); the stubs are a few KiB, answers rarely 20 KiB.
MAX_FILE_BYTES = 512 * 1024
#: Files and folders looked at in one submission before giving up on the rest.
MAX_ENTRIES = 20_000
#: Folder depth searched below the submission's root.
MAX_DEPTH = 12
#: Largest zip accepted as a submission (its central directory is read whole).
MAX_ZIP_BYTES = 256 * 1024 * 1024
#: Folders never searched: editor, VCS and OS clutter that can hold stale copies.
SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", "__MACOSX", "__pycache__", ".venv", "venv", "node_modules", ".awaitlings"}
)
#: A kit copy's own folders (beside its ``exercises/``): pristine stubs, checks, solutions.
KIT_FOLDERS = frozenset({"grader", "tests", "solutions"})
#: How similar (difflib's ratio) a ``.py`` name must be to be named in "not found" as a typo.
_TYPO_RATIO = 0.85
#: A copy suffix that browsers, file managers and LMS downloads add: `` (1)``, `` - Copy``, `` copy 2``.
_COPY_SUFFIX = re.compile(r"(?:\s*\(\d+\)|[\s_-]*copy(?:\s*\(?\d+\)?)?)$")
_SEPARATORS = re.compile(r"[\s-]+")
_READ_ERRORS = (OSError, zipfile.BadZipFile, ValueError, EOFError, RuntimeError, NotImplementedError)


@dataclass(frozen=True)
class Found:
    """One exercise file taken from a submission."""

    path: str  # where it was, relative to the submission, '/'-separated, escaped if needed
    data: bytes
    #: Taken under a near-miss name (``Ex03_...``, ``... (1).py``, the slug alone).
    renamed: bool = False

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class Collected:
    """What a submission holds for the exercises asked about."""

    files: dict[str, Found] = field(default_factory=dict)  # exercise id -> file
    #: Per-exercise reasons a file was found but not taken (too large): id -> message.
    rejected: dict[str, str] = field(default_factory=dict)
    #: What the student and course staff should know: files taken under a near-miss name
    #: (first), ignored entries, differing duplicates, an unreadable zip.
    notes: tuple[str, ...] = ()
    #: For exercises not found: the renames that would make them found (id -> hints).
    hints: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def fingerprint(self) -> dict[str, str]:
        """``{exercise id: sha256}`` plus rejections: what decides the grade."""
        prints = {ex_id: found.sha256 for ex_id, found in self.files.items()}
        prints.update({ex_id: f"rejected: {why}" for ex_id, why in self.rejected.items()})
        return dict(sorted(prints.items()))


def display_name(name: str | bytes) -> str:
    """A file name as text for reports: undecodable bytes shown as ``\\xNN``."""
    raw = name if isinstance(name, bytes) else os.fsencode(name)
    return raw.decode("utf-8", "backslashreplace")


def collect(source: Path, exercises: Sequence[Exercise]) -> Collected:
    """The exercise files in ``source`` (a folder or a ``.zip``), by exact file name."""
    try:
        mode = os.lstat(source).st_mode
    except OSError as exc:
        return Collected(notes=(f"cannot read the submission: {exc.strerror}",))
    if stat.S_ISLNK(mode):
        return Collected(notes=("the submission is a symlink: not followed",))
    if stat.S_ISDIR(mode):
        candidates, notes = _walk_folder(source)
    elif stat.S_ISREG(mode) and source.suffix.lower() == ".zip":
        candidates, notes = _walk_zip(source)
    else:
        return Collected(notes=("the submission is neither a folder nor a .zip file",))
    return _choose(candidates, exercises, notes)


# --- candidates: (relative parts, reader) for every regular file, never following links ---


@dataclass(frozen=True)
class _Candidate:
    parts: tuple[str, ...]
    size: int
    read: _Reader

    @property
    def path(self) -> str:
        return "/".join(self.parts)


class _Reader:
    """Reads one candidate's bytes, at most ``limit`` of them (the cap is checked by size first)."""

    def __init__(
        self, folder_file: Path | None = None, archive: Path | None = None, member: zipfile.ZipInfo | None = None
    ) -> None:
        self.folder_file, self.archive, self.member = folder_file, archive, member

    def __call__(self, limit: int) -> bytes:
        if self.folder_file is not None:
            # O_NOFOLLOW: the file cannot have been swapped for a link since the walk saw it.
            fd = os.open(self.folder_file, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise OSError("not a regular file")
                chunks, size = [], 0
                while size <= limit:
                    chunk = os.read(fd, min(65536, limit + 1 - size))
                    if not chunk:
                        break
                    chunks.append(chunk)
                    size += len(chunk)
                return b"".join(chunks)
            finally:
                os.close(fd)
        assert self.archive is not None and self.member is not None
        with zipfile.ZipFile(self.archive) as zf, zf.open(self.member) as fh:
            return fh.read(limit + 1)


def _walk_folder(root: Path) -> tuple[list[_Candidate], list[str]]:
    candidates: list[_Candidate] = []
    notes: list[str] = []
    seen = 0
    stack: list[tuple[Path, tuple[str, ...]]] = [(root, ())]
    while stack:
        folder, parts = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: os.fsencode(e.name))
        except OSError as exc:
            notes.append(f"cannot list {'/'.join(parts) or '.'}: {exc.strerror}")
            continue
        for entry in entries:
            seen += 1
            if seen > MAX_ENTRIES:
                notes.append(f"more than {MAX_ENTRIES} files and folders: the rest was not searched")
                return candidates, notes
            name = display_name(entry.name)
            here = (*parts, name)
            try:
                if entry.is_symlink():
                    notes.append(f"ignored symlink {'/'.join(here)}")
                elif entry.is_dir(follow_symlinks=False):
                    if entry.name in SKIP_DIRS:
                        continue
                    if len(here) > MAX_DEPTH:
                        notes.append(f"not searched (deeper than {MAX_DEPTH} folders): {'/'.join(here)}")
                        continue
                    stack.append((Path(entry.path), here))
                elif entry.is_file(follow_symlinks=False):
                    size = entry.stat(follow_symlinks=False).st_size
                    candidates.append(_Candidate(here, size, _Reader(folder_file=Path(entry.path))))
            except OSError as exc:
                notes.append(f"cannot read {'/'.join(here)}: {exc.strerror}")
    return candidates, notes


def _walk_zip(archive: Path) -> tuple[list[_Candidate], list[str]]:
    notes: list[str] = []
    try:
        if archive.stat().st_size > MAX_ZIP_BYTES:
            return [], [f"the zip is larger than {MAX_ZIP_BYTES // 2**20} MiB: not opened"]
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
    except (OSError, zipfile.BadZipFile, ValueError, EOFError) as exc:
        return [], [f"not a readable zip file ({exc})"]
    if len(members) > MAX_ENTRIES:
        notes.append(f"the zip has {len(members)} entries: only the first {MAX_ENTRIES} were searched")
        members = members[:MAX_ENTRIES]
    candidates: list[_Candidate] = []
    for info in members:
        shown = display_name(info.filename)
        if info.is_dir():
            continue
        parts = _safe_parts(info.filename)
        if parts is None:
            notes.append(f"ignored unsafe zip entry {shown!r} (absolute path or '..')")
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            notes.append(f"ignored symlink {shown}")
            continue
        if any(p in SKIP_DIRS for p in parts[:-1]):
            continue
        if len(parts) > MAX_DEPTH + 1:
            notes.append(f"not searched (deeper than {MAX_DEPTH} folders): {shown}")
            continue
        if info.flag_bits & 0x1:
            notes.append(f"ignored encrypted zip entry {shown}")
            continue
        candidates.append(_Candidate(parts, info.file_size, _Reader(archive=archive, member=info)))
    return candidates, notes


def _safe_parts(name: str) -> tuple[str, ...] | None:
    """The entry's path parts, or None for anything that could point outside a folder."""
    text = name.replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":") or "\0" in text:
        return None
    parts = tuple(p for p in PurePosixPath(text).parts if p not in ("", "."))
    if not parts or ".." in parts:
        return None
    return tuple(display_name(p) for p in parts)


# --- choosing one file per exercise ------------------------------------------------------


def _preference(candidate: _Candidate) -> tuple[int, int, str]:
    """Shallowest first; in a tie, a file in an ``exercises/`` folder; then by path."""
    in_exercises = 0 if len(candidate.parts) > 1 and candidate.parts[-2] == "exercises" else 1
    return (len(candidate.parts), in_exercises, candidate.path)


def _kit_roots(candidates: Sequence[_Candidate]) -> set[tuple[str, ...]]:
    """Folders holding a copy of the kit itself (a whole-repository upload): those with
    ``grader/stubs/`` or ``exercises/exercises.toml`` inside."""
    roots: set[tuple[str, ...]] = set()
    for candidate in candidates:
        parts = candidate.parts
        if len(parts) >= 3 and parts[-3:-1] == ("grader", "stubs"):
            roots.add(parts[:-3])
        elif len(parts) >= 2 and parts[-2:] == ("exercises", "exercises.toml"):
            roots.add(parts[:-2])
    return roots


def _is_kit_copy(candidate: _Candidate, roots: set[tuple[str, ...]]) -> bool:
    """Whether ``candidate`` lies in a kit folder (``grader/``, ``tests/``, ``solutions/``)
    of a kit copy: the kit's pristine stubs and reference files, never the learner's work."""
    parts = candidate.parts
    return any(len(parts) > len(r) + 1 and parts[: len(r)] == r and parts[len(r)] in KIT_FOLDERS for r in roots)


def _loose(name: str) -> str | None:
    """A ``.py`` file's stem as the near-miss rules compare it (lower case, ``-`` and
    spaces as ``_``, a copy suffix such as `` (1)`` or `` - Copy`` dropped), else None."""
    if not name.lower().endswith(".py"):
        return None
    stem = name[:-3].strip().lower()
    while (shorter := _COPY_SUFFIX.sub("", stem)) != stem:
        stem = shorter.strip()
    return _SEPARATORS.sub("_", stem).strip("_") or None


def _near_miss(name: str, exercise: Exercise) -> str | None:
    """Why ``name`` is taken for ``exercise`` although it is not its exact file name, or None."""
    loose = _loose(name)
    if loose is None or name == exercise.filename:
        return None
    if loose == exercise.module:
        stem = name[:-3].strip()
        core = stem.lower()
        while (shorter := _COPY_SUFFIX.sub("", core)) != core:
            core = shorter.strip()
        why = ["a copy suffix"] if len(core) < len(stem) else []
        if stem[: len(core)] != core or name[-3:] != ".py":
            why.append("letter case")
        if _SEPARATORS.sub("_", core) != core:
            why.append("spaces or dashes")
        return " and ".join(why)
    if loose == exercise.slug:
        return f"without its {exercise.id}_ prefix"
    return None


def _resembles(name: str, exercise: Exercise) -> bool:
    """A file that is probably the exercise under a wrong name: a typo in the stem, a wrong
    extension (``.txt``, ``.py.txt``), or the id alone. Never graded, only named."""
    lower = name.lower()
    if lower.startswith(exercise.module) and not lower.endswith(".py"):
        return True
    loose = _loose(name)
    if loose is None:
        return False
    if loose in (exercise.id, exercise.id.replace("ex0", "ex")):
        return True
    return difflib.SequenceMatcher(None, loose, exercise.module).ratio() >= _TYPO_RATIO


def _choose(candidates: Iterable[_Candidate], exercises: Sequence[Exercise], notes: list[str]) -> Collected:
    everything = list(candidates)
    roots = _kit_roots(everything)
    own = [c for c in everything if not _is_kit_copy(c, roots)]
    kit_copies = [c for c in everything if _is_kit_copy(c, roots)]
    files: dict[str, Found] = {}
    rejected: dict[str, str] = {}
    hints: dict[str, tuple[str, ...]] = {}
    taken: set[str] = {c.path for c in own if c.parts[-1] in {e.filename for e in exercises}}
    seen: list[str] = []
    for exercise in exercises:
        exact = sorted((c for c in own if c.parts[-1] == exercise.filename), key=_preference)
        near = sorted((c for c in own if c.path not in taken and _near_miss(c.parts[-1], exercise)), key=_preference)
        if exact:
            chosen, why = exact[0], None
            _note_duplicates(exercise, exact, notes)
        elif near and len({_content(c) for c in near}) == 1:
            chosen, why = near[0], _near_miss(near[0].parts[-1], exercise)
        else:
            hints[exercise.id] = _hints(exercise, near, [c for c in own if c.path not in taken], kit_copies)
            continue
        taken.add(chosen.path)
        if chosen.size > MAX_FILE_BYTES:
            rejected[exercise.id] = _too_large(exercise, chosen.path, chosen.size)
            continue
        try:
            data = chosen.read(MAX_FILE_BYTES)
        except _READ_ERRORS as exc:
            rejected[exercise.id] = f"{chosen.path} could not be read: {exc}"
            continue
        if len(data) > MAX_FILE_BYTES:  # a size that lied (a grown file, a forged zip header)
            rejected[exercise.id] = _too_large(exercise, chosen.path, len(data))
            continue
        files[exercise.id] = Found(chosen.path, data, renamed=why is not None)
        if why is not None:
            seen.append(f"{exercise.filename}: graded {chosen.path} (its name differs: {why}); "
                        f"rename it to {exercise.filename}")  # fmt: skip
    return Collected(files=files, rejected=rejected, notes=(*seen, *notes), hints=hints)


def _content(candidate: _Candidate) -> str:
    """What tells two candidates apart: their bytes' hash (a size over the cap is its own)."""
    if candidate.size > MAX_FILE_BYTES:
        return f"{candidate.size} bytes"
    try:
        return hashlib.sha256(candidate.read(MAX_FILE_BYTES)).hexdigest()
    except _READ_ERRORS:
        return f"unreadable {candidate.path}"


def _note_duplicates(exercise: Exercise, options: list[_Candidate], notes: list[str]) -> None:
    """Name the other copies of an exercise file only when they differ from the graded one."""
    chosen = _content(options[0])
    others = [o.path for o in options[1:] if _content(o) != chosen]
    if others:
        listed = ", ".join(others[:3]) + (" …" if len(others) > 3 else "")
        notes.append(f"{exercise.filename}: graded {options[0].path}; also found {listed} (different content)")


def _hints(
    exercise: Exercise, near: list[_Candidate], own: list[_Candidate], kit_copies: list[_Candidate]
) -> tuple[str, ...]:
    """For a missing exercise file: the renames that would make it found."""
    if len(near) > 1:
        listed = ", ".join(c.path for c in near[:4])
        return (f"several files that could be it ({listed}): keep the one to grade and name it {exercise.filename}",)
    hints = [f"{c.path}: rename it to {exercise.filename}"
             for c in sorted(own, key=_preference) if _resembles(c.parts[-1], exercise)][:3]  # fmt: skip
    copies = sorted((c for c in kit_copies if c.parts[-1] == exercise.filename), key=lambda c: "stubs" not in c.parts)
    if copies:
        hints.append(f"only the kit's own copy {copies[0].path}, which is never graded: your work goes in "
                     f"exercises/{exercise.filename}")  # fmt: skip
    return tuple(hints)


def _too_large(exercise: Exercise, path: str, size: int) -> str:
    return (
        f"{path} is {size:,} bytes, over the {MAX_FILE_BYTES // 1024} KiB limit for an exercise "
        f"file: submit the source of {exercise.filename} only."
    )


def missing_message(exercise: Exercise, hints: Sequence[str] = ()) -> str:
    """What to tell a student whose submission lacks an exercise's file (``hints``: the
    renames that would make it found)."""
    message = (
        f"{exercise.filename} was not found in the submission (every folder was searched by "
        f"file name): submit it under exactly that name, at the top level or in exercises/."
    )
    return message + "".join(f"\nFound {hint}." for hint in hints)


def absent_result(exercise: Exercise, collected: Collected) -> ExerciseResult:
    """The result for an exercise that was not graded: unsupported here, too large, or missing."""
    if not exercise.supported():
        needed = ".".join(map(str, exercise.min_python))
        status, message = ExerciseStatus.UNSUPPORTED, f"needs Python {needed} or newer; this is {_python()}"
    else:
        hints = collected.hints.get(exercise.id, ())
        status, message = ExerciseStatus.ERROR, collected.rejected.get(exercise.id) or missing_message(exercise, hints)
    return zero_result(id=exercise.id, slug=exercise.slug, title=exercise.title, points=exercise.points,
                       status=status, message=message)  # fmt: skip


def _python() -> str:
    return sys.version.split()[0]
