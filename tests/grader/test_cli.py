"""The ``grade`` command line, driven with Click's CliRunner against a temporary kit.

The kit (``conftest.make_kit``) is found through ``AWAITLINGS_KIT``; ``grader.cli`` caches
the loaded kit in ``_KIT``, which every test resets. Commands that grade run the real
sandbox and are marked slow.
"""

from __future__ import annotations

import json
import shutil
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from grader import cli as cli_module
from grader.cli import cli, main
from grader.manifest import KIT_ENV, Kit


@pytest.fixture
def kit(make_kit: Callable[..., Kit], monkeypatch: pytest.MonkeyPatch) -> Kit:
    """A fresh test kit, the one `grade` finds."""
    kit = make_kit()
    monkeypatch.setenv(KIT_ENV, str(kit.root))
    monkeypatch.setattr(cli_module, "_KIT", None)
    monkeypatch.delenv("NO_COLOR", raising=False)
    return kit


@pytest.fixture
def grade(kit: Kit) -> Callable[..., Result]:
    """``grade("list")`` runs the command line and returns Click's result."""
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke


def run_main(args: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    """Run the console entry point (errors mapped to exit codes there)."""
    monkeypatch.setattr(sys, "argv", ["grade", *args])
    runner = CliRunner()
    with runner.isolation() as streams:
        with pytest.raises(SystemExit) as exited:
            main()
        output = streams[0].getvalue().decode() + (streams[1].getvalue().decode() if streams[1] else "")
    code = exited.value.code
    return (code if isinstance(code, int) else 1), output


def words(text: str) -> str:
    """``text`` with every run of whitespace made one space (line wrapping does not matter)."""
    return " ".join(text.split())


def row(output: str, exercise_id: str) -> list[str]:
    """The words of the line of ``output`` that lists ``exercise_id``."""
    return next(line.split() for line in output.splitlines() if exercise_id in line.split())


def write_solutions_into_exercises(kit: Kit) -> None:
    for exercise in kit.exercises:
        shutil.copyfile(kit.solutions_dir / exercise.filename, kit.stub_path(exercise))


@pytest.mark.slow
class TestGrading:
    """`grade` grades, renders in the asked format and exits 0 only at full marks."""

    def test_json_to_a_file_on_solutions(self, kit: Kit, grade: Callable[..., Result], tmp_path: Path) -> None:
        """--format json --output F writes valid JSON, prints nothing, exits 0"""
        out = tmp_path / "results.json"
        result = grade("--target", str(kit.solutions_dir), "--format", "json", "--output", str(out))
        assert result.exit_code == 0, result.output
        assert result.stdout == ""
        data = json.loads(out.read_text(encoding="utf-8"))
        assert (data["format"], data["version"], data["target"]) == ("awaitlings-results", 1, "solutions")
        assert [(e["id"], e["status"]) for e in data["exercises"]] == [("ex01", "passed"), ("ex02", "passed")]
        assert (data["score"], data["max_score"]) == (14.0, 14.0)
        assert not list(tmp_path.glob("*.tmp")), "the report is written atomically"

    def test_failures_exit_one(self, kit: Kit, grade: Callable[..., Result], tmp_path: Path) -> None:
        """a failing check makes the exit code 1; the JSON says which"""
        target = tmp_path / "work"
        target.mkdir()
        shutil.copyfile(kit.solutions_dir / "ex01_hello_run.py", target / "ex01_hello_run.py")
        (target / "ex02_adder.py").write_text("def add(a, b):\n    return a - b\n", encoding="utf-8")
        out = tmp_path / "results.json"
        result = grade("--target", str(target), "--format", "json", "--output", str(out))
        assert result.exit_code == 1
        exercises = json.loads(out.read_text(encoding="utf-8"))["exercises"]
        assert [e["status"] for e in exercises] == ["passed", "failed"]

    def test_json_on_stdout(self, kit: Kit, grade: Callable[..., Result]) -> None:
        """without --output the report goes to stdout"""
        result = grade("ex02", "--target", str(kit.solutions_dir), "--format", "json")
        assert result.exit_code == 0
        data = json.loads(result.stdout)
        assert [e["id"] for e in data["exercises"]] == ["ex02"]

    @pytest.mark.parametrize("fmt", ["gradescope", "junit"])
    def test_tool_formats(self, kit: Kit, grade: Callable[..., Result], fmt: str) -> None:
        """gradescope and junit output parse"""
        result = grade("2", "--target", str(kit.solutions_dir), "--format", fmt)
        assert result.exit_code == 0
        if fmt == "gradescope":
            assert json.loads(result.stdout)["score"] == 4.0
        else:
            assert len(ET.fromstring(result.stdout).findall("testsuite/testcase")) == 2

    def test_named_exercise_shows_each_check(self, kit: Kit, grade: Callable[..., Result]) -> None:
        """`grade ex01` lists every check with its verdict, in plain text when not a terminal"""
        result = grade("ex01", "--target", str(kit.solutions_dir))
        assert result.exit_code == 0
        assert "ex01 Your first coroutine  ✔ done  10/10" in result.stdout
        assert "main returns results in input order, not completion order" in result.stdout
        assert "\x1b[" not in result.stdout

    def test_untouched_stubs_are_not_started(self, kit: Kit, grade: Callable[..., Result]) -> None:
        """grading the fresh kit: every exercise not_started, exit 1, progress saved"""
        result = grade("--format", "json")
        assert result.exit_code == 1
        data = json.loads(result.stdout)
        assert [e["status"] for e in data["exercises"]] == ["not_started", "not_started"]
        assert data["exercises"][0]["message"] == "not started yet: the file is still the stub"
        state = json.loads((kit.state_dir / "state.json").read_text(encoding="utf-8"))
        assert state["last"]["ex01"]["status"] == "not_started"

    def test_summary_and_list_after_grading(self, kit: Kit, grade: Callable[..., Result]) -> None:
        """after `grade`, the table and `grade list` show each exercise's status"""
        write_solutions_into_exercises(kit)
        (kit.stub_path(kit.resolve("ex02"))).write_text("def add(a, b):\n    return 0\n", encoding="utf-8")
        result = grade()
        assert result.exit_code == 1
        assert "Total 10/14 · 1/2 exercises done" in result.stdout
        assert "Next: ex02: adds two ints" in result.stdout
        listing = grade("list")
        assert listing.exit_code == 0
        ex01, ex02 = row(listing.stdout, "ex01"), row(listing.stdout, "ex02")
        assert "done" in ex01 and ex01[-1] == "10/10" and "→" not in ex01
        assert "failing" in ex02 and ex02[-1] == "0/4" and ex02[0] == "→"
        assert "Next: ex02" in listing.stdout


class TestUsageErrors:
    """Mistakes on the command line exit 2 with a message that helps."""

    def test_unknown_exercise_suggests_the_closest(self, grade: Callable[..., Result]) -> None:
        """a typo gets a did-you-mean and exit code 2"""
        result = grade("ex1x")
        assert result.exit_code == 2
        assert "no exercise called 'ex1x'; did you mean 'ex01'?" in result.output

    def test_unknown_slug_in_a_command(self, grade: Callable[..., Result]) -> None:
        """subcommands resolve exercise names the same way"""
        result = grade("show", "hello_rn")
        assert result.exit_code == 2
        assert "did you mean 'hello_run'?" in result.output

    def test_unknown_format(self, grade: Callable[..., Result]) -> None:
        """an unknown --format is a usage error"""
        assert grade("--format", "xml").exit_code == 2

    def test_target_must_be_a_folder(self, grade: Callable[..., Result], tmp_path: Path) -> None:
        """a --target that does not exist is named"""
        result = grade("--target", str(tmp_path / "nowhere"))
        assert result.exit_code == 2
        assert "is not a folder" in result.output

    def test_through_the_entry_point(self, kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
        """the console script maps the same error to exit code 2"""
        code, output = run_main(["hint", "ex99"], monkeypatch)
        assert code == 2
        assert "no exercise called 'ex99'" in output


class TestUsageErrorsNameWhatWasTyped:
    """`grade` is the grading command: a usage error never shows the hidden `grade run`."""

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["nonsense"], "no exercise called 'nonsense'"),
            (["ex99"], "no exercise called 'ex99'"),
            (["--bogus"], "No such option '--bogus'"),
            (["ex01", "--format", "nope"], "'nope' is not one of"),
        ],
    )
    def test_usage_names_grade(self, kit: Kit, monkeypatch: pytest.MonkeyPatch, args: list[str],
                               message: str) -> None:  # fmt: skip
        """the usage line and the help pointer name `grade`"""
        code, output = run_main(args, monkeypatch)
        assert code == 2 and message in output
        assert "grade run" not in output
        assert "Usage: grade [OPTIONS] [EXERCISES]..." in output and "Try 'grade --help' for help." in output

    def test_help_shows_the_grading_options(self, grade: Callable[..., Result]) -> None:
        """`grade --help` (where a usage error points) lists --target, --format and the rest"""
        result = grade("--help")
        assert "[EXERCISES]... [OPTIONS]" in result.output
        assert "Grading options:" in result.output
        assert all(option in result.output for option in ("--target", "--format", "--output", "--jobs", "--strict"))
        assert "Commands:" in result.output and "run " not in result.output


