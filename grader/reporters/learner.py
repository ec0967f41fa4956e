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

from grader import syntax
from grader.checklist import DeclaredCheck, shares
from grader.manifest import Exercise
from grader.progress import Progress, Standing, next_up
from grader.reporters.terminal import check_line, fraction, next_line, points, print_failure, print_wrapped, total
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
    upcoming = next_up(rows)
    for row in rows:
        label, style = _LOOK[row.standing]
        status = Text(label, style=style)
        if row.changed:
            status.append(f" {CHANGED}", style="yellow bold")
        marker = "→" if upcoming is not None and row.exercise.id == upcoming.exercise.id else ""
        table.add_row(marker, row.exercise.id, row.exercise.title, status, fraction(row.score, row.exercise.points))
    console.print(table)
    # The totals count every row as it reads, "*" or not: the points and the "done" of a
    # file changed since are those of its last grade, like the row says.
    done = sum(1 for row in rows if row.standing is Standing.DONE)
    earned = total(row.score for row in rows)
    available = sum(row.exercise.points for row in rows)
    console.print(f"\n{done}/{len(rows)} exercises done · {fraction(earned, available)} points (from your last grades)")
    if any(row.changed for row in rows):
        console.print(f"[yellow bold]{CHANGED}[/] changed since last grade: `grade list --refresh` re-grades")
    if upcoming is not None:
        print_wrapped(console, next_line(upcoming), hanging=2)
    elif rows:
        console.print("[green]Every exercise is done. Well done![/green]")
    return _text(buffer)


# --- grade show and hints -------------------------------------------------------------


def task_statement(source: str) -> str:
    """The task, as the stub's docstring states it ('' when there is none)."""
    try:
        return (ast.get_docstring(syntax.parse(source)) or "").strip()
    except (SyntaxError, ValueError):
        return ""


def task_summary(source: str) -> str:
    """The first line of the task statement (reST ````code```` as `code`)."""
    statement = task_statement(source)
    return statement.splitlines()[0].strip().replace("``", "`") if statement else ""


def render_task(
    exercise: Exercise,
    statement: str,
    checks: Sequence[DeclaredCheck] = (),
    *,
    color: bool = False,
    width: int = 80,
) -> str:
    """The task statement as a page: the docstring's sections, lists and code rendered,
    paragraphs re-flowed to ``width``; without colour, code keeps its backquotes. A link
    is never broken: one that does not fit gets a line of its own (and runs past the
    edge if it must, for the terminal to wrap and to open whole). Then how it is graded:
    the visible ``checks``, each with its points, and how many are hidden."""
    console, buffer = _console(color, width)
    console.print(Text(f"{exercise.id} · {exercise.title}", style="bold"), Text(f"({exercise.points:g} points)"))
    console.print(f"edit: exercises/{exercise.filename}")
    if exercise.concepts:  # what the exercise teaches, as the manifest names it
        console.print(Text(f"concepts: {', '.join(exercise.concepts)}", style="dim"))
    console.print()
    page = statement + (_how_graded(checks, exercise.points) if checks else "")
    text, links = _stand_in_for_links(page if color else _literal_code(page), width)
    console.print(Markdown(text, hyperlinks=color))
    console.print(f"\nCheck it with `grade {exercise.id}`; stuck? `grade hint {exercise.id}`.")
    return _put_links_back(_text(buffer), links, width).rstrip("\n") + "\n"


def _how_graded(checks: Sequence[DeclaredCheck], exercise_points: float) -> str:
    """The "How it is graded" section, in the statement's own markup: each visible check's
    name with its points, in file order, then how many hidden checks there are."""
    shown = shares(checks, exercise_points)
    visible: list[str] = []
    hidden, hidden_points = 0, 0.0
    for index, check in enumerate(checks):
        worth = shown[index] if shown is not None else None
        if check.hidden:
            hidden += 1 if check.cases is None else check.cases
            hidden_points += worth or 0.0
            continue
        about = [f"{check.cases} cases"] if check.cases != 1 else []
        about += [_points(worth)] if worth is not None else []
        visible.append(f"- {check.name}" + (f" ({', '.join(about)})" if about else ""))
    if hidden:
        worth_hidden = f" ({_points(hidden_points)})" if shown is not None else ""
        visible.append(f"- and {hidden} hidden check{'s' if hidden > 1 else ''}{worth_hidden}")
    return "\n\nHow it is graded\n----------------\n\n" + "\n".join(visible)


def _points(value: float) -> str:
    text = points(value)
    return f"{text} point{'' if text == '1' else 's'}"


