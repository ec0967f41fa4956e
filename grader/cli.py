"""The ``grade`` command line: parse, call the grader library, render, map to exit codes.

Exit codes: 0 every graded exercise at full marks; 1 some check failed; 2 usage error;
3 the grader itself could not run (the message says what to fix).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from grader.errors import GraderError, UnknownExercise
from grader.manifest import Exercise, Kit, load_kit

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


class GradeGroup(click.Group):
    """``grade ex04`` and ``grade --target x`` run the grader; other words are commands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        first = next((a for a in args if not a.startswith("-")), None)
        wants_help = any(a in ("--help", "-h", "--version") for a in args) and first is None
        if not wants_help and (first is None or first not in self.commands):
            args = ["run", *args]
        return super().parse_args(ctx, args)


_KIT: Kit | None = None


def _kit() -> Kit:
    global _KIT
    if _KIT is None:
        _KIT = load_kit()
    return _KIT


def _color(output_is_file: bool = False) -> bool:
    return not output_is_file and sys.stdout.isatty() and "NO_COLOR" not in os.environ


def _width() -> int:
    try:
        return min(os.get_terminal_size().columns, 100)
    except OSError:
        return 80


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, output)


@click.group(cls=GradeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="awaitlings", prog_name="awaitlings")
def cli() -> None:
    """awaitlings: learn asyncio by fixing small programs, graded as you go.

    `grade` grades every exercise; `grade ex04` grades one and explains each check.
    Exercises are named ex04, 4 or echo_server.
    """


