"""Terminal output: a course table for ``grade``, per-check detail for ``grade ex04``.

Pure: results in, text out (rich renders into a string). Colour only when asked for
(the CLI asks when stdout is a terminal and ``NO_COLOR`` is unset); plain text otherwise.
"""

from __future__ import annotations

import io

from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from grader import explain
from grader.results import CheckResult, CheckStatus, ExerciseResult, ExerciseStatus, RunResult

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


def _points(score: float, max_score: float) -> str:
    return f"{score:g}/{max_score:g}"


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
        table.add_row(ex.id, f"{ex.slug}", Text(label, style=style), _points(ex.score, ex.max_score))
    console.print(table)
    done = sum(1 for e in run.exercises if e.status is ExerciseStatus.PASSED)
    console.print(
        f"\n[bold]Total {_points(run.score, run.max_score)}[/bold] · {done}/{len(run.exercises)} exercises done"
    )
    upcoming = next_exercise(run)
    if upcoming is not None:
        console.print(_next_step(upcoming))
    return _text(buffer)


def _next_step(ex: ExerciseResult) -> str:
    if ex.status is ExerciseStatus.NOT_STARTED:
        return f"Next: [bold]{ex.id} {escape(ex.title)}[/bold] · `grade show {ex.id}` for the task"
    failure = ex.first_failure
    what = f": {escape(failure.name)}" if failure else ""
    return f"Next: [bold]{ex.id}[/bold]{what} · `grade {ex.id}` for details, `grade hint {ex.id}` for a hint"


def render_detail(run: RunResult, *, color: bool = False, width: int = 80, show_passed: bool = True) -> str:
    """Each exercise with each check's verdict and, for failures, the teaching message."""
    console, buffer = _console(color, width)
    for index, ex in enumerate(run.exercises):
        if index:
            console.print()
        _exercise_detail(console, ex, show_passed)
    if len(run.exercises) > 1:
        console.print(f"\n[bold]Total {_points(run.score, run.max_score)}[/bold]")
    return _text(buffer)


def _exercise_detail(console: Console, ex: ExerciseResult, show_passed: bool) -> None:
    label, style = _EX_LOOK[ex.status]
    console.print(
        f"[bold]{ex.id} {escape(ex.title)}[/bold]  [{style}]{label}[/{style}]  {_points(ex.score, ex.max_score)}"
    )
    if ex.message and ex.status is not ExerciseStatus.PASSED:
        console.print(Text(ex.message), style="yellow" if ex.status is ExerciseStatus.NOT_STARTED else None)
        if ex.status is ExerciseStatus.NOT_STARTED:
            console.print(
                f"Read the task with `grade show {ex.id}`, edit exercises/{ex.id}_{ex.slug}.py, then `grade {ex.id}`."
            )
        if ex.status is not ExerciseStatus.ERROR:
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
        console.print(Padding(Text(message), (0, 0, 0, 4), expand=False))
    for key in keys:
        if key in seen:
            console.print(Padding(Text(f"why: {explain.TITLES[key]}, explained above", style="dim"), (0, 0, 0, 4)))
            continue
        seen.add(key)
        text, link = explain.TEXTS[key]
        why = Text()
        why.append("why: ", style="bold")
        why.append(text)
        console.print(Padding(why, (0, 0, 0, 4), expand=False))
        # A link is never cut or folded: the terminal wraps it, and it still opens.
        console.print(Text("    ").append(link, style=f"blue link {link}"), soft_wrap=True)
    if check.hint is not None and exercise_id:
        console.print(Padding(Text(f"see `grade hint {exercise_id}` (hint {check.hint})"), (0, 0, 0, 4)))


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
    mark, style = _CHECK_LOOK[check.status]
    line = Text("  ")
    line.append(mark, style=style)
    line.append(f" {check.name}")
    line.append(f"  {_points(check.score, check.max_score)}", style="dim")
    console.print(line)
    if not check.passed and check.message != repeat_of:
        print_failure(console, check, exercise_id, set() if seen is None else seen)
    if not check.passed and check.output.strip():
        shown = check.output.strip()
        shown = shown if len(shown) <= 300 else shown[:300] + f"… ({len(shown)} characters)"
        console.print(Padding(Text("output: " + shown, style="dim"), (0, 0, 0, 4), expand=False))
