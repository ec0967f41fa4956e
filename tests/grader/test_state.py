"""Unit tests of grader.state: the learner's progress, remembered and never an error."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from grader.results import CheckResult, CheckStatus, ExerciseResult, ExerciseStatus, RunResult
from grader.state import STATE_FILE, State


class TestHints:
    """Hints come one at a time, in order, and the progression is remembered."""

    def test_hints_advance_and_stop_at_the_last(self, tmp_path: Path) -> None:
        """three hints: 0, 1, 2, then 2 again"""
        state = State.load(tmp_path)
        assert [state.next_hint("ex01", 3) for _ in range(5)] == [0, 1, 2, 2, 2]

    def test_exercises_progress_separately(self, tmp_path: Path) -> None:
        """each exercise has its own hint level"""
        state = State.load(tmp_path)
        state.next_hint("ex01", 3)
        state.next_hint("ex01", 3)
        assert state.next_hint("ex02", 3) == 0

    def test_progression_survives_a_restart(self, tmp_path: Path) -> None:
        """saved, loaded again, the next hint is the one after"""
        state = State.load(tmp_path)
        assert state.next_hint("ex01", 3) == 0
        state.save()
        again = State.load(tmp_path)
        assert again.next_hint("ex01", 3) == 1
        again.save()
        assert State.load(tmp_path).next_hint("ex01", 3) == 2

    def test_fewer_hints_than_remembered(self, tmp_path: Path) -> None:
        """if the manifest now has fewer hints, the last one is shown"""
        state = State(path=tmp_path / STATE_FILE, hints={"ex01": [1, 2, 3, 4]})
        assert state.next_hint("ex01", 2) == 1

    def test_a_count_from_an_older_kit_means_the_first_hints(self, tmp_path: Path) -> None:
        """a state file that counted hints ({"ex01": 2}) reads as hints 1 and 2 shown"""
        (tmp_path / STATE_FILE).write_text(json.dumps({"hints": {"ex01": 2, "ex02": "x"}}), encoding="utf-8")
        state = State.load(tmp_path)
        assert state.hints == {"ex01": [1, 2]}
        assert state.next_hint("ex01", 3) == 2

    def test_preferred_hint_first_then_the_gaps(self, tmp_path: Path) -> None:
        """a failing check points to hint 3: hint 3, then 1 and 2 (never shown), then 3 again"""
        state = State.load(tmp_path)
        assert state.next_hint("ex01", 3, prefer=3) == 2
        assert state.next_hint("ex01", 3, prefer=3) == 0
        assert [state.next_hint("ex01", 3) for _ in range(3)] == [1, 2, 2]
        state.save()
        assert State.load(tmp_path).hints == {"ex01": [1, 2, 3]}


class TestCorruptState:
    """A missing, unreadable or corrupt state file is a fresh start, never an error."""

    def test_missing_file(self, tmp_path: Path) -> None:
        """no file: no hints shown, no results"""
        state = State.load(tmp_path / "nowhere")
        assert (state.hints, state.last) == ({}, {})

    @pytest.mark.parametrize(
        "content",
        [
            "{not json",
            "",
            "[1, 2, 3]",
            '"a string"',
            '{"hints": "many"}',
            '{"hints": 5, "last": [1]}',
            '{"hints": [["ex01", 2]], "last": "yesterday"}',
            "\xff\xfe garbage",
        ],
    )
    def test_corrupt_file(self, tmp_path: Path, content: str) -> None:
        """garbage or the wrong shape is ignored"""
        (tmp_path / STATE_FILE).write_text(content, encoding="latin-1")
        state = State.load(tmp_path)
        assert (state.hints, state.last) == ({}, {})

    def test_wrong_value_types_are_dropped(self, tmp_path: Path) -> None:
        """entries of the wrong type are dropped, good ones kept"""
        data = {"hints": {"ex01": 2, "ex02": "three"}, "last": {"ex01": {"status": "passed"}, "ex02": 5}}
        (tmp_path / STATE_FILE).write_text(json.dumps(data), encoding="utf-8")
        state = State.load(tmp_path)
        assert state.hints == {"ex01": [1, 2]}
        assert state.last == {"ex01": {"status": "passed"}}

    def test_a_corrupt_file_is_replaced_on_save(self, tmp_path: Path) -> None:
        """saving after a corrupt load writes a valid file"""
        (tmp_path / STATE_FILE).write_text("{oops", encoding="utf-8")
        state = State.load(tmp_path)
        state.next_hint("ex01", 2)
        state.save()
        assert json.loads((tmp_path / STATE_FILE).read_text(encoding="utf-8"))["hints"] == {"ex01": [1]}


class TestSaving:
    """Saving is atomic: the old file or the new one, never half of either."""

    def test_creates_folder_and_gitignore(self, tmp_path: Path) -> None:
        """the state folder is created and ignored by git"""
        folder = tmp_path / ".awaitlings"
        State.load(folder).save()
        assert (folder / STATE_FILE).is_file()
        assert (folder / ".gitignore").read_text(encoding="utf-8") == "*\n"

    def test_leaves_no_temporary_files(self, tmp_path: Path) -> None:
        """after saving, only the state file and .gitignore remain"""
        state = State.load(tmp_path)
        for _ in range(3):
            state.next_hint("ex01", 3)
            state.save()
        assert sorted(p.name for p in tmp_path.iterdir()) == [".gitignore", STATE_FILE]

    def test_failed_write_keeps_the_old_file(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """if the final rename fails, the previous state is intact and no temp file is left"""
        state = State.load(tmp_path)
        state.next_hint("ex01", 3)
        state.save()
        before = (tmp_path / STATE_FILE).read_bytes()

        def refuse(src: str, dst: str) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "replace", refuse)
        state.next_hint("ex01", 3)
        with pytest.raises(OSError, match="No space left"):
            state.save()
        monkeypatch.undo()
        assert (tmp_path / STATE_FILE).read_bytes() == before
        assert sorted(p.name for p in tmp_path.iterdir()) == [".gitignore", STATE_FILE]

    def test_written_as_readable_json(self, tmp_path: Path) -> None:
        """the file is sorted, indented JSON with hints and last results"""
        state = State(path=tmp_path / STATE_FILE, hints={"ex02": 1, "ex01": 2})
        state.save()
        data = json.loads((tmp_path / STATE_FILE).read_text(encoding="utf-8"))
        assert data == {"hints": {"ex01": 2, "ex02": 1}, "last": {}}


class TestRecord:
    """The last result of each graded exercise is remembered for `grade list`."""

    def test_records_status_score_and_first_failure(self, tmp_path: Path) -> None:
        """status, points, time and the first failing check's name"""
        failing = CheckResult(id="t::b", name="serves many clients", status=CheckStatus.FAILED)
        run = RunResult(
            target="exercises", python="3.11.7",
            exercises=(
                ExerciseResult(id="ex01", slug="a", title="A", status=ExerciseStatus.PASSED, max_score=10, score=10),
                ExerciseResult(id="ex02", slug="b", title="B", status=ExerciseStatus.FAILED, max_score=10, score=4,
                               checks=(failing,)),
            ),
        )  # fmt: skip
        state = State.load(tmp_path)
        state.record(run)
        state.save()
        last = State.load(tmp_path).last
        assert last["ex01"]["status"] == "passed" and last["ex01"]["first_failure"] is None
        assert (last["ex02"]["score"], last["ex02"]["max_score"]) == (4, 10)
        assert last["ex02"]["first_failure"] == "serves many clients"
        assert len(last["ex02"]["at"]) == len("2026-01-01T00:00:00")
