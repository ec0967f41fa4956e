"""Text for the learner's loop: the course map (``grade list``), the task statement
(``grade show``), hints, and ``grade watch``'s screens (where you stand, a compact
result, the congratulation and what comes next).

Pure: data in, text out, rendered by rich for a terminal ``width`` columns wide (80 by
default). Colour only when asked for; plain text otherwise.
"""

from __future__ import annotations

import ast
import io
import re
from collections.abc import Sequence

from rich.console import Console
from rich.markdown import Markdown
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from grader.manifest import Exercise
from grader.progress import Progress, Standing
from grader.reporters.terminal import print_failure
from grader.results import ExerciseResult, ExerciseStatus

_LOOK: dict[Standing, tuple[str, str]] = {
    Standing.DONE: ("✔ done", "green"),
    Standing.FAILING: ("✘ failing", "red"),
    Standing.ERROR: ("! error", "red bold"),
    Standing.NOT_STARTED: ("· not started", "dim"),
    Standing.NOT_GRADED: ("… not graded", "yellow"),
    Standing.MISSING: ("? missing", "red"),
    Standing.UNSUPPORTED: ("- needs newer Python", "yellow"),
}
_RESULT_LOOK: dict[ExerciseStatus, tuple[str, str, str]] = {
    ExerciseStatus.PASSED: ("✔", "done", "green"),
    ExerciseStatus.FAILED: ("✘", "failing", "red"),
    ExerciseStatus.ERROR: ("!", "could not be graded", "red bold"),
    ExerciseStatus.NOT_STARTED: ("·", "not started", "dim"),
    ExerciseStatus.UNSUPPORTED: ("-", "needs a newer Python", "yellow"),
}
CHANGED = "*"


def _console(color: bool, width: int) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    console = Console(
        file=buffer, force_terminal=color, no_color=not color, color_system="standard" if color else None,
        width=width, highlight=False, emoji=False,
    )  # fmt: skip
    return console, buffer


def _text(buffer: io.StringIO) -> str:
    return "\n".join(line.rstrip(" ") for line in buffer.getvalue().split("\n"))


def _points(score: float | None, max_score: float) -> str:
    return f"{'-' if score is None else f'{score:g}'}/{max_score:g}"


# --- grade list -----------------------------------------------------------------------


