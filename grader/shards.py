"""Past one machine: ``grade batch DIR --shard K/N`` grades one share of a class, and
``grade batch merge OUT SHARD_DIR...`` joins the shares into one gradebook.

A student belongs to share ``1 + int(sha256(id)) mod N``: decided by the student's id
alone, so every machine computes the same shares whatever order its file system lists
DIR in, and adding a student (or an output folder, which is never a student) moves no one
else. Each share is graded on its own machine, by anything that can run N copies of one
command with K in them (a GitHub Actions matrix, a Slurm array job, a Kubernetes Indexed
Job: see ``course/``); there is no scheduler here.

A shard's output folder is an ordinary batch output (its students' files, its own
gradebook and reports, resumable the same way) plus ``shard.json``, written last: which
share it is, of which submissions (a digest of every student id listed), graded by which
kit, checks and Python. :func:`merge` refuses shards that disagree on any of these, or
that miss or repeat a share, and otherwise writes the class's gradebook.csv,
summary.json and summary.html from the students' saved results with the same function an
unsharded run uses: the same bytes as grading the class on one machine.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.errors import UsageError
from grader.files import write_atomic

if TYPE_CHECKING:
    from grader.batch import BatchReport, ReportContext

SHARD_FILE = "shard.json"
SHARD_FORMAT = "awaitlings-batch-shard"
VERSION = 1
#: What every shard of one class must agree on.
_SAME = ("count", "submissions", "all_students", "exercises", "kit_version", "python", "checks")


@dataclass(frozen=True)
class Shard:
    """Share ``index`` (1-based) of ``count``."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``K/N`` with 1 <= K <= N, as ``--shard`` takes it (ValueError saying what is wrong)."""
        left, slash, right = text.strip().partition("/")
        if not slash or not left.strip().isdigit() or not right.strip().isdigit():
            raise ValueError(f"{text!r} is not K/N: write the share and the number of shares, e.g. 2/8")
        index, count = int(left), int(right)
        if count < 1 or not 1 <= index <= count:
            raise ValueError(f"{text!r}: K must be between 1 and N (the shares are 1/{max(count, 1)} to N/N)")
        return cls(index, count)

    def holds(self, student: str) -> bool:
        """Whether ``student``'s submission is graded in this share."""
        return share_of(student, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def share_of(student: str, count: int) -> int:
    """The share (1 to ``count``) a student id belongs to."""
    digest = hashlib.sha256(student.encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def _digest(students: Sequence[str]) -> str:
    payload = json.dumps(sorted(students), ensure_ascii=False).encode("utf-8", "surrogateescape")
    return hashlib.sha256(payload).hexdigest()


def write_record(
    out: Path,
    shard: Shard,
    context: ReportContext,
    checks: str,
    everyone: Sequence[str],
    stems: Mapping[str, str],
) -> None:
    """``shard.json``: which share ``out`` holds (``stems``: student id -> file stem), of which class."""
    record = {
        "format": SHARD_FORMAT,
        "version": VERSION,
        "index": shard.index,
        "count": shard.count,
        "submissions": context.submissions,
        "all_students": _digest(everyone),
        "students_in_class": len(everyone),
        "exercises": list(context.exercises),
        "kit_version": context.kit_version,
        "python": context.python,
        "checks": checks,
        "students": dict(sorted(stems.items())),
    }
    write_atomic(out / SHARD_FILE, json.dumps(record, indent=2, ensure_ascii=False) + "\n")


def _read_record(folder: Path) -> dict[str, Any]:
    path = folder / SHARD_FILE
    if not path.is_file():
        raise UsageError(
            f"{folder} has no {SHARD_FILE}: it is not the output of `grade batch DIR --shard K/N`, or that "
            "run did not finish (run the same command again: it resumes)"
        )
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path} cannot be read ({exc}): run that shard again") from None
    if not isinstance(record, dict) or record.get("format") != SHARD_FORMAT or record.get("version") != VERSION:
        raise UsageError(f"{path} is not a shard record this version of awaitlings reads: run that shard again")
    return record


def _check_shares(records: Sequence[tuple[Path, dict[str, Any]]]) -> None:
    """Every share once, all of one class graded the same way."""
    first_folder, first = records[0]
    for folder, record in records[1:]:
        for field in _SAME:
            if record.get(field) != first.get(field):
                raise UsageError(
                    f"{folder} and {first_folder} differ in {field} ({record.get(field)!r} and "
                    f"{first.get(field)!r}): grade every shard of the same DIR with the same kit, checks, "
                    "exercises and Python, then merge"
                )
    count = int(first["count"])
    seen: dict[int, Path] = {}
    for folder, record in records:
        index = int(record["index"])
        if index in seen:
            raise UsageError(f"{folder} and {seen[index]} are both shard {index}/{count}: give each share once")
        seen[index] = folder
    missing = [str(k) for k in range(1, count + 1) if k not in seen]
    if missing:
        raise UsageError(f"shard(s) {', '.join(missing)} of {count} are missing: grade them, then merge all {count}")
    graded = sum(len(record["students"]) for _folder, record in records)
    if graded != first["students_in_class"]:
        raise UsageError(
            f"the shards hold {graded} students but DIR listed {first['students_in_class']}: "
            "re-run every shard on the same DIR"
        )


def merge(out: Path, folders: Sequence[Path], *, generated_at: str | None = None) -> BatchReport:
    """Join shard outputs into ``out``: students/, gradebook.csv, summary.json, summary.html."""
    from grader import batch  # batch imports this module: import it when merging

    if not folders:
        raise UsageError("give the shard folders to merge: grade batch merge OUT SHARD_DIR...")
    resolved = [folder.resolve() for folder in folders]
    out = out.resolve()
    if out in resolved:
        raise UsageError(f"{out} is one of the shards: merge into another folder")
    records = [(folder, _read_record(folder)) for folder in resolved]
    _check_shares(records)
    outcomes = []
    (out / batch.STUDENTS_DIR).mkdir(parents=True, exist_ok=True)
    write_atomic(out / batch.MARKER, "An output folder of `grade batch merge`: never graded as a submission.\n")
    for folder, record in records:
        for student, stem in record["students"].items():
            source = folder / batch.STUDENTS_DIR / f"{stem}.json"
            try:
                outcome, _key = batch.load_student(source)
            except ValueError as exc:
                raise UsageError(f"{exc}: run shard {record['index']}/{record['count']} again") from None
            if outcome.student != student:
                raise UsageError(f"{source} holds {outcome.student!r}, not {student!r}: run that shard again")
            shutil.copyfile(source, out / batch.STUDENTS_DIR / f"{stem}.json")
            outcomes.append(outcome)
    first = records[0][1]
    context = batch.ReportContext(first["submissions"], tuple(first["exercises"]), first["kit_version"],
                                  first["python"])  # fmt: skip
    stats = batch.write_reports(out, context, outcomes, generated_at)
    return batch.BatchReport(out=out, outcomes=sorted(outcomes, key=lambda o: o.student), stats=stats)
