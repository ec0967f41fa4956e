"""The exercise manifest: ``exercises/exercises.toml`` loaded into frozen dataclasses.

The manifest is the single source of exercise order and metadata (points, per-check
timeout, hints, minimum Python). Everything else looks exercises up here, by ``ex04``,
``4`` or ``echo_server``.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from grader.errors import KitError, UnknownExercise

MANIFEST_NAME = "exercises.toml"
KIT_ENV = "AWAITLINGS_KIT"
#: Pristine copies of the stubs (the learner edits the ones in ``exercises/``).
STUBS_DIR = Path(__file__).resolve().parent / "stubs"


@dataclass(frozen=True)
class Exercise:
    """One exercise as the manifest declares it."""

    order: int
    id: str
    slug: str
    title: str
    points: float
    #: Seconds each check may run (the manifest's ``timeout`` key; a check's ``limit`` mark overrides it).
    limit: float
    hints: tuple[str, ...]
    min_python: tuple[int, int]
    concepts: tuple[str, ...] = ()
    #: Modules the static scan would forbid that this exercise needs (e.g. pytest).
    allow_imports: tuple[str, ...] = ()

    @property
    def module(self) -> str:
        """The module (and file stem) the learner edits: ``ex04_echo_server``."""
        return f"{self.id}_{self.slug}"

    @property
    def filename(self) -> str:
        return f"{self.module}.py"

    @property
    def checks_filename(self) -> str:
        return f"test_{self.module}.py"

    def supported(self, version: tuple[int, int] | None = None) -> bool:
        """Whether this Python (or ``version``) is new enough for the exercise."""
        current = version or (sys.version_info.major, sys.version_info.minor)
        return current >= self.min_python


@dataclass(frozen=True)
class Kit:
    """Where the kit lives and what it contains."""

    root: Path
    exercises: tuple[Exercise, ...]
    stubs_dir: Path = STUBS_DIR

    @property
    def exercises_dir(self) -> Path:
        return self.root / "exercises"

    @property
    def solutions_dir(self) -> Path:
        return self.root / "solutions"

    @property
    def checks_dir(self) -> Path:
        return self.root / "tests" / "checks"

    @property
    def mutants_dir(self) -> Path:
        return self.root / "tests" / "mutants"

    @property
    def alternatives_dir(self) -> Path:
        """Correct answers written differently from the reference: each gets full marks."""
        return self.root / "tests" / "alternatives"

    @property
    def state_dir(self) -> Path:
        return self.root / ".awaitlings"

    def stub_path(self, exercise: Exercise) -> Path:
        return self.exercises_dir / exercise.filename

    def pristine_stub(self, exercise: Exercise) -> Path:
        """The untouched stub, kept with the grader: for "not started" and ``grade reset``."""
        return self.stubs_dir / exercise.filename

    def untouched(self, exercise: Exercise, data: bytes) -> bool:
        """Whether ``data`` is still the exercise's stub ("not started"): line endings and
        leading or trailing blank space do not count as a change. False when the pristine
        stub cannot be read (then nothing can be called untouched)."""
        try:
            stub = self.pristine_stub(exercise).read_bytes()
        except OSError:
            return False
        return _normalise(stub) == _normalise(data)

    def checks_path(self, exercise: Exercise) -> Path:
        return self.checks_dir / exercise.checks_filename

    def resolve(self, name: str) -> Exercise:
        """Find an exercise by id (``ex04``), number (``4``), slug or module name."""
        key = name.strip().lower().removesuffix(".py")
        number = re.fullmatch(r"(?:ex)?0*(\d+)", key)
        for exercise in self.exercises:
            if key in (exercise.id, exercise.slug, exercise.module):
                return exercise
            own = re.fullmatch(r"ex0*(\d+)", exercise.id)
            if number and own and int(number.group(1)) == int(own.group(1)):
                return exercise
        names = [e.id for e in self.exercises] + [e.slug for e in self.exercises]
        close = difflib.get_close_matches(key, names, n=1, cutoff=0.5)
        raise UnknownExercise(name, close[0] if close else None)

    def select(self, names: tuple[str, ...] | list[str]) -> tuple[Exercise, ...]:
        """The exercises named (in manifest order, without repeats), or all when none."""
        if not names:
            return self.exercises
        wanted = {self.resolve(n).id for n in names}
        return tuple(e for e in self.exercises if e.id in wanted)


def _parse_version(text: str, where: str) -> tuple[int, int]:
    try:
        major, minor = (int(part) for part in text.split(".")[:2])
    except ValueError as exc:
        raise KitError(f"{where}: min_python must look like '3.11', got {text!r}") from exc
    return major, minor


def parse_manifest(text: str, source: str = MANIFEST_NAME) -> tuple[Exercise, ...]:
    """Parse the manifest's TOML text into exercises, in their course order."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise KitError(f"{source} is not valid TOML: {exc}") from exc
    defaults = data.get("defaults", {})
    exercises: list[Exercise] = []
    for index, raw in enumerate(data.get("exercise", []), start=1):
        where = f"{source}, exercise #{index}"
        try:
            ex_id = str(raw["id"])
            slug = str(raw["slug"])
            title = str(raw["title"])
        except KeyError as exc:
            raise KitError(f"{where} has no {exc.args[0]!r}: add it") from exc
        hints = tuple(str(h) for h in raw.get("hints", ()))
        if not 2 <= len(hints) <= 4:
            raise KitError(f"{where} ({ex_id}) needs 2-4 hints, has {len(hints)}")
        exercises.append(
            Exercise(
                order=int(raw.get("order", index)),
                id=ex_id,
                slug=slug,
                title=title,
                points=float(raw.get("points", defaults.get("points", 10))),
                limit=float(raw.get("timeout", defaults.get("timeout", 10))),
                hints=hints,
                min_python=_parse_version(
                    str(raw.get("min_python", defaults.get("min_python", "3.11"))), where
                ),
                concepts=tuple(str(c) for c in raw.get("concepts", ())),
                allow_imports=tuple(str(m) for m in raw.get("allow_imports", ())),
            )
        )
    exercises.sort(key=lambda e: e.order)
    ids = [e.id for e in exercises]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise KitError(f"{source}: exercise ids used twice: {', '.join(sorted(duplicates))}")
    return tuple(exercises)


