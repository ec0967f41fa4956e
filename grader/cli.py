"""The ``grade`` command line: parse, call the grader library, render, map to exit codes.

Exit codes: 0 every graded exercise at full marks; 1 some check failed; 2 usage error;
3 the grader itself could not run (the message says what to fix).
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import click

from grader.errors import GraderError, UnknownExercise
from grader.manifest import Exercise, Kit, load_kit
from grader.reporters.gradescope import DEFAULT_BUDGET_S, HIDDEN_VISIBILITIES

FORMATS = ("text", "json", "gradescope", "junit", "classroom")
EXIT_USAGE = 2
EXIT_GRADER = 3


class ExerciseId(click.ParamType):  # type: ignore[type-arg]  # generic only in Click 8.2+
    """An exercise id as ``ex04``, ``4`` or ``echo_server``; suggests the closest on a typo."""

    name = "EXERCISE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Exercise:
        if isinstance(value, Exercise):
            return value
        try:
            return _kit().resolve(str(value))
        except UnknownExercise as exc:
            self.fail(str(exc), param, ctx)


class _GradingContext(click.Context):
    """The hidden ``run`` command's context: it answers to ``grade`` (``grade ex04``, not
    ``grade run ex04``), so a usage error names the command the learner typed."""

    @property
    def command_path(self) -> str:
        return self.parent.command_path if self.parent is not None else "grade"


class _GradingCommand(click.Command):
    context_class = _GradingContext


class GradeGroup(click.Group):
    """``grade ex04`` and ``grade --target x`` run the grader; other words are commands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # A command is always the first word (the group itself has no options but help and
        # version), so `grade --target list` grades the folder `list`, not `grade list`.
        first = args[0] if args else None
        if first in self.commands:
            return super().parse_args(ctx, args)
        if args in (["--help"], ["-h"], ["--version"]):
            return super().parse_args(ctx, args)
        args = ["run", *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "[EXERCISES]... [OPTIONS]")
        formatter.write_usage(ctx.command_path, "COMMAND [ARGS]...", prefix="   or: ")

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # The grading options belong to the hidden `run` command, which `grade` is.
        grading = self.commands["run"]
        rows = [row for param in grading.get_params(ctx) if (row := param.get_help_record(ctx)) and row[1]]
        with formatter.section("Grading options"):
            formatter.write_dl([row for row in rows if not row[0].startswith("-h")])
        super().format_options(ctx, formatter)


_KIT: Kit | None = None


def _kit() -> Kit:
    global _KIT
    if _KIT is None:
        _KIT = load_kit()
    return _KIT


def _color(output_is_file: bool = False) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    # Decided here, once: the reporters render into a buffer with colour forced on or off,
    # where rich's own NO_COLOR check cannot see the terminal.
    return not output_is_file and sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _width() -> int:
    """The terminal's width (``COLUMNS`` wins), at most 100; 80 when it is not a terminal."""
    import shutil

    return min(shutil.get_terminal_size((80, 24)).columns, 100)


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    from grader.files import write_atomic

    write_atomic(output, text)


@click.group(cls=GradeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="awaitlings", prog_name="awaitlings")
def cli() -> None:
    """awaitlings: learn asyncio by fixing small programs, graded as you go.

    `grade` grades every exercise; `grade ex04` grades one and explains each check.
    Exercises are named ex04, 4 or echo_server.
    """


