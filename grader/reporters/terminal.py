"""Terminal output: a course table for ``grade``, per-check detail for ``grade ex04``.

Pure: results in, text out (rich renders into a string). Colour only when asked for
(the CLI asks when stdout is a terminal and ``NO_COLOR`` is unset); plain text otherwise.

Points read as a person writes them: at most one decimal (a check worth 10/11 of 2
points shows as 1.8, the JSON keeps 1.8182), and a total is the sum of the numbers its
rows show. Text wraps at spaces only: a word never breaks, and one longer than the line
(a link) sits on its own line and runs past the edge, for the terminal to wrap and to
open whole.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader import explain
from grader.results import CheckResult, CheckStatus, ExerciseResult, ExerciseStatus, RunResult

if TYPE_CHECKING:
    from grader.progress import Progress

_EX_LOOK: dict[ExerciseStatus, tuple[str, str]] = {
    ExerciseStatus.PASSED: ("✔ done", "green"),
    ExerciseStatus.FAILED: ("✘ failing", "red"),
    ExerciseStatus.ERROR: ("! error", "red bold"),
    ExerciseStatus.NOT_STARTED: ("· not started", "dim"),
    ExerciseStatus.UNSUPPORTED: ("- needs newer Python", "yellow"),
}
_CHECK_LOOK: dict[CheckStatus, tuple[str, str]] = {
    CheckStatus.PASSED: ("✔", "green"),
    CheckStatus.FAILED: ("✘", "red"),
    CheckStatus.ERROR: ("!", "red bold"),
    CheckStatus.TIMEOUT: ("⏱", "red"),
}


def _console(color: bool, width: int) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        width=width,
        highlight=False,
        emoji=False,
    )
    return console, buffer


def _text(buffer: io.StringIO) -> str:
    """What was printed, without the padding rich leaves at the end of lines."""
    return "\n".join(line.rstrip(" ") for line in buffer.getvalue().split("\n"))


def points(value: float) -> str:
    """A number of points as shown: at most one decimal, none when it is whole
    (8.1818 -> "8.2", 10.0 -> "10")."""
    text = f"{value:.1f}"
    return "0" if text in ("0.0", "-0.0") else text.removesuffix(".0")


def fraction(score: float | None, max_score: float) -> str:
    """``score/max`` as shown; ``-`` for a score there is none of (not started)."""
    return f"{'-' if score is None else points(score)}/{points(max_score)}"


def shown_score(ex: ExerciseResult) -> float | None:
    """The score a row shows, to one decimal: none for an exercise not started or that
    this Python cannot run (``grade list`` shows those the same way)."""
    if ex.status in (ExerciseStatus.NOT_STARTED, ExerciseStatus.UNSUPPORTED):
        return None
    return round(ex.score, 1)


def total(scores: Iterable[float | None]) -> float:
    """The sum of the scores rows show (each to one decimal), so a total always agrees
    with the rows above it."""
    return round(sum(round(s, 1) for s in scores if s is not None), 1)


def print_wrapped(console: Console, text: Text, indent: int = 0, hanging: int | None = None) -> None:
    """Print ``text`` wrapped at spaces, ``indent`` columns in (``hanging`` for the lines
    after the first). A word never breaks: one longer than the line (a link) gets a line
    of its own and runs past the edge, whole."""
    rest = indent if hanging is None else hanging
    width = max(console.width - max(indent, rest), 20)
    number = 0
    for paragraph in text.split("\n", allow_blank=True):
        for line in paragraph.divide(_breaks(paragraph.plain, width)):
            line.rstrip()
            console.print(Text(" " * (indent if number == 0 else rest)).append_text(line), soft_wrap=True)
            number += 1


def _breaks(plain: str, width: int) -> list[int]:
    """Where to break ``plain`` so its lines fit ``width``: only before a word, and never
    inside one (rich's own wrapping folds a word longer than the line)."""
    breaks: list[int] = []
    column = cell_len(plain) - cell_len(plain.lstrip(" "))
    for word in re.finditer(r"\S+\s*", plain):
        size = cell_len(word.group().rstrip())
        if column and column + size > width and word.start() > 0 and plain[: word.start()].strip():
            breaks.append(word.start())
            column = 0
        column += cell_len(word.group())
    return breaks


def next_exercise(run: RunResult) -> ExerciseResult | None:
    """The first exercise, in course order, that is not done yet."""
    return next(
        (e for e in run.exercises if e.status not in (ExerciseStatus.PASSED, ExerciseStatus.UNSUPPORTED)),
        None,
    )


def render_summary(run: RunResult, *, color: bool = False, width: int = 80) -> str:
    """The course table: one row per exercise, the total, and what to do next."""
    console, buffer = _console(color, width)
    table = Table(title=f"awaitlings · {run.target}", title_justify="left", expand=False, box=None, pad_edge=False)
    table.add_column("", style="bold")
    table.add_column("exercise")
    table.add_column("status")
    table.add_column("points", justify="right")
    for ex in run.exercises:
        label, style = _EX_LOOK[ex.status]
        table.add_row(ex.id, f"{ex.slug}", Text(label, style=style), fraction(shown_score(ex), ex.max_score))
    console.print(table)
    done = sum(1 for e in run.exercises if e.status is ExerciseStatus.PASSED)
    console.print()
    console.print(_total_line(run), Text(f"· {done}/{len(run.exercises)} exercises done"))
    upcoming = next_exercise(run)
    if upcoming is not None:
        _next_step(console, upcoming)
    return _text(buffer)


def _total_line(run: RunResult) -> Text:
    earned = total(shown_score(e) for e in run.exercises)
    return Text(f"Total {fraction(earned, run.max_score)}", style="bold")


def _next_step(console: Console, ex: ExerciseResult) -> None:
    line = Text("Next: ")
    if ex.status is ExerciseStatus.NOT_STARTED:
        line.append(f"{ex.id} {ex.title}", style="bold")
        print_wrapped(console, line, hanging=2)
        print_wrapped(console, Text(f"`grade show {ex.id}` for the task"), indent=2)
        return
    failure = ex.first_failure
    line.append(ex.id, style="bold")
    line.append(f": {failure.name}" if failure else f" {ex.title}")
    print_wrapped(console, line, hanging=2)
    print_wrapped(console, Text(f"`grade {ex.id}` for details, `grade hint {ex.id}` for a hint"), indent=2)


def next_line(row: Progress) -> Text:
    """The line naming the exercise ``grade list`` marks as next, and how to start on it."""
    from grader.progress import Standing

    ex = row.exercise
    line = Text("Next: ")
    line.append(f"{ex.id} {ex.title}", style="bold")
    if row.standing in (Standing.NOT_STARTED, Standing.MISSING):
        line.append(f": `grade show {ex.id}` for the task")
    else:
        line.append(f": `grade {ex.id}` to check it")
    return line


def render_detail(
    run: RunResult,
    *,
    color: bool = False,
    width: int = 80,
    show_passed: bool = True,
    upcoming: Progress | None = None,
    course_done: bool = False,
) -> str:
    """Each exercise with each check's verdict and, for failures, the teaching message.
    When every exercise graded has full marks, ``upcoming`` (the learner's next exercise,
    as ``grade list`` has it) is named, or ``course_done`` says nothing is left."""
    console, buffer = _console(color, width)
    for index, ex in enumerate(run.exercises):
        if index:
            console.print()
        _exercise_detail(console, ex, show_passed)
    if len(run.exercises) > 1:
        console.print()
        console.print(_total_line(run))
    if run.exercises and all(e.status is ExerciseStatus.PASSED for e in run.exercises):
        if upcoming is not None:
            console.print()
            print_wrapped(console, next_line(upcoming), hanging=2)
        elif course_done:
            console.print()
            console.print(Text("Every exercise is done. Well done!", style="green"))
    return _text(buffer)


def _exercise_detail(console: Console, ex: ExerciseResult, show_passed: bool) -> None:
    label, style = _EX_LOOK[ex.status]
    head = Text()
    head.append(f"{ex.id} {ex.title}", style="bold")
    head.append("  ")
    head.append(label, style=style)
    head.append(f"  {fraction(shown_score(ex), ex.max_score)}")
    print_wrapped(console, head, hanging=2)
    if ex.message and ex.status is not ExerciseStatus.PASSED:
        print_wrapped(console, Text(ex.message, style="yellow" if ex.status is ExerciseStatus.NOT_STARTED else ""))
        if ex.status is ExerciseStatus.NOT_STARTED:
            print_wrapped(console, Text(
                f"Read the task with `grade show {ex.id}`, edit exercises/{ex.id}_{ex.slug}.py, then `grade {ex.id}`."
            ))  # fmt: skip
        if ex.status in (ExerciseStatus.NOT_STARTED, ExerciseStatus.UNSUPPORTED):
            return
    seen: set[str] = set()  # explanations already shown for this exercise
    for check in ex.checks:
        _check_line(console, check, show_passed, repeat_of=ex.message, exercise_id=ex.id, seen=seen)
    if ex.status is ExerciseStatus.FAILED:
        console.print(f"[dim]Stuck? `grade hint {ex.id}` shows the next hint.[/dim]")


def print_failure(console: Console, check: CheckResult, exercise_id: str, seen: set[str]) -> None:
    """A failed check's teaching message, indented: the message, then each asyncio
    explanation it carries in its own short paragraph with its docs link (only a
    reminder if ``seen`` says this exercise already showed it; ``seen`` is updated), then
    the hint it points to."""
    message, keys = explain.split(check.message or "")
    if message:
        print_wrapped(console, Text(message), 4)
    for key in keys:
        if key in seen:
            print_wrapped(console, Text(f"why: {explain.TITLES[key]}, explained above", style="dim"), 4)
            continue
        seen.add(key)
        text, link = explain.TEXTS[key]
        why = Text()
        why.append("why: ", style="bold")
        why.append(text)
        print_wrapped(console, why, 4)
        # A link is never cut or folded: the terminal wraps it, and it still opens.
        console.print(Text("    ").append(link, style=f"blue link {link}"), soft_wrap=True)
    if check.hint is not None and exercise_id:
        print_wrapped(console, Text(f"see `grade hint {exercise_id}` (hint {check.hint})"), 4)


def _check_line(
    console: Console,
    check: CheckResult,
    show_passed: bool,
    repeat_of: str | None = None,
    exercise_id: str = "",
    seen: set[str] | None = None,
) -> None:
    if check.passed and not show_passed:
        return
    print_wrapped(console, check_line(check), 2, hanging=4)
    if not check.passed and check.message != repeat_of:
        print_failure(console, check, exercise_id, set() if seen is None else seen)
    if not check.passed and check.output.strip():
        shown = check.output.strip()
        shown = shown if len(shown) <= 300 else shown[:300] + f"… ({len(shown)} characters)"
        print_wrapped(console, Text("output: " + shown, style="dim"), 4)


def check_line(check: CheckResult, *, with_points: bool = True) -> Text:
    """The verdict mark, the check's name and its points (print it with a hanging indent
    of two, so a long name goes on under itself)."""
    mark, style = _CHECK_LOOK[check.status]
    line = Text()
    line.append(mark, style=style)
    line.append(f" {check.name}")
    if with_points:
        line.append(f"  {fraction(check.score, check.max_score)}", style="dim")
    return line
