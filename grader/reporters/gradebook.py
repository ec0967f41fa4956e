"""The batch gradebook as CSV: one row per student, a column per exercise, the total.

Columns: ``student``, one per exercise id (its points), ``total``, ``max_total``,
``kit_version`` and ``python`` (what graded the row), ``status`` (``graded``, or
``incomplete`` when the grader itself failed on the submission: re-run the batch) and
``notes`` (what the grader found odd in the submission: missing files, ignored entries).
Rows are sorted by student id; nothing time-dependent is written, so grading the same
submissions twice gives the same file byte for byte.

Student ids and notes come from untrusted names: a cell a spreadsheet would read as a
formula (``=``, ``+``, ``-``, ``@``, tab, CR) is prefixed with ``'``. Pure: rows in, text out.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from grader.results import RunResult

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Row:
    """One student's line: their run, and what the grader noticed about the submission."""

    student: str
    run: RunResult
    notes: tuple[str, ...] = ()
    complete: bool = True


def safe_cell(text: str) -> str:
    """``text`` as a cell no spreadsheet will evaluate."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def render(rows: Sequence[Row], exercise_ids: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", *exercise_ids, "total", "max_total", "kit_version", "python", "status", "notes"])
    for row in sorted(rows, key=lambda r: r.student):
        scores = {ex.id: ex.score for ex in row.run.exercises}
        writer.writerow(
            [
                safe_cell(row.student),
                *(_points(scores[i]) if i in scores else "" for i in exercise_ids),
                _points(row.run.score),
                _points(row.run.max_score),
                row.run.kit_version,
                row.run.python,
                "graded" if row.complete else "incomplete",
                safe_cell("; ".join(row.notes)),
            ]
        )
    return buffer.getvalue()


def _points(value: float) -> str:
    return f"{value:g}"