@cli.command("run", cls=_GradingCommand, hidden=True)
@click.argument("exercises", nargs=-1, type=ExerciseId())
@click.option(
    "--target",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder with the files to grade (default: the kit's exercises/).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="Output format: text for people; json, gradescope, junit or classroom (GitHub Classroom) for tools.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the report to this file (atomically) instead of stdout.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Exercises graded in parallel (default: number of cores).",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Course mode: refuse to grade unless every sandbox defense is available (see `grade doctor`).",
)
@click.option("--no-cache", is_flag=True, help="Grade every exercise, even those unchanged since their last verdict.")
def run_cmd(exercises: tuple[Exercise, ...], target: Path | None, fmt: str, output: Path | None,
            jobs: int | None, strict: bool, no_cache: bool) -> None:  # fmt: skip
    """Grade exercises (all of them when none is named)."""
    from grader import sandbox

    sandbox.warm_up()  # its imports overlap ours and the kit's loading
    from grader.grading import grade_target
    from grader.results import exit_code

    kit = _kit()
    if strict:
        _require_course_mode(kit)
    chosen = tuple(exercises) or kit.exercises
    folder = (target or kit.exercises_dir).resolve()
    if not folder.is_dir():
        raise click.BadParameter(f"{folder} is not a folder", param_hint="--target")
    show_progress = fmt == "text" and output is None and sys.stderr.isatty() and len(chosen) > 1
    from grader.progress import hashes, remember
    from grader.sandbox import Limits

    own = folder == kit.exercises_dir.resolve()
    graded = hashes(kit, chosen, folder) if own else {}  # before grading: an edit meanwhile shows as a change

    # The learner's own files only: never in course mode, never for a --target elsewhere.
    cache = _verdict_cache(kit) if own and not strict and not no_cache else None
    run = grade_target(
        kit, chosen, folder, jobs=jobs, limits=Limits(strict=strict),
        on_result=_progress(len(chosen)) if show_progress else None, cache=cache,
    )  # fmt: skip
    if show_progress:
        click.echo("\r" + " " * 40 + "\r", nl=False, err=True)
    if own:
        remember(kit, run, graded)  # a read-only kit still grades; progress is a convenience
    if fmt == "text":
        from grader.progress import course_map, next_up
        from grader.reporters import terminal
        from grader.state import State

        color = _color(output is not None)
        if exercises:
            rows = course_map(kit, State.load(kit.state_dir)) if own else ()
            upcoming = next_up(rows)
            text = terminal.render_detail(run, color=color, width=_width(), upcoming=upcoming,
                                          course_done=bool(rows) and upcoming is None)  # fmt: skip
        else:
            text = terminal.render_summary(run, color=color, width=_width())
    else:
        from grader.reporters import renderer

        text = renderer(fmt)(run)
    _emit(text, output)
    _say_cached(run)
    sys.exit(exit_code(run))


def _verdict_cache(kit: Kit) -> Any:
    from grader.cache import VerdictCache

    return VerdictCache.of(kit)


def _say_cached(run: Any) -> None:
    """Name the verdicts served from the cache (on stderr: reports stay the same)."""
    kept = [e.id for e in run.exercises if e.from_cache]
    if kept:
        which = ", ".join(kept)
        click.echo(f"Unchanged since their last grade, verdicts kept: {which} (--no-cache grades them again).",
                   err=True)  # fmt: skip


def _progress(total: int) -> Any:
    done = 0

    def tick(exercise: Exercise, _result: Any) -> None:
        nonlocal done
        done += 1
        click.echo(f"\rgrading… {done}/{total} ({exercise.id})   ", nl=False, err=True)

    return tick


def _require_course_mode(kit: Kit) -> None:
    from grader.doctor import course_mode_problems, diagnose

    problems = course_mode_problems(diagnose(kit))
    if problems:
        raise GraderError(
            "course mode (--strict) refuses to grade: "
            + "; ".join(problems)
            + ". Run the grader as root on Linux (a container or VM is fine); `grade doctor` shows details."
        )


@cli.command("doctor")
@click.option("--strict", is_flag=True, help="Exit 3 unless every course-mode defense is available.")
def doctor_cmd(strict: bool) -> None:
    """What this machine gives the sandbox: uid drop, namespaces, limits, versions.

    Each line is measured by starting a sandbox child exactly as grading does.
    """
    from grader.doctor import course_mode_problems, diagnose, python_line, versions

    kit = _kit()
    click.echo(python_line())
    click.echo("  " + ", ".join(f"{k} {v}" for k, v in versions().items() if k != "python"))
    click.echo(f"kit: {kit.root} ({len(kit.exercises)} exercises)")
    findings = diagnose(kit)
    color = _color()
    for finding in findings:
        mark = click.style("ok  ", fg="green") if finding.ok else click.style("MISS", fg="red")
        need = " (course mode)" if finding.required_in_course_mode else ""
        click.echo(f"{mark} {finding.name}{need}: {finding.detail}", color=color)
    problems = course_mode_problems(findings)
    if problems:
        contained = all(f.ok for f in findings if f.name in ("mount namespace", "network namespace", "PID namespace"))
        click.echo(
            "\nCourse mode (--strict) would refuse to grade here; self-study grading works"
            + (" in namespaces of the child's own, under your uid." if contained else " with limits only.")
        )
        if strict:
            sys.exit(EXIT_GRADER)
    else:
        click.echo("\nEvery defense is available: course mode (--strict) can grade here.")


@cli.command("list", short_help="The course map: status, points and the next exercise.")
@click.option(
    "--refresh",
    is_flag=True,
    help="Grade the exercises changed since their last grade first; without it, only saved progress is read.",
)
def list_cmd(refresh: bool) -> None:
    """The course map: each exercise's status and points, and the next one to do.

    Instant: it reads the progress your last grades saved (in .awaitlings/) and marks
    files changed since their last grade with *; `--refresh` grades those first.
    """
    from grader.progress import course_map
    from grader.reporters.learner import render_course_map
    from grader.state import State

    kit = _kit()
    if refresh:
        from grader.grading import grade_target
        from grader.progress import hashes, remember

        graded = hashes(kit, kit.exercises)
        show = sys.stderr.isatty() and len(kit.exercises) > 1
        tick = _progress(len(kit.exercises)) if show else None
        run = grade_target(kit, kit.exercises, kit.exercises_dir, on_result=tick, cache=_verdict_cache(kit))
        if show:
            click.echo("\r" + " " * 40 + "\r", nl=False, err=True)
        remember(kit, run, graded)
    rows = course_map(kit, State.load(kit.state_dir))
    click.echo(render_course_map(rows, color=_color(), width=_width()), nl=False)


@cli.command("show", short_help="The task of an exercise, where to edit it, and how it is graded.")
@click.argument("exercise", type=ExerciseId())
def show_cmd(exercise: Exercise) -> None:
    """The task statement of EXERCISE (the stub's docstring), with where to edit.

    Then how it is graded: each check, named by its docstring in the checks file, with
    its points, and how many hidden checks there are.
    """
    from grader.checklist import declared_checks
    from grader.reporters.learner import render_task, task_statement

    kit = _kit()
    source, checks_file = kit.pristine_stub(exercise), kit.checks_path(exercise)
    try:
        statement = task_statement(source.read_text(encoding="utf-8"))
        checks = declared_checks(checks_file.read_text(encoding="utf-8"), str(checks_file))
    except (OSError, UnicodeDecodeError) as exc:
        raise GraderError(f"cannot read the task of {exercise.id}: {exc}; reinstall the kit") from exc
    if not statement:
        raise GraderError(f"the stub of {exercise.id} ({source}) has no task statement; reinstall the kit")
    click.echo(render_task(exercise, statement, checks, color=_color(), width=_width()), nl=False)


@cli.command("hint", short_help="The next hint for an exercise (remembered).")
@click.argument("exercise", type=ExerciseId())
@click.argument("number", type=click.IntRange(min=1), required=False)
@click.option("--all", "show_all", is_flag=True, help="Show every hint shown so far, not only the next.")
def hint_cmd(exercise: Exercise, number: int | None, show_all: bool) -> None:
    """The next hint for EXERCISE; each call reveals one more (remembered).

    First the hint your last grade's first failing check points to, if not shown yet;
    then the others in order. `grade hint ex04 2` shows hint 2 at once.
    """
    from grader.progress import hint_now
    from grader.reporters.learner import render_hint
    from grader.state import State

    kit = _kit()
    state = State.load(kit.state_dir)
    available = len(exercise.hints)
    if number is not None and number > available:
        raise click.BadParameter(f"{exercise.id} has {available} hints", param_hint="NUMBER")
    because = None
    if number:
        index = state.show_hint(exercise.id, number, available)
    else:
        index, because = hint_now(kit, state, exercise)
    with contextlib.suppress(OSError):  # a read-only kit: the hint is shown, just not remembered
        state.save()
    text = render_hint(exercise, index, shown=state.shown(exercise.id, available), show_all=show_all,
                       because=because, color=_color(), width=_width())  # fmt: skip
    click.echo(text, nl=False)


@cli.command("watch")
@click.option(
    "--poll",
    is_flag=True,
    help="Check the files twice a second instead of using file-system events (for network, container "
    "or WSL folders; chosen automatically when events do not arrive).",
)
@click.option(
    "--clear/--no-clear",
    default=None,
    help="Clear the screen before each result (default: when the output is a terminal).",
)
def watch_cmd(poll: bool, clear: bool | None) -> None:
    """Re-grade the exercise you are editing every time you save it.

    Starts with where you stand. Each save grades that exercise and shows the first
    failing check with its lesson; a pass congratulates you and shows the next
    exercise. Keys: h hint, l list, n next, r re-grade, q quit (Ctrl-C works too).
    """
    from grader.watch import watch

    def out(text: str) -> None:
        click.echo(text, nl=False)

    tty = sys.stdout.isatty()
    watch(_kit(), out, keys_from=sys.stdin, poll=poll, color=_color(), width=_width,
          clear=tty if clear is None else clear)  # fmt: skip


class BackupNumber(click.ParamType):  # type: ignore[type-arg]  # generic only in Click 8.2+
    """Which backup to restore: 1 is the newest (``grade backups`` numbers them)."""

    name = "N"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        if str(value).isdigit() and int(value) >= 1:
            return int(value)
        self.fail(f"{value!r} is not a backup number; name the exercise first: `grade reset ex04 --restore`",
                  param, ctx)  # fmt: skip


@cli.command("reset", short_help="Put an exercise's stub back (your file is backed up).")
@click.argument("exercise", type=ExerciseId(), required=False)
@click.option("--all", "reset_all", is_flag=True, help="Reset every exercise (each file is backed up first).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before replacing a file you changed (still backed up).")
@click.option(
    "--restore",
    type=BackupNumber(),
    is_flag=False,
    flag_value=1,
    default=None,
    help="Instead, put back backup N of EXERCISE (default 1, the newest; see `grade backups`).",
)
def reset_cmd(exercise: Exercise | None, reset_all: bool, yes: bool, restore: int | None) -> None:
    """Put the original stub of EXERCISE back, after backing up your file.

    Your file is first copied to .awaitlings/backups/ with a timestamp, and the command
    says where: nothing is ever lost. `grade backups EXERCISE` lists the copies;
    `grade reset EXERCISE --restore` puts the newest back. A file that is still the
    stub is left alone.
    """
    from grader import backups

    kit = _kit()
    if reset_all == (exercise is not None):
        raise click.UsageError("name one exercise (`grade reset ex04`) or use --all")
    if restore is not None:
        if exercise is None:
            raise click.UsageError("--restore needs an exercise: `grade reset ex04 --restore`")
        _restore(kit, exercise, restore)
        return
    chosen = kit.exercises if exercise is None else (exercise,)
    changed = [e for e in chosen if backups.differs_from_stub(kit, e)]
    if changed and not yes:
        names = ", ".join(f"exercises/{e.filename}" for e in changed)
        differ, them = ("differs", "it") if len(changed) == 1 else ("differ", "them")
        if not _interactive():
            again = f"grade reset {exercise.id if exercise else '--all'} --yes"
            raise _Refused(f"{names} {differ} from the stub: `{again}` resets {them}, backed up first "
                           "(there is no terminal here to ask on)")  # fmt: skip
        if len(changed) == 1:
            click.confirm(f"Replace {names} with the stub (backed up first)?", abort=True)
        else:
            listed = "".join(f"\n  exercises/{e.filename}" for e in changed)
            click.echo(f"These files differ from their stub; each is backed up, then reset:{listed}")
            click.confirm("Reset them?", abort=True)
    for ex in chosen:
        outcome = backups.reset(kit, ex)
        file = f"exercises/{ex.filename}"
        if outcome.action == "untouched":
            if exercise is not None:
                click.echo(f"{file} is still the original stub: nothing to back up, nothing changed.")
        elif outcome.action == "missing":
            click.echo(f"{file} was missing: the original stub is back (there was nothing to back up).")
        elif outcome.backup is not None:
            click.echo(f"{ex.id}: your file is backed up in\n  {_shown(outcome.backup.path)}")
            click.echo(f"and {file} is the original stub again.\nUndo with `grade reset {ex.id} --restore`.")
    if exercise is None and not changed:
        click.echo("Every exercise file is still the original stub: nothing to back up, nothing changed.")


def _restore(kit: Kit, exercise: Exercise, number: int) -> None:
    from grader import backups

    found = backups.backups(kit, exercise)
    if not found:
        raise click.UsageError(f"{exercise.id} has no backups yet (`grade reset {exercise.id}` makes one)")
    if number > len(found):
        raise click.BadParameter(f"{exercise.id} has {len(found)} backup(s); `grade backups {exercise.id}` lists them",
                                 param_hint="--restore")  # fmt: skip
    chosen = found[number - 1]
    outcome = backups.restore(kit, exercise, chosen)
    file = f"exercises/{exercise.filename}"
    if outcome.action == "same":
        click.echo(f"{file} already is the backup of {chosen.taken}: nothing changed.")
        return
    if outcome.backup is not None:
        click.echo(f"{exercise.id}: your current file is backed up in\n  {_shown(outcome.backup.path)}")
    click.echo(f"{file} is your version of {chosen.taken} again.")


@cli.command("backups", short_help="The backups `grade reset` made, newest first.")
@click.argument("exercise", type=ExerciseId(), required=False)
def backups_cmd(exercise: Exercise | None) -> None:
    """List the backups `grade reset` made of EXERCISE (or of every exercise), newest first.

    `grade reset EXERCISE --restore N` puts backup N back (your current file is backed up first).
    """
    from grader import backups

    kit = _kit()
    any_found = False
    for ex in (exercise,) if exercise else kit.exercises:
        found = backups.backups(kit, ex)
        if not found:
            continue
        any_found = True
        click.echo(click.style(f"{ex.id} {ex.title}", bold=True) if _color() else f"{ex.id} {ex.title}")
        for n, backup in enumerate(found, start=1):
            click.echo(f"  {n}  {backup.taken}  {backup.size:>7,} bytes  {_shown(backup.path)}")
    if not any_found:
        which = exercise.id if exercise else "any exercise"
        click.echo(f"No backups of {which} yet: `grade reset` makes one before it changes a file.")
    else:
        click.echo("\nPut one back with `grade reset EXERCISE --restore N` (your current file is backed up first).")


class _Refused(click.ClickException):
    """A command that will not go on without a flag: one line, no usage (exit 2)."""

    exit_code = EXIT_USAGE


def _interactive() -> bool:
    """Whether a question can be asked (stdin is a terminal)."""
    return sys.stdin.isatty()


def _shown(path: Path) -> str:
    """``path`` relative to the current folder when it is inside it, else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


@cli.command("verify")
@click.argument("exercises", nargs=-1, type=ExerciseId())
@click.option(
    "--repeat",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Grade the solutions this many times and report any check whose verdict changed.",
)
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, help="Exercises graded in parallel.")
def verify_cmd(exercises: tuple[Exercise, ...], repeat: int, jobs: int | None) -> None:
    """Kit self-check: solutions and correct alternatives pass, stubs fail, mutants die, no flaky check."""
    from grader.verify import verify

    kit = _kit()
    report = verify(kit, tuple(exercises) or kit.exercises, repeat=repeat, jobs=jobs,
                    progress=lambda msg: click.echo(f"· {msg}", err=True))  # fmt: skip
    for line in report.passes:
        click.echo(f"ok    {line}")
    for line in report.problems:
        click.echo(click.style(f"FAIL  {line}", fg="red"))
    click.echo(f"\n{len(report.problems)} problem(s); {len(report.passes)} verification(s) passed")
    sys.exit(0 if report.ok else 1)


# --- course staff: release, Gradescope, batch ----------------------------------------------


@cli.command("release")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.argument("exercises", nargs=-1, type=ExerciseId())
@click.option(
    "--check-install",
    is_flag=True,
    help="Also install the release in a fresh venv (pip install -e .) and run `grade` there.",
)
def release_cmd(out: Path, exercises: tuple[Exercise, ...], check_install: bool) -> None:
    """Build the students' copy of the kit in OUT (all exercises, or those named).

    Stubs, visible checks, the grader, README, pyproject and a GitHub Classroom workflow;
    no solutions, no mutants, no hidden checks (cut out of the check files and verified
    absent). OUT must not exist yet.
    """
    from grader.release import build_release, verify_install

    report = build_release(_kit(), out, tuple(exercises) or None)
    cut = len(report.hidden)
    click.echo(f"release written to {report.root}: {len(report.exercises)} exercises, {len(report.files)} files, "
               f"{cut} hidden check(s) left out")  # fmt: skip
    if check_install:
        graded = verify_install(report.root).get("exercises")
        count = len(graded) if isinstance(graded, list) else 0
        click.echo(f"installed in a fresh venv (pip install -e .); `grade` there graded {count} exercises")


@cli.group("export")
def export_group() -> None:
    """Package the kit for a grading platform."""


@export_group.command("gradescope")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("exercises", nargs=-1, type=ExerciseId())
@click.option(
    "--hidden-visibility",
    type=click.Choice(HIDDEN_VISIBILITIES),
    default="after_published",
    show_default=True,
    help="When students see hidden checks' results (Gradescope's visibility values; not 'hidden', "
    "as hidden checks carry points).",
)
@click.option("--strict", is_flag=True, help="Course mode on Gradescope: refuse to grade without every defense.")
@click.option(
    "--time-budget",
    type=click.FloatRange(min=10),
    default=DEFAULT_BUDGET_S,
    show_default=True,
    metavar="SECONDS",
    help="Grading time per submission; set it 1-2 minutes under the assignment's autograder timeout "
    "(Gradescope's default is 10 minutes).",
)
def export_gradescope_cmd(out: Path, exercises: tuple[Exercise, ...], hidden_visibility: str, strict: bool,
                          time_budget: float) -> None:  # fmt: skip
    """Write OUT.zip, a Gradescope autograder (setup.sh, run_autograder, the kit).

    Upload it as a programming assignment's autograder. Each submission is graded on all
    exercises (or those named); students may upload files at the top level, in
    exercises/, or nested.
    """
    from grader.platforms.gradescope import export_bundle

    names = export_bundle(_kit(), out, tuple(exercises) or None, hidden_visibility=hidden_visibility, strict=strict,
                          time_budget=time_budget)  # fmt: skip
    click.echo(f"{out}: Gradescope autograder with {len(names)} files (setup.sh, run_autograder, kit/)")


@cli.command("autograde")
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Gradescope's folder (default: $AUTOGRADER_ROOT, else /autograder).",
)
@click.option(
    "--hidden-visibility",
    type=click.Choice(HIDDEN_VISIBILITIES),
    default="after_published",
    show_default=True,
    help="When students see hidden checks' results (Gradescope's visibility values).",
)
@click.option("--strict", is_flag=True, help="Refuse to grade unless every sandbox defense is available.")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Exercises graded in parallel (default: what the container's CPU quota and memory allow).",
)
@click.option(
    "--time-budget",
    type=click.FloatRange(min=10),
    default=DEFAULT_BUDGET_S,
    show_default=True,
    metavar="SECONDS",
    help="Stop starting exercises after this many seconds and write what was graded; keep it under "
    "the platform's timeout.",
)
@click.option(
    "--classroom",
    is_flag=True,
    help="GitHub Classroom instead: grade this repository's exercises/, print the explanations, write "
    "$GITHUB_STEP_SUMMARY and one step output per exercise for autograding-grading-reporter.",
)
def autograde_cmd(root: Path | None, hidden_visibility: str, strict: bool, jobs: int | None,
                  time_budget: float, classroom: bool) -> None:  # fmt: skip
    """Grade ROOT/submission and write ROOT/results/results.json (Gradescope's run_autograder).

    results.json is written on every exit path: when the grader itself fails (exit 3), is
    refused by --strict, or is stopped (SIGTERM), it tells the student to contact the staff.
    Exit code 0 whenever the submission was graded, whatever the score. With --classroom,
    the same for GitHub Classroom's workflow (its outputs are written on every exit path).
    """
    if classroom:
        _autograde_classroom(strict, jobs)
        return
    import time

    from grader.platforms.gradescope import PROVISIONAL, Layout, autograde, write_failure
    from grader.sandbox import Limits

    started = time.monotonic()
    layout = Layout.from_env(root)
    kit: Kit | None = None
    try:
        write_failure(layout, PROVISIONAL, started=started)
        kit = _kit()
        if strict:
            _require_course_mode(kit)
        run = autograde(kit, layout, hidden_visibility=hidden_visibility, limits=Limits(strict=strict), jobs=jobs,
                        time_budget=time_budget, started=started)  # fmt: skip
    except KeyboardInterrupt:
        raise  # autograde wrote what was graded; before it, the provisional file stands
    except GraderError as exc:
        write_failure(layout, f"it could not run here ({exc})", started=started, kit=kit)
        raise
    except Exception as exc:
        write_failure(layout, f"it failed ({type(exc).__name__}, a bug in awaitlings)", started=started, kit=kit)
        raise
    click.echo(f"{layout.results}: {run.score:g}/{run.max_score:g}")


def _autograde_classroom(strict: bool, jobs: int | None) -> None:
    from grader.platforms import classroom
    from grader.sandbox import Limits

    kit: Kit | None = None
    try:
        kit = _kit()
        if strict:
            _require_course_mode(kit)
        run, log = classroom.autograde(kit, jobs=jobs, limits=Limits(strict=strict))
    except KeyboardInterrupt:
        classroom.write_failure(kit, "it was stopped (the job's time limit?) before it finished")
        raise
    except GraderError as exc:
        classroom.write_failure(kit, f"it could not run here ({exc})")
        raise
    except Exception as exc:
        classroom.write_failure(kit, f"it failed ({type(exc).__name__}, a bug in awaitlings)")
        raise
    click.echo(log, nl=False)
    click.echo(f"\nPoints {run.score:g}/{run.max_score:g} (posted to GitHub Classroom by the next step)")


class ShardParam(click.ParamType):  # type: ignore[type-arg]  # generic only in Click 8.2+
    """``--shard K/N``: share K of N."""

    name = "K/N"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from grader.shards import Shard

        if isinstance(value, Shard):
            return value
        try:
            return Shard.parse(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class BatchGroup(click.Group):
    """``grade batch DIR`` grades a class; ``grade batch merge OUT SHARD_DIR...`` joins shards."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # `merge` is the only subcommand; anything else is the DIR to grade (`grade batch ./merge`
        # grades a folder called merge).
        if (args and args[0] in self.commands) or args in (["--help"], ["-h"]):
            return super().parse_args(ctx, args)
        return super().parse_args(ctx, ["run", *args])

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "DIR [EXERCISES]... [OPTIONS]")
        formatter.write_usage(ctx.command_path, "merge OUT SHARD_DIR...", prefix="   or: ")

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        grading = self.commands["run"]
        rows = [row for param in grading.get_params(ctx) if (row := param.get_help_record(ctx)) and row[1]]
        with formatter.section("Options"):
            formatter.write_dl([row for row in rows if not row[0].startswith("-h")])
        self.format_commands(ctx, formatter)


@cli.group("batch", cls=BatchGroup)
def batch_group() -> None:
    """Grade every submission under DIR (one folder or .zip per student) into a gradebook.

    Writes gradebook.csv, students/<id>.json, summary.json and summary.html (per-check
    pass rates, commonest failures). Re-running skips students already graded with the
    same checks and the same files, so an interrupted batch resumes. With --shard K/N it
    grades share K of N (one machine each); `grade batch merge` joins the shares.
    """


@batch_group.command("run", cls=_GradingCommand, hidden=True)
@click.argument("folder", metavar="DIR", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.argument("exercises", nargs=-1, type=ExerciseId())
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the gradebook and reports (default: DIR-gradebook beside DIR, DIR-gradebook-K-of-N for a shard).",
)
@click.option(
    "--shard",
    type=ShardParam(),
    default=None,
    help="Grade only share K of N (1 <= K <= N), chosen from each student's id, so N machines "
    "grade a class side by side; join their outputs with `grade batch merge`.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Sandboxed children at once, across students and exercises (default: number of cores).",
)
@click.option("--strict", is_flag=True, help="Course mode: refuse to grade without every sandbox defense.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("text", "json")),
    default="text",
    show_default=True,
    help="What to print at the end: a class summary, or a JSON account of the run.",
)
def batch_cmd(folder: Path, exercises: tuple[Exercise, ...], out: Path | None, shard: Any, jobs: int | None,
              strict: bool, fmt: str) -> None:  # fmt: skip
    """Grade every submission under DIR (one folder or .zip per student) into a gradebook."""
    from grader.batch import run_batch
    from grader.sandbox import Limits

    kit = _kit()
    if strict:
        _require_course_mode(kit)
    listener = _batch_bar() if sys.stderr.isatty() else None
    try:
        report = run_batch(kit, folder, out=out, exercises=tuple(exercises) or None, jobs=jobs,
                           limits=Limits(strict=strict), listener=listener, shard=shard)  # fmt: skip
    finally:
        if listener is not None:
            listener.stop()
    _batch_end(report, fmt, f"shard {shard}: " if shard else "")


@batch_group.command("merge")
@click.argument("out", metavar="OUT", type=click.Path(file_okay=False, path_type=Path))
@click.argument(
    "shards",
    metavar="SHARD_DIR...",
    nargs=-1,
    required=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("text", "json")),
    default="text",
    show_default=True,
    help="What to print at the end: a class summary, or a JSON account of the merge.",
)
def batch_merge_cmd(out: Path, shards: tuple[Path, ...], fmt: str) -> None:
    """Join the outputs of `grade batch DIR --shard K/N` (every K of one N) into OUT.

    OUT gets the class's gradebook.csv, summary.json, summary.html and students/, the
    same bytes as grading DIR on one machine. Shards graded with another kit, other
    checks or another Python, a missing or repeated share, are refused.
    """
    from grader.shards import merge

    _batch_end(merge(out, shards), fmt, "merged: ")