def find_kit_root(start: Path | None = None) -> Path:
    """Locate the kit: ``$AWAITLINGS_KIT``, else upward from ``start``/cwd, else the source tree."""
    env = os.environ.get(KIT_ENV)
    if env:
        root = Path(env).resolve()
        if not (root / "exercises" / MANIFEST_NAME).is_file():
            raise KitError(f"{KIT_ENV}={env} has no exercises/{MANIFEST_NAME}")
        return root
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "exercises" / MANIFEST_NAME).is_file():
            return candidate
    source_tree = Path(__file__).resolve().parent.parent
    if (source_tree / "exercises" / MANIFEST_NAME).is_file():
        return source_tree
    raise KitError(
        f"no awaitlings kit found from {here}: run `grade` inside the kit's folder "
        f"(the one with exercises/{MANIFEST_NAME}) or set {KIT_ENV}"
    )


def load_kit(root: Path | None = None) -> Kit:
    """Load the kit at ``root`` (found with :func:`find_kit_root` when omitted)."""
    root = root or find_kit_root()
    path = root / "exercises" / MANIFEST_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KitError(f"cannot read {path}: {exc.strerror}") from exc
    stubs = root / "grader" / "stubs"
    return Kit(
        root=root,
        exercises=parse_manifest(text, str(path)),
        stubs_dir=stubs if stubs.is_dir() else STUBS_DIR,
    )


def _normalise(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").strip()
