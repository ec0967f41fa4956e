"""The learner's commands through Click's CliRunner: list, show, hint, reset, backups,
and the terminal conventions (80 columns, colour only on a terminal, NO_COLOR)."""

from __future__ import annotations

import dataclasses

import io
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import grader.cli as cli_module
from grader.checklist import declared_checks
from grader.hidden import strip_hidden
from grader.manifest import Kit, load_kit
from grader.progress import hashes, remember
from grader.reporters.learner import render_task, task_statement
from grader.results import CheckResult, CheckStatus, RunResult, exercise_result
from grader.state import State

ROOT = Path(__file__).resolve().parents[2]
WORK = "async def greet(name, delay):\n    return 'my work'\n"
ANSI = re.compile(r"\x1b\[")
ANSI_CODE = re.compile(r"\x1b\[[0-9;]*m|\x1b\]8;[^\x1b]*\x1b\\\\")

Invoke = Callable[..., Result]

#: Two hidden checks for the test kit's ex02, weight 2 each: with ex02's own (1 and 3),
#: 8 weight units share its 4 points.
HIDDEN_ADDER_CHECKS = """

@pytest.mark.hidden
@pytest.mark.weight(2)
def test_adds_negatives(ex):
    \"\"\"adds negative numbers\"\"\"
    assert ex.add(-2, -3) == -5


@pytest.mark.hidden
@pytest.mark.weight(2)
def test_adds_floats(ex):
    \"\"\"adds floats\"\"\"
    assert ex.add(0.5, 0.25) == 0.75
"""


def graded_section(page: str) -> list[str]:
    """The lines of `grade show`'s "How it is graded", between its heading and the last line."""
    section = page.split("How it is graded\n", 1)[1].split("Check it with `grade", 1)[0]
    return [line for line in section.splitlines() if line.strip()]