def _batch_end(report: Any, fmt: str, prefix: str) -> None:
    """Print a batch's (or a merge's) account; exit 3 when the grader failed on someone."""
    import json

    from grader.batch import summary_dict
    from grader.reporters.classreport import render_text

    if fmt == "json":
        click.echo(json.dumps(summary_dict(report), indent=2))
    else:
        click.echo(render_text(report.stats), nl=False)
        click.echo(f"{prefix}{len(report.outcomes)} submissions ({report.resumed} already graded) · "
                   f"gradebook: {report.gradebook} · report: {report.html}")  # fmt: skip
        for note in report.ignored:
            click.echo(f"ignored: {note}", err=True)
    if report.incomplete:
        raise GraderError(
            f"the grader failed on {len(report.incomplete)} submission(s) ({', '.join(report.incomplete[:5])}): "
            "see their notes in the gradebook, fix the cause, and run the same command again to re-grade only those"
        )


def _batch_bar() -> Any:
    """A rich progress bar on stderr for `grade batch` (a BatchListener)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from grader.batch import BatchListener, StudentOutcome

    class Bar(BatchListener):
        def __init__(self) -> None:
            columns = (TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                       TextColumn("{task.description}"))  # fmt: skip
            self.progress = Progress(*columns, console=Console(stderr=True), transient=True)
            self.task = self.progress.add_task("", total=None)
            self.progress.start()

        def started(self, total: int, resumed: int) -> None:
            self.progress.update(self.task, total=total, description=f"({resumed} already graded)" if resumed else "")

        def student_done(self, outcome: StudentOutcome) -> None:
            self.progress.update(self.task, advance=1, description=outcome.student)

        def stop(self) -> None:
            self.progress.stop()

    return Bar()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Console entry point: library errors become messages and exit codes here."""
    import signal

    # SIGTERM and SIGHUP (a CI runner's timeout, a closed terminal) unwind like Ctrl-C, so
    # the sandboxes' clean-up runs: no child process or temporary folder is left behind.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except GraderError as exc:
        click.echo(click.style("error: ", fg="red", bold=True) + str(exc), err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception:  # a bug in the grader, not the learner's fault: say so, exit 3
        import traceback

        traceback.print_exc()
        click.echo("error: the grader itself failed (a bug in awaitlings); please report the text above.", err=True)
        sys.exit(EXIT_GRADER)


if __name__ == "__main__":
    main()