@cli.command("run", hidden=True)
@click.argument("exercises", nargs=-1, type=ExerciseId())
@click.option("--target", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder with the files to grade (default: the kit's exercises/).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="Output format: text for people; json, gradescope, junit or classroom (GitHub Classroom) for tools.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report to this file (atomically) instead of stdout.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Exercises graded in parallel (default: number of cores).")
@click.option("--strict", is_flag=True,
              help="Course mode: refuse to grade unless every sandbox defense is available (see `grade doctor`).")
def run_cmd(exercises: tuple[Exercise, ...], target: Path | None, fmt: str, output: Path | None,
            jobs: int | None, strict: bool) -> None:  # fmt: skip
    """Grade exercises (all of them when none is named)."""
    from grader.grading import grade_target
    from grader.results import exit_code
    from grader.state import State

    kit = _kit()
    if strict:
        _require_course_mode(kit)
    chosen = tuple(exercises) or kit.exercises
    folder = (target or kit.exercises_dir).resolve()
    if not folder.is_dir():
        raise click.BadParameter(f"{folder} is not a folder", param_hint="--target")
    show_progress = fmt == "text" and output is None and sys.stderr.isatty() and len(chosen) > 1
    from grader.sandbox import Limits

    run = grade_target(
        kit, chosen, folder, jobs=jobs, limits=Limits(strict=strict),
        on_result=_progress(len(chosen)) if show_progress else None,
    )  # fmt: skip
    if show_progress:
        click.echo("\r" + " " * 40 + "\r", nl=False, err=True)
    if folder == kit.exercises_dir.resolve():
        state = State.load(kit.state_dir)
        state.record(run)
        try:
            state.save()
        except OSError:
            pass  # a read-only kit still grades; progress is a convenience
    if fmt == "text":
        from grader.reporters import terminal

        color = _color(output is not None)
        if exercises:
            text = terminal.render_detail(run, color=color, width=_width())
        else:
            text = terminal.render_summary(run, color=color, width=_width())
    else:
        from grader.reporters import renderer

        text = renderer(fmt)(run)
    _emit(text, output)
    sys.exit(exit_code(run))


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
            "course mode (--strict) refuses to grade: " + "; ".join(problems)
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
    for finding in findings:
        mark = click.style("ok  ", fg="green") if finding.ok else click.style("MISS", fg="red")
        need = " (course mode)" if finding.required_in_course_mode else ""
        click.echo(f"{mark} {finding.name}{need}: {finding.detail}")
    problems = course_mode_problems(findings)
    if problems:
        click.echo("\nCourse mode (--strict) would refuse to grade here; self-study grading works with limits only.")
        if strict:
            sys.exit(EXIT_GRADER)
    else:
        click.echo("\nEvery defense is available: course mode (--strict) can grade here.")


@cli.command("list")
def list_cmd() -> None:
    """The course map: every exercise with its last status and score.

    Reads the progress kept in .awaitlings/ (instant); `grade` refreshes it.
    """
    from grader.state import State

    kit = _kit()
    state = State.load(kit.state_dir)
    rows = []
    next_id = None
    for ex in kit.exercises:
        last = state.last.get(ex.id)
        status = last["status"] if last else "not graded"
        score = f"{last['score']:g}/{last['max_score']:g}" if last else f"-/{ex.points:g}"
        if next_id is None and status not in ("passed", "unsupported"):
            next_id = ex.id
        rows.append((ex.id, ex.title, status.replace("_", " "), score))
    width = max(len(r[1]) for r in rows) if rows else 10
    for ex_id, title, status, score in rows:
        marker = "→" if ex_id == next_id else " "
        click.echo(f"{marker} {ex_id}  {title:<{width}}  {status:<12} {score:>7}")
    if next_id:
        click.echo(f"\nNext: {next_id} · `grade show {next_id}` for the task, `grade {next_id}` to check it.")


@cli.command("show")
@click.argument("exercise", type=ExerciseId())
def show_cmd(exercise: Exercise) -> None:
    """The task statement of EXERCISE (the stub's docstring), with where to edit."""
    import ast

    kit = _kit()
    source = kit.pristine_stub(exercise)
    try:
        doc = ast.get_docstring(ast.parse(source.read_text(encoding="utf-8"))) or ""
    except (OSError, SyntaxError) as exc:
        raise GraderError(f"cannot read the task of {exercise.id}: {exc}") from exc
    click.echo(click.style(f"{exercise.id} · {exercise.title}", bold=True) + f"   ({exercise.points:g} points)")
    click.echo(f"edit: exercises/{exercise.filename}\n")
    click.echo(doc.strip())
    click.echo(f"\nCheck it with `grade {exercise.id}`; stuck? `grade hint {exercise.id}`.")


@cli.command("hint")
@click.argument("exercise", type=ExerciseId())
@click.option("--all", "show_all", is_flag=True, help="Show every hint shown so far, not only the next.")
def hint_cmd(exercise: Exercise, show_all: bool) -> None:
    """The next hint for EXERCISE; each call reveals one more (remembered)."""
    from grader.state import State

    kit = _kit()
    state = State.load(kit.state_dir)
    index = state.next_hint(exercise.id, len(exercise.hints))
    try:
        state.save()
    except OSError:
        pass
    first = 0 if show_all else index
    for i in range(first, index + 1):
        click.echo(f"Hint {i + 1}/{len(exercise.hints)} for {exercise.id}: {exercise.hints[i]}")
    if index + 1 < len(exercise.hints):
        click.echo(f"(`grade hint {exercise.id}` again for the next one)")


@cli.command("verify")
@click.argument("exercises", nargs=-1, type=ExerciseId())
@click.option("--repeat", type=click.IntRange(min=1), default=1, show_default=True,
              help="Grade the solutions this many times and report any check whose verdict changed.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, help="Exercises graded in parallel.")
def verify_cmd(exercises: tuple[Exercise, ...], repeat: int, jobs: int | None) -> None:
    """Kit self-check: solutions pass, stubs fail, mutants die, no flaky check."""
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
@click.option("--check-install", is_flag=True,
              help="Also install the release in a fresh venv (pip install -e .) and run `grade` there.")
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
        result = verify_install(report.root)
        click.echo(f"installed in a fresh venv; `grade` there graded {len(result.get('exercises', []))} exercises")  # type: ignore[arg-type]


@cli.group("export")
def export_group() -> None:
    """Package the kit for a grading platform."""


@export_group.command("gradescope")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("exercises", nargs=-1, type=ExerciseId())
@click.option("--hidden-visibility", type=click.Choice(("hidden", "after_due_date", "after_published", "visible")),
              default="after_published", show_default=True, help="When students see hidden checks' results.")
@click.option("--strict", is_flag=True, help="Course mode on Gradescope: refuse to grade without every sandbox defense.")
def export_gradescope_cmd(out: Path, exercises: tuple[Exercise, ...], hidden_visibility: str, strict: bool) -> None:
    """Write OUT.zip, a Gradescope autograder (setup.sh, run_autograder, the kit).

    Upload it as a programming assignment's autograder. Each submission is graded on all
    exercises (or those named); students may upload files at the top level, in
    exercises/, or nested.
    """
    from grader.gradescope import export_bundle

    names = export_bundle(_kit(), out, tuple(exercises) or None, hidden_visibility=hidden_visibility, strict=strict)
    click.echo(f"{out}: Gradescope autograder with {len(names)} files (setup.sh, run_autograder, kit/)")


@cli.command("autograde")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Gradescope's folder (default: $AUTOGRADER_ROOT, else /autograder).")
@click.option("--hidden-visibility", type=click.Choice(("hidden", "after_due_date", "after_published", "visible")),
              default="after_published", show_default=True, help="When students see hidden checks' results.")
@click.option("--strict", is_flag=True, help="Refuse to grade unless every sandbox defense is available.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, help="Exercises graded in parallel.")
def autograde_cmd(root: Path | None, hidden_visibility: str, strict: bool, jobs: int | None) -> None:
    """Grade ROOT/submission and write ROOT/results/results.json (Gradescope's run_autograder).

    Exit code 0 whenever results.json was written, whatever the score.
    """
    from grader.gradescope import Layout, autograde
    from grader.sandbox import Limits

    kit = _kit()
    if strict:
        _require_course_mode(kit)
    layout = Layout.from_env(root)
    run = autograde(kit, layout, hidden_visibility=hidden_visibility, limits=Limits(strict=strict), jobs=jobs)
    click.echo(f"{layout.results}: {run.score:g}/{run.max_score:g}")


@cli.command("batch")
@click.argument("folder", metavar="DIR", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.argument("exercises", nargs=-1, type=ExerciseId())
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the gradebook and reports (default: DIR-gradebook beside DIR).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Sandboxed children at once, across students and exercises (default: number of cores).")
@click.option("--strict", is_flag=True, help="Course mode: refuse to grade without every sandbox defense.")
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True,
              help="What to print at the end: a class summary, or a JSON account of the run.")
def batch_cmd(folder: Path, exercises: tuple[Exercise, ...], out: Path | None, jobs: int | None, strict: bool,
              fmt: str) -> None:  # fmt: skip
    """Grade every submission under DIR (one folder or .zip per student) into a gradebook.

    Writes gradebook.csv, students/<id>.json, summary.json and summary.html (per-check
    pass rates, commonest failures). Re-running skips students already graded with the
    same checks and the same files, so an interrupted batch resumes.
    """
    import json

    from grader.batch import run_batch, summary_dict
    from grader.reporters.classreport import render_text
    from grader.sandbox import Limits

    kit = _kit()
    if strict:
        _require_course_mode(kit)
    listener = _BatchBar() if sys.stderr.isatty() else None
    try:
        report = run_batch(kit, folder, out=out, exercises=tuple(exercises) or None, jobs=jobs,
                           limits=Limits(strict=strict), listener=listener)  # fmt: skip
    finally:
        if listener is not None:
            listener.stop()
    if fmt == "json":
        click.echo(json.dumps(summary_dict(report), indent=2))
    else:
        click.echo(render_text(report.stats), nl=False)
        click.echo(f"{len(report.outcomes)} submissions ({report.resumed} already graded) · "
                   f"gradebook: {report.gradebook} · report: {report.html}")  # fmt: skip
        for note in report.ignored:
            click.echo(f"ignored: {note}", err=True)
    if report.incomplete:
        raise GraderError(
            f"the grader failed on {len(report.incomplete)} submission(s) ({', '.join(report.incomplete[:5])}): "
            "see their notes in the gradebook, fix the cause, and run the same command again to re-grade only those"
        )


class _BatchBar:
    """A rich progress bar on stderr for `grade batch`."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                 TextColumn("{task.description}"), console=Console(stderr=True), transient=True)  # fmt: skip
        self.task = self.progress.add_task("", total=None)
        self.progress.start()

    def started(self, total: int, resumed: int) -> None:
        self.progress.update(self.task, total=total, description=f"({resumed} already graded)" if resumed else "")

    def student_done(self, outcome: Any) -> None:
        self.progress.update(self.task, advance=1, description=outcome.student)

    def stop(self) -> None:
        self.progress.stop()


def main() -> None:
    """Console entry point: library errors become messages and exit codes here."""
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