@pytest.fixture
def grade(kit: Kit, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """``grade(*args, input=None)`` runs the CLI on the test kit, from the kit's folder."""
    monkeypatch.setenv("AWAITLINGS_KIT", str(kit.root))
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(cli_module, "_KIT", None)
    monkeypatch.chdir(kit.root)
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(cli_module.cli, list(args), input=input)

    return invoke


@pytest.fixture
def no_grading(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything tries to grade."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("this command must not grade")

    import grader.grading
    import grader.sandbox

    monkeypatch.setattr(grader.grading, "grade_target", refuse)
    monkeypatch.setattr(grader.sandbox, "grade_exercise", refuse)


class TestList:
    """`grade list` reads saved progress; `--refresh` grades first."""

    def test_instant_from_state(self, grade: Invoke, no_grading: None) -> None:
        """no grading: every exercise with status and points, and the next one"""
        result = grade("list")
        assert result.exit_code == 0, result.output
        assert "ex01" in result.output and "Your first coroutine" in result.output
        assert "· not started" in result.output
        assert "Next: ex01 Your first coroutine: `grade show ex01` for the task" in result.output

    def test_marks_files_changed_since_last_grade(self, grade: Invoke, kit: Kit, no_grading: None) -> None:
        """a graded file edited afterwards is marked with * and explained"""
        ex01 = kit.exercises[0]
        kit.stub_path(ex01).write_text(WORK, encoding="utf-8")
        state = State.load(kit.state_dir)
        state.last["ex01"] = {"status": "failed", "score": 4.0, "max_score": 10.0, "at": "2026-01-01T10:00:00",
                              "sha256": "0" * 64}  # fmt: skip
        state.save()
        result = grade("list")
        assert "✘ failing *" in result.output and "4/10" in result.output
        assert "* changed since last grade" in result.output

    @pytest.mark.slow
    def test_refresh_grades_and_records(self, grade: Invoke, kit: Kit) -> None:
        """--refresh grades every exercise, then lists the fresh results"""
        ex02 = kit.exercises[1]
        kit.stub_path(ex02).write_text("def add(a, b):\n    return a + b\n", encoding="utf-8")
        result = grade("list", "--refresh")
        assert result.exit_code == 0, result.output
        row = next(line for line in result.output.splitlines() if "ex02" in line)
        assert "✔ done" in row and "4/4" in row
        assert State.load(kit.state_dir).last["ex02"]["sha256"]


class TestShow:
    """`grade show` renders the task for an 80-column terminal."""

    def test_task_fits_80_columns_without_colour(self, grade: Invoke) -> None:
        """no line longer than 80, no ANSI codes when not a terminal, code in backquotes"""
        result = grade("show", "ex01")
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        assert lines[0] == "ex01 · Your first coroutine (10 points)"
        assert "edit: exercises/ex01_hello_run.py" in result.output
        assert "What to build" in result.output and "`asyncio.run(...)`" in result.output
        assert all(len(line) <= 80 for line in lines), max(lines, key=len)
        assert not ANSI.search(result.output)

    @pytest.mark.parametrize("width", [60, 80])
    def test_every_stub_of_the_kit_renders(self, width: int) -> None:
        """each real exercise's task and checks render within the width (links excepted:
        never cut), with one "How it is graded", which the stub does not write itself"""
        kit = load_kit(ROOT)
        for exercise in kit.exercises:
            stub, checks = kit.pristine_stub(exercise), kit.checks_path(exercise)
            if not (stub.is_file() and checks.is_file()):
                continue  # being written
            statement = task_statement(stub.read_text(encoding="utf-8"))
            assert statement, exercise.id
            assert "How it is graded" not in statement, f"{stub}: `grade show` lists the checks; drop the copy"
            declared = declared_checks(checks.read_text(encoding="utf-8"), checks.name)
            text = render_task(exercise, statement, declared, width=width)
            too_long = [line for line in text.splitlines() if len(line) > width and "://" not in line]
            assert not too_long, (exercise.id, too_long)
            assert text.count("How it is graded") == 1, exercise.id

    def test_lists_the_checks_with_their_points(self, grade: Invoke) -> None:
        """after the task: each check's docstring, in file order, with its share of the
        exercise's points (ex02: weights 1 and 3 of 4 points)"""
        result = grade("show", "ex02")
        assert result.exit_code == 0, result.output
        assert graded_section(result.output) == [" • adds two ints (1 point)", " • adds two strings (3 points)"]

    def test_hidden_checks_are_counted_not_named(self, grade: Invoke, kit: Kit) -> None:
        """a hidden check's docstring never shows; how many there are, and their points, do"""
        ex02 = kit.resolve("ex02")
        checks = kit.checks_path(ex02)
        checks.write_text(checks.read_text(encoding="utf-8") + HIDDEN_ADDER_CHECKS, encoding="utf-8")
        result = grade("show", "ex02")
        assert result.exit_code == 0, result.output
        assert "adds negative numbers" not in result.output and "adds floats" not in result.output
        assert graded_section(result.output) == [" • adds two ints (0.5 points)", " • adds two strings (1.5 points)",
                          " • and 2 hidden checks (2 points)"]  # fmt: skip

    def test_the_real_kit_hides_its_hidden_checks(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """the course's ex04 (one hidden check): every visible check's docstring, and the
        hidden one only counted (the release's own cut says which one it is)"""
        kit = load_kit(ROOT)
        monkeypatch.setenv("AWAITLINGS_KIT", str(ROOT))
        monkeypatch.setattr(cli_module, "_KIT", None)
        ex04 = kit.resolve("ex04")
        source = kit.checks_path(ex04).read_text(encoding="utf-8")
        released, hidden = strip_hidden(source, "ex04", ex04.checks_filename)
        visible = declared_checks(released, ex04.checks_filename)
        assert hidden and visible
        result = CliRunner().invoke(cli_module.cli, ["show", "ex04"])
        assert result.exit_code == 0, result.output
        page = " ".join(result.output.split())
        assert all(f"• {check.name} (" in page for check in visible)
        assert [page.index(check.name) for check in visible] == sorted(page.index(check.name) for check in visible)
        assert not [check.docstring for check in hidden if check.docstring in page]
        count = len(hidden)
        assert f"• and {count} hidden check{'s' if count > 1 else ''} (" in page

    STATEMENT = (
        "Close it with ``writer.close()`` then ``await\n  writer.wait_closed()`` on every path.\n\n"
        "Docs: https://docs.python.org/3/library/asyncio-eventloop.html#asyncio.loop.connect_read_pipe "
        "and https://docs.python.org/3/library/asyncio-task.html#task-groups, both worth a read.\n\n"
        "- a list item that links to "
        "https://docs.python.org/3/tutorial/errors.html#raising-and-handling-multiple-unrelated-exceptions too"
    )

    def test_the_concepts_of_the_manifest_head_the_page(self, kit: Kit) -> None:
        """the manifest's concepts are listed under the file to edit; none, no line"""
        exercise = dataclasses.replace(kit.exercises[0], concepts=("await", "TaskGroup"))
        lines = render_task(exercise, self.STATEMENT, width=80).splitlines()
        assert lines[1].startswith("edit: ") and lines[2] == "concepts: await, TaskGroup"
        bare = render_task(dataclasses.replace(exercise, concepts=()), self.STATEMENT, width=80)
        assert "concepts:" not in bare

    def test_code_over_a_line_break_is_code(self, kit: Kit) -> None:
        """a ``code`` span broken over two docstring lines keeps its backquotes, joined"""
        text = render_task(kit.exercises[0], self.STATEMENT, width=80)
        assert "`await writer.wait_closed()`" in " ".join(text.split())
        assert "\\`" not in text and "``" not in text

    @pytest.mark.parametrize("color", [False, True])
    def test_a_link_is_never_broken(self, kit: Kit, color: bool) -> None:
        """each link is whole on one line, the other lines fit 80 columns"""
        text = ANSI_CODE.sub("", render_task(kit.exercises[0], self.STATEMENT, color=color, width=80))
        lines = text.splitlines()
        for link in re.findall(r"https://\S+[\w/]", self.STATEMENT):
            assert any(link in line for line in lines), (link, text)
        assert all(len(line) <= 80 for line in lines if "https://" not in line), text
        assert "both worth a read." in " ".join(text.split()) and "too" in text

    def test_colour_renders_markup(self, kit: Kit) -> None:
        """with colour, code spans are styled (no backquotes) and headings bold"""
        ex01 = kit.exercises[0]
        statement = task_statement(kit.pristine_stub(ex01).read_text(encoding="utf-8"))
        text = render_task(ex01, statement, color=True)
        assert ANSI.search(text) and "`asyncio.run(...)`" not in text


class TestColour:
    """Colour only on a terminal, and never with NO_COLOR set (non-empty)."""

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    @pytest.mark.parametrize(
        ("tty", "no_color", "expected"),
        [(True, None, True), (True, "1", False), (True, "", True), (False, None, False)],
    )
    def test_color_decision(self, monkeypatch: pytest.MonkeyPatch, tty: bool, no_color: str | None,
                            expected: bool) -> None:  # fmt: skip
        """a terminal without NO_COLOR gets colour; anything else does not"""
        monkeypatch.setattr(sys, "stdout", self.Tty() if tty else io.StringIO())
        if no_color is None:
            monkeypatch.delenv("NO_COLOR", raising=False)
        else:
            monkeypatch.setenv("NO_COLOR", no_color)
        assert cli_module._color() is expected

    def test_width_follows_columns(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """COLUMNS sets the width, capped at 100"""
        monkeypatch.setenv("COLUMNS", "72")
        assert cli_module._width() == 72
        monkeypatch.setenv("COLUMNS", "300")
        assert cli_module._width() == 100


class TestHint:
    """Hints come one at a time; a check may point to one by number."""

    def test_next_then_numbered_then_all(self, grade: Invoke, kit: Kit) -> None:
        """hint 1, then hint 3 directly (hint 2 is still to come), then all three"""
        first = grade("hint", "ex01")
        assert first.output.startswith("Hint 1/3 for ex01: First hint")
        assert "again for the next one" in first.output
        third = grade("hint", "ex01", "3")
        assert third.output.startswith("Hint 3/3 for ex01: Third hint") and "again for the next one" in third.output
        assert State.load(kit.state_dir).hints["ex01"] == [1, 3]
        every = grade("hint", "ex01", "--all")
        assert [line[:9] for line in every.output.splitlines() if line.startswith("Hint")] == [
            "Hint 1/3 ", "Hint 2/3 ", "Hint 3/3 "]  # fmt: skip

    def test_the_failing_checks_hint_first(self, grade: Invoke, kit: Kit) -> None:
        """the last grade failed on a check pointing to hint 3: hint 3 first, saying why;
        then hints 1 and 2 in order"""
        ex01 = kit.exercises[0]
        kit.stub_path(ex01).write_text(WORK, encoding="utf-8")
        check = CheckResult("t::a", "main runs all greetings at once", CheckStatus.FAILED, message="m", hint=3)
        failed = exercise_result(id="ex01", slug=ex01.slug, title=ex01.title, points=ex01.points, checks=[check])
        remember(kit, RunResult("exercises", "3.11", (failed,)), hashes(kit, [ex01]))
        first = grade("hint", "ex01")
        assert first.output.startswith("Hint 3/3 for ex01 (for the failing check: main runs all greetings at once):")
        assert "Third hint" in first.output
        assert grade("hint", "ex01").output.startswith("Hint 1/3 for ex01: First hint")
        assert grade("hint", "ex01").output.startswith("Hint 2/3 for ex01: Second hint")

    def test_number_out_of_range(self, grade: Invoke) -> None:
        """asking for hint 9 of 3 is a usage error that says how many there are"""
        result = grade("hint", "ex01", "9")
        assert result.exit_code == 2 and "ex01 has 3 hints" in result.output


class TestReset:
    """`grade reset` backs up first, asks before replacing work, and says where the backup is."""

    def test_untouched(self, grade: Invoke) -> None:
        """the stub: nothing backed up, nothing changed, and it says so"""
        result = grade("reset", "ex01")
        assert result.exit_code == 0
        assert "still the original stub: nothing to back up, nothing changed" in result.output

    def test_needs_yes_without_a_terminal(self, grade: Invoke, kit: Kit) -> None:
        """changed file, no terminal to ask on, no --yes: refused, file untouched"""
        kit.stub_path(kit.exercises[0]).write_text(WORK, encoding="utf-8")
        result = grade("reset", "ex01")
        assert result.exit_code == 2 and "--yes" in result.output
        assert kit.stub_path(kit.exercises[0]).read_text(encoding="utf-8") == WORK

    def test_without_a_terminal_one_line_says_what_to_type(self, grade: Invoke, kit: Kit) -> None:
        """no usage dump: one line naming the file and the command that resets it"""
        kit.stub_path(kit.exercises[0]).write_text(WORK, encoding="utf-8")
        result = grade("reset", "ex01")
        assert result.output.strip().count("\n") == 0, result.output
        assert "Usage:" not in result.output and "--help" not in result.output
        assert "exercises/ex01_hello_run.py differs from the stub" in result.output
        assert "`grade reset ex01 --yes`" in result.output

    def test_asks_and_respects_no(self, grade: Invoke, kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
        """on a terminal it asks; 'n' changes nothing"""
        monkeypatch.setattr(cli_module, "_interactive", lambda: True)
        kit.stub_path(kit.exercises[0]).write_text(WORK, encoding="utf-8")
        result = grade("reset", "ex01", input="n\n")
        assert "Replace exercises/ex01_hello_run.py with the stub (backed up first)?" in result.output
        assert result.exit_code != 0
        assert kit.stub_path(kit.exercises[0]).read_text(encoding="utf-8") == WORK
        assert not (kit.state_dir / "backups").exists()

    def test_yes_backs_up_and_says_where(self, grade: Invoke, kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
        """answered 'y': backed up (path shown), stub back, and how to undo"""
        monkeypatch.setattr(cli_module, "_interactive", lambda: True)
        ex01 = kit.exercises[0]
        kit.stub_path(ex01).write_text(WORK, encoding="utf-8")
        result = grade("reset", "ex01", input="y\n")
        assert result.exit_code == 0, result.output
        shown = re.search(r"\.awaitlings/backups/ex01_hello_run-\d{8}-\d{6}\.py", result.output)
        assert shown is not None
        assert (kit.root / shown.group(0)).read_text(encoding="utf-8") == WORK
        assert "Undo with `grade reset ex01 --restore`" in result.output
        assert kit.stub_path(ex01).read_bytes() == kit.pristine_stub(ex01).read_bytes()
        assert all(len(line) <= 80 for line in result.output.splitlines())

    def test_restore_and_backups(self, grade: Invoke, kit: Kit) -> None:
        """--yes resets, `grade backups` lists, --restore brings the work back"""
        ex01 = kit.exercises[0]
        kit.stub_path(ex01).write_text(WORK, encoding="utf-8")
        assert grade("reset", "ex01", "--yes").exit_code == 0
        listing = grade("backups", "ex01")
        assert "ex01 Your first coroutine" in listing.output and re.search(r"  1  \d{4}-\d\d-\d\d ", listing.output)
        restored = grade("reset", "ex01", "--restore")
        assert restored.exit_code == 0, restored.output
        assert "is your version of" in restored.output
        assert kit.stub_path(ex01).read_text(encoding="utf-8") == WORK
        again = grade("reset", "ex01", "--restore", "1")
        assert "nothing changed" in again.output

    def test_all(self, grade: Invoke, kit: Kit) -> None:
        """--all resets every changed file, each backed up"""
        for ex in kit.exercises:
            kit.stub_path(ex).write_text(f"# work on {ex.id}\n", encoding="utf-8")
        result = grade("reset", "--all", "--yes")
        assert result.exit_code == 0, result.output
        assert result.output.count("your file is backed up in") == 2
        assert grade("reset", "--all").output.startswith("Every exercise file is still the original stub")

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            ((), "name one exercise"),
            (("ex01", "--all"), "name one exercise"),
            (("ex01", "--restore"), "no backups yet"),
            (("--restore", "ex01"), "name the exercise first"),
        ],
    )
    def test_usage_errors(self, grade: Invoke, args: tuple[str, ...], message: str) -> None:
        """each misuse says what to type instead"""
        result = grade("reset", *args)
        assert result.exit_code == 2 and message in result.output

    def test_no_backups(self, grade: Invoke) -> None:
        """nothing reset yet: said plainly"""
        assert "No backups of any exercise yet" in grade("backups").output


def test_watch_has_help(grade: Invoke) -> None:
    """`grade watch --help` names the keys and the polling option"""
    result = grade("watch", "--help")
    assert result.exit_code == 0
    assert "h hint, l list, n next" in result.output and "--poll" in result.output


def test_readme_learner_section_fits_80_columns() -> None:
    """the README's learner section reads well in an 80-column terminal"""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## The learner's loop") : text.index("\n## ", text.index("## The learner's loop") + 1)]
    assert "grade watch" in section and "grade reset" in section
    assert [line for line in section.splitlines() if len(line) > 80] == []


class TestFullMarks:
    """A grade at full marks names the exercise `grade list` says is next."""

    def fake_grading(self, monkeypatch: pytest.MonkeyPatch, passed: bool) -> None:
        import grader.grading

        def grade_target(kit: Kit, exercises: Any, folder: Path, **kwargs: Any) -> RunResult:
            status = CheckStatus.PASSED if passed else CheckStatus.FAILED
            results = tuple(
                exercise_result(id=e.id, slug=e.slug, title=e.title, points=e.points,
                                checks=[CheckResult("t::a", "works", status, message=None if passed else "no")])
                for e in exercises
            )  # fmt: skip
            return RunResult(target="exercises", python="3.11", exercises=results)

        monkeypatch.setattr(grader.grading, "grade_target", grade_target)

    def test_names_the_lists_next(self, grade: Invoke, kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
        """ex02 at full marks, ex01 not started: next is ex01, in `grade ex02` and `grade list` alike"""
        self.fake_grading(monkeypatch, passed=True)
        kit.stub_path(kit.exercises[1]).write_text("def add(a, b):\n    return a + b\n", encoding="utf-8")
        result = grade("ex02")
        assert result.exit_code == 0, result.output
        expected = "Next: ex01 Your first coroutine: `grade show ex01` for the task"
        assert expected in result.output
        assert expected in grade("list").output

    def test_the_last_one(self, grade: Invoke, kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
        """every exercise done: said so"""
        self.fake_grading(monkeypatch, passed=True)
        for ex in kit.exercises:
            kit.stub_path(ex).write_text(f"# done {ex.id}\n", encoding="utf-8")
        assert "Every exercise is done" in grade("ex01", "ex02").output

    def test_not_at_full_marks_no_next(self, grade: Invoke, kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
        """a failing grade stays about this exercise"""
        self.fake_grading(monkeypatch, passed=False)
        kit.stub_path(kit.exercises[1]).write_text("def add(a, b):\n    return 0\n", encoding="utf-8")
        assert "Next:" not in grade("ex02").output


class TestNotStartedReadsTheSame:
    """An untouched exercise reads the same in `grade` and in `grade list`."""

    def test_same_words_and_points(self, grade: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
        """both say "· not started" and -/10"""
        import grader.grading
        from grader.results import ExerciseStatus, zero_result

        def grade_target(kit: Kit, exercises: Any, folder: Path, **kwargs: Any) -> RunResult:
            return RunResult(target="exercises", python="3.11", exercises=tuple(
                zero_result(id=e.id, slug=e.slug, title=e.title, points=e.points, status=ExerciseStatus.NOT_STARTED,
                            message="not started yet: the file is still the stub") for e in exercises))  # fmt: skip

        monkeypatch.setattr(grader.grading, "grade_target", grade_target)
        graded = grade().output
        listed = grade("list").output
        for text in (graded, listed):
            assert re.search(r"ex01 .*· not started\s+-/10", text), text


def test_readme_quick_start_says_pytest_is_for_kit_authors() -> None:
    """the second quick-start command is the kit's own test suite, a few minutes, not for learners"""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = " ".join(text[text.index("## Quick start") : text.index("## The learner's loop")].split())
    assert "pytest" in quick
    assert "kit's own test" in quick and "three minutes" in quick
    assert "kit authors" in quick and "learner" in quick