#: A code span (````code```` or `code`), which may go on over one line break but not
#: over a blank line (a new paragraph).
_CODE = re.compile(r"(``?)((?:(?!\1)(?!\n[ \t]*\n).)+?)\1", re.DOTALL)
_URL = re.compile(r"https?://[^\s<>`]*[^\s<>`.,;:!?'\")\]]")
#: Stands in for link number NNN while Markdown lays out the page: one word, letters
#: and digits only, about as long as the link.
_STAND_IN = re.compile(r"QQU(\d{3})Q*")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _literal_code(statement: str) -> str:
    """Without colour a code span would look like prose: keep it between backquotes
    (escaped, so Markdown shows them, with any markup characters inside escaped too).
    A span broken over two lines of the docstring is joined into one."""

    def keep(match: re.Match[str]) -> str:
        code = re.sub(r"[ \t]*\n[ \t]*", " ", match.group(2))
        code = re.sub(r"([\\*_\[\]<>#|~])", r"\\\1", code)
        return f"\\`{code}\\`"

    return _CODE.sub(keep, statement)


def _stand_in_for_links(text: str, width: int) -> tuple[str, list[str]]:
    """``text`` with each link replaced by a stand-in word (Markdown and rich would fold
    a long link like any word), and the links in order."""
    links: list[str] = []

    def stand_in(match: re.Match[str]) -> str:
        links.append(match.group(0))
        word = f"QQU{len(links) - 1:03d}"
        return word.ljust(max(len(word) + 1, min(len(match.group(0)), width - 8)), "Q")

    return _URL.sub(stand_in, text), links


def _put_links_back(page: str, links: list[str], width: int) -> str:
    """Each stand-in replaced by its link; a line that no longer fits is broken around its
    links, each on a line of its own at the line's indentation (the words after the last
    one go on at the start of the next line when they fit there)."""

    def link(match: re.Match[str]) -> str:
        number = int(match.group(1))
        return links[number] if number < len(links) else match.group(0)

    def visible(line: str) -> str:
        return _ANSI.sub("", line).rstrip()

    def indent_of(line: str) -> int:
        plain = visible(line)
        return len(plain) - len(plain.lstrip(" "))

    out: list[str] = []
    carry = ""  # words after a link, moved to the start of the next line
    for raw in page.split("\n"):
        line = _STAND_IN.sub(link, raw)
        if carry:
            if (
                visible(line)
                and indent_of(line) == indent_of(carry)
                and len(visible(carry)) + 1 + len(visible(line).lstrip(" ")) <= width
            ):
                line = carry + " " + line.lstrip(" ")
            else:
                out.append(carry)
            carry = ""
        if len(visible(line)) <= width or not _URL.search(line):
            out.append(line)
            continue
        lead = re.match(r"\s*(?:• )?", visible(line))
        indent = " " * (lead.end() if lead else 0)
        pieces = re.split(r"(\S*https?://\S*)", line)
        current = pieces[0]
        for index in range(1, len(pieces), 2):
            if visible(current).strip(" •"):
                out.append(current.rstrip())
                current = indent
            out.append(current + pieces[index])
            current = indent + pieces[index + 1].lstrip(" ")
        if visible(current).strip():
            carry = current.rstrip()
    if carry:
        out.append(carry)
    return "\n".join(out)


def render_hint(
    exercise: Exercise,
    index: int,
    *,
    shown: Sequence[int] = (),
    show_all: bool = False,
    because: str | None = None,
    color: bool = False,
    width: int = 80,
) -> str:
    """Hint ``index`` (0-based) of ``exercise`` and how to get the next one. ``shown`` are
    the numbers (1-based) of every hint shown so far (``show_all``: print them all, in
    order); ``because`` names the failing check the hint was chosen for."""
    console, buffer = _console(color, width)
    count = len(exercise.hints)
    seen = {n for n in shown if 1 <= n <= count} | {index + 1}
    for number in sorted(seen) if show_all else [index + 1]:
        line = Text()
        line.append(f"Hint {number}/{count} for {exercise.id}", style="bold")
        if because and number == index + 1:
            line.append(f" (for the failing check: {because})")
        line.append(": ", style="bold")
        line.append(exercise.hints[number - 1])
        print_wrapped(console, line, hanging=2)
    if len(seen) < count:
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
        head.append(f"  {fraction(row.score, ex.points)}")
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
    head.append(f": {word}, {fraction(result.score, result.max_score)}")
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
        print_wrapped(console, check_line(first, with_points=False), 2, hanging=4)
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
    console.print(Text(f"✔ {result.id} {result.title}: done, {fraction(result.score, result.max_score)}. Well done!",
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