def render_course_map(rows: Sequence[Progress], *, color: bool = False, width: int = 80) -> str:
    """Every exercise with its status and points, the total, and the next one to do."""
    console, buffer = _console(color, width)
    table = Table(box=None, pad_edge=False, show_header=False, expand=False)
    table.add_column("", width=1, no_wrap=True)
    table.add_column("id", style="bold", no_wrap=True)
    table.add_column("title", overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("points", justify="right", no_wrap=True)
    upcoming = next((row for row in rows if row.to_do), None)
    for row in rows:
        label, style = _LOOK[row.standing]
        status = Text(label, style=style)
        if row.changed:
            status.append(f" {CHANGED}", style="yellow bold")
        marker = "→" if upcoming is not None and row.exercise.id == upcoming.exercise.id else ""
        table.add_row(marker, row.exercise.id, row.exercise.title, status, _points(row.score, row.exercise.points))
    console.print(table)
    done = sum(1 for row in rows if row.done)
    earned = sum(row.score or 0 for row in rows if not row.changed and row.standing is not Standing.NOT_STARTED)
    total = sum(row.exercise.points for row in rows)
    console.print(f"\n{done}/{len(rows)} exercises done · {earned:g}/{total:g} points (from your last grades)")
    if any(row.changed for row in rows):
        console.print(f"[yellow bold]{CHANGED}[/] changed since last grade: `grade list --refresh` re-grades")
    if upcoming is not None:
        console.print(_next_line(upcoming))
    elif rows:
        console.print("[green]Every exercise is done. Well done![/green]")
    return _text(buffer)


def _next_line(row: Progress) -> Text:
    ex = row.exercise
    line = Text("Next: ")
    line.append(f"{ex.id} {ex.title}", style="bold")
    if row.standing in (Standing.NOT_STARTED, Standing.MISSING):
        line.append(f": `grade show {ex.id}` for the task")
    else:
        line.append(f": `grade {ex.id}` to check it")
    return line


# --- grade show and hints -------------------------------------------------------------


def task_statement(source: str) -> str:
    """The task, as the stub's docstring states it ('' when there is none)."""
    try:
        return (ast.get_docstring(ast.parse(source)) or "").strip()
    except (SyntaxError, ValueError):
        return ""


def task_summary(source: str) -> str:
    """The first line of the task statement (reST ````code```` as `code`)."""
    statement = task_statement(source)
    return statement.splitlines()[0].strip().replace("``", "`") if statement else ""


def render_task(exercise: Exercise, statement: str, *, color: bool = False, width: int = 80) -> str:
    """The task statement as a page: the docstring's sections, lists and code rendered,
    paragraphs re-flowed to ``width``; without colour, code keeps its backquotes."""
    console, buffer = _console(color, width)
    console.print(Text(f"{exercise.id} · {exercise.title}", style="bold"), Text(f"({exercise.points:g} points)"))
    console.print(f"edit: exercises/{exercise.filename}\n")
    console.print(Markdown(statement if color else _literal_code(statement), hyperlinks=color))
    console.print(f"\nCheck it with `grade {exercise.id}`; stuck? `grade hint {exercise.id}`.")
    return _text(buffer).rstrip("\n") + "\n"


def _literal_code(statement: str) -> str:
    """Without colour a code span would look like prose: keep it between backquotes
    (escaped, so Markdown shows them, with any markup characters inside escaped too)."""

    def keep(match: re.Match[str]) -> str:
        code = re.sub(r"([\\*_\[\]<>#|~])", r"\\\1", match.group(2))
        return f"\\`{code}\\`"

    return re.sub(r"(``?)(.+?)\1", keep, statement)


def render_hint(exercise: Exercise, index: int, *, first: int | None = None, color: bool = False,
                width: int = 80) -> str:  # fmt: skip
    """Hint ``index`` (0-based) of ``exercise`` (from hint ``first`` on, if given), and
    how to get the next one."""
    console, buffer = _console(color, width)
    total = len(exercise.hints)
    for i in range(index if first is None else max(0, min(first, index)), index + 1):
        line = Text()
        line.append(f"Hint {i + 1}/{total} for {exercise.id}: ", style="bold")
        line.append(exercise.hints[i])
        console.print(line)
    if index + 1 < total:
        console.print(Text(f"(`grade hint {exercise.id}` again for the next one)", style="dim"))
    return _text(buffer)


# --- grade watch ----------------------------------------------------------------------


def render_standing(row: Progress, summary: str = "", *, color: bool = False, width: int = 80) -> str:
    """Where one exercise stands (from saved progress) and what to do with it."""
    console, buffer = _console(color, width)
    ex = row.exercise
    label, style = _LOOK[row.standing]
    head = Text()
    head.append(f"{ex.id} {ex.title}  ", style="bold")
    head.append(label, style=style)
    if row.score is not None and row.standing is not Standing.NOT_STARTED:
        head.append(f"  {_points(row.score, ex.points)}")
    console.print(head)
    if row.changed:
        console.print(Text("  changed since last grade: it is graded again on the next save", style="yellow"))
    elif row.graded_at and row.standing in (Standing.FAILING, Standing.ERROR):
        console.print(Text(f"  last graded {row.graded_at.replace('T', ' ')}", style="dim"))
    if row.first_failure and row.standing is Standing.FAILING:
        console.print(Padding(Text(f"first failing check: {row.first_failure}"), (0, 0, 0, 2)))
    if summary:
        console.print(Padding(Text(f"task: {summary}"), (0, 0, 0, 2)))
    console.print(Padding(Text(f"edit exercises/{ex.filename} and save; the task: `grade show {ex.id}`"),
                          (0, 0, 0, 2)))  # fmt: skip
    return _text(buffer)


def render_watch_result(result: ExerciseResult, *, color: bool = False, width: int = 80) -> str:
    """A compact result: the verdict, and only the first failing check with its lesson."""
    console, buffer = _console(color, width)
    mark, word, style = _RESULT_LOOK[result.status]
    head = Text()
    head.append(f"{mark} ", style=style)
    head.append(f"{result.id} {result.title}", style="bold")
    head.append(f": {word}, {_points(result.score, result.max_score)}")
    passed = sum(1 for c in result.checks if c.passed)
    if result.checks and result.status in (ExerciseStatus.FAILED, ExerciseStatus.PASSED):
        head.append(f" ({passed} of {len(result.checks)} checks pass)", style="dim")
    console.print(head)
    if result.status is ExerciseStatus.NOT_STARTED:
        console.print(Padding(Text("the file is still the stub: write your solution and save"), (0, 0, 0, 2)))
    elif result.message and result.status is not ExerciseStatus.PASSED:
        console.print(Padding(Text(result.message), (0, 0, 0, 4)))
    failing = [c for c in result.checks if not c.passed]
    if result.status is ExerciseStatus.FAILED and failing:
        first = failing[0]
        line = Text("  ")
        line.append("✘", style="red")
        line.append(f" {first.name}")
        console.print(line)
        print_failure(console, first, result.id, set())
        if len(failing) > 1:
            more = len(failing) - 1
            console.print(Text(f"  + {more} more failing check{'s' if more > 1 else ''}: "
                               f"`grade {result.id}` shows every check", style="dim"))  # fmt: skip
    return _text(buffer)


def render_congratulations(
    result: ExerciseResult,
    upcoming: Progress | None,
    summary: str = "",
    *,
    done: int = 0,
    total: int = 0,
    color: bool = False,
    width: int = 80,
) -> str:
    """An exercise just passed: say so, then show the next one to do."""
    console, buffer = _console(color, width)
    console.print(Text(f"✔ {result.id} {result.title}: done, {_points(result.score, result.max_score)}. Well done!",
                       style="green bold"))  # fmt: skip
    if total:
        console.print(Text(f"  {done} of {total} exercises done", style="dim"))
    console.print()
    if upcoming is None:
        console.print(Text("That was the last one: every exercise is done. Congratulations!", style="bold"))
        return _text(buffer)
    ex = upcoming.exercise
    label, style = _LOOK[upcoming.standing]
    line = Text("Next: ")
    line.append(f"{ex.id} {ex.title}", style="bold")
    line.append("  ")
    line.append(label, style=style)
    console.print(line)
    if summary:
        console.print(Padding(Text(f"task: {summary}"), (0, 0, 0, 2)))
    console.print(Padding(Text(f"edit exercises/{ex.filename} and save; the task: `grade show {ex.id}`"),
                          (0, 0, 0, 2)))  # fmt: skip
    return _text(buffer)