class TestBrokenKit:
    """A broken kit is the grader's problem: exit 3 and what to fix."""

    def test_bad_manifest(self, kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
        """invalid TOML in the manifest: exit 3 naming the file"""
        (kit.exercises_dir / "exercises.toml").write_text("[[exercise]\n", encoding="utf-8")
        code, output = run_main(["list"], monkeypatch)
        assert code == 3
        assert "error: " in output and "exercises.toml is not valid TOML" in output

    def test_no_kit(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kit: Kit) -> None:
        """AWAITLINGS_KIT pointing nowhere: exit 3 naming the variable"""
        monkeypatch.setenv(KIT_ENV, str(tmp_path / "nothing"))
        code, output = run_main(["list"], monkeypatch)
        assert code == 3
        assert f"{KIT_ENV}=" in output


class TestShowHintList:
    """show, hint and list read the kit and the learner's progress, without grading."""

    def test_show_prints_the_task(self, grade: Callable[..., Result]) -> None:
        """the stub's docstring, the title, the points and where to edit"""
        result = grade("show", "ex01")
        assert result.exit_code == 0
        assert words(result.stdout).startswith(
            "ex01 · Your first coroutine (10 points) edit: exercises/ex01_hello_run.py"
        )
        assert "What to build" in result.stdout
        assert "Check it with `grade ex01`" in result.stdout

    def test_show_needs_the_checks(self, kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
        """without its checks file the task cannot say how it is graded: exit 3, naming the
        file and what to do"""
        kit.checks_path(kit.resolve("ex02")).unlink()
        code, output = run_main(["show", "ex02"], monkeypatch)
        assert code == 3
        assert "test_ex02_adder.py" in output and "reinstall the kit" in output

    def test_hints_come_one_at_a_time(self, grade: Callable[..., Result], kit: Kit) -> None:
        """hint ex01 twice shows hint 1, then hint 2; both remembered"""
        hints = kit.resolve("ex01").hints
        first = grade("hint", "ex01")
        second = grade("hint", "1")
        assert words(first.stdout).startswith(f"Hint 1/3 for ex01: {hints[0]}")
        assert words(second.stdout).startswith(f"Hint 2/3 for ex01: {hints[1]}")
        assert hints[0] not in words(second.stdout)
        assert "again for the next one" in second.stdout
        state = json.loads((kit.state_dir / "state.json").read_text(encoding="utf-8"))
        assert state["hints"] == {"ex01": [1, 2]}

    def test_last_hint_repeats(self, grade: Callable[..., Result], kit: Kit) -> None:
        """after the last hint, the last one is shown again, without 'again'"""
        hints = kit.resolve("ex01").hints
        for _ in range(3):
            grade("hint", "hello_run")
        result = grade("hint", "hello_run")
        assert words(result.stdout) == f"Hint 3/3 for ex01: {hints[2]}"

    def test_all_hints_so_far(self, grade: Callable[..., Result], kit: Kit) -> None:
        """--all repeats every hint shown so far"""
        grade("hint", "ex01")
        result = grade("hint", "ex01", "--all")
        hints = kit.resolve("ex01").hints
        assert words(result.stdout).startswith(f"Hint 1/3 for ex01: {hints[0]} Hint 2/3 for ex01: {hints[1]}")

    def test_hints_are_per_exercise(self, grade: Callable[..., Result]) -> None:
        """another exercise starts at its own first hint"""
        grade("hint", "ex01")
        assert words(grade("hint", "ex02").stdout).startswith("Hint 1/2 for ex02: Use +.")

    def test_list_on_a_fresh_kit(self, grade: Callable[..., Result]) -> None:
        """nothing graded yet: every exercise listed, ex01 is next"""
        result = grade("list")
        assert result.exit_code == 0
        ex01, ex02 = row(result.stdout, "ex01"), row(result.stdout, "ex02")
        assert ex01[0] == "→" and "started" in ex01 and ex01[-1] == "-/10"
        assert "→" not in ex02 and "started" in ex02 and ex02[-1] == "-/4"
        assert "`grade show ex01` for the task" in words(result.stdout)

    def test_corrupt_progress_is_a_fresh_start(self, grade: Callable[..., Result], kit: Kit) -> None:
        """a damaged state file never stops the command line"""
        kit.state_dir.mkdir()
        (kit.state_dir / "state.json").write_text("{ this is not json", encoding="utf-8")
        assert grade("list").exit_code == 0
        assert grade("hint", "ex01").stdout.startswith("Hint 1/3")

    def test_help_lists_the_commands(self, grade: Callable[..., Result]) -> None:
        """--help works and names the everyday commands"""
        result = grade("--help")
        assert result.exit_code == 0
        for command in ("list", "show", "hint", "verify"):
            assert command in result.stdout


    def test_an_option_value_is_never_read_as_a_command(self, grade: Callable[..., Result], tmp_path: Path) -> None:
        """`grade --target list` grades the folder called list; it does not run `grade list`"""
        result = grade("--target", str(tmp_path / "list"), "--format", "json")
        assert result.exit_code == 2
        assert "list" in result.output and "is not a folder" in result.output

    def test_version(self, grade: Callable[..., Result]) -> None:
        """--version prints the kit's version"""
        result = grade("--version")
        assert result.exit_code == 0 and "awaitlings" in result.stdout
