"""``grade reset`` never loses work: backups, the stub put back, restoring a backup."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from grader import backups
from grader.errors import UsageError
from grader.manifest import Exercise, Kit

WORK = "async def greet(name, delay):\n    return 'my work in progress'\n"


@pytest.fixture
def ex01(kit: Kit) -> Exercise:
    return kit.exercises[0]


def stub_bytes(kit: Kit, exercise: Exercise) -> bytes:
    return kit.pristine_stub(exercise).read_bytes()


class TestReset:
    """The learner's file is backed up, then the stub is back."""

    def test_backs_up_then_restores_the_stub(self, kit: Kit, ex01: Exercise) -> None:
        """the backup holds exactly the learner's bytes, under .awaitlings/backups/"""
        path = kit.stub_path(ex01)
        path.write_text(WORK, encoding="utf-8")
        outcome = backups.reset(kit, ex01)
        assert outcome.action == "reset" and outcome.changed
        assert outcome.backup is not None
        assert outcome.backup.path.parent == kit.state_dir / "backups"
        assert outcome.backup.path.name.startswith("ex01_hello_run-") and outcome.backup.path.suffix == ".py"
        assert outcome.backup.path.read_text(encoding="utf-8") == WORK
        assert path.read_bytes() == stub_bytes(kit, ex01)
        assert (kit.state_dir / ".gitignore").read_text(encoding="utf-8") == "*\n"

    def test_untouched_stub_makes_no_backup(self, kit: Kit, ex01: Exercise) -> None:
        """a file that is still the stub is left alone and nothing is backed up"""
        outcome = backups.reset(kit, ex01)
        assert outcome.action == "untouched" and not outcome.changed and outcome.backup is None
        assert not (kit.state_dir / "backups").exists()

    def test_line_endings_alone_are_not_work(self, kit: Kit, ex01: Exercise) -> None:
        """the stub saved with CRLF and a trailing newline is still untouched"""
        crlf = stub_bytes(kit, ex01).replace(b"\n", b"\r\n") + b"\r\n"
        kit.stub_path(ex01).write_bytes(crlf)
        assert backups.reset(kit, ex01).action == "untouched"
        assert kit.stub_path(ex01).read_bytes() == crlf

    def test_missing_file_gets_the_stub(self, kit: Kit, ex01: Exercise) -> None:
        """a deleted exercise file comes back; there was nothing to back up"""
        kit.stub_path(ex01).unlink()
        outcome = backups.reset(kit, ex01)
        assert outcome.action == "missing" and outcome.backup is None
        assert kit.stub_path(ex01).read_bytes() == stub_bytes(kit, ex01)

    def test_two_resets_in_one_second_keep_both(self, kit: Kit, ex01: Exercise) -> None:
        """backups never overwrite each other"""
        made = []
        for text in ("first = 1\n", "second = 2\n", "third = 3\n"):
            kit.stub_path(ex01).write_text(text, encoding="utf-8")
            outcome = backups.reset(kit, ex01)
            assert outcome.backup is not None
            made.append(outcome.backup.path)
        assert len(set(made)) == 3
        listed = backups.backups(kit, ex01)
        assert [b.path.read_text(encoding="utf-8") for b in listed] == ["third = 3\n", "second = 2\n", "first = 1\n"]

    def test_an_edit_during_reset_is_not_lost(self, kit: Kit, ex01: Exercise, monkeypatch: pytest.MonkeyPatch) -> None:
        """if the file changes between reading and replacing it, nothing is replaced"""
        path = kit.stub_path(ex01)
        path.write_text(WORK, encoding="utf-8")
        real_back_up = backups.back_up

        def back_up_then_editor_saves(*args: Any) -> backups.Backup:
            made = real_back_up(*args)
            path.write_text("saved by the editor meanwhile\n", encoding="utf-8")
            return made

        monkeypatch.setattr(backups, "back_up", back_up_then_editor_saves)
        with pytest.raises(UsageError, match="changed while it was being replaced"):
            backups.reset(kit, ex01)
        assert path.read_text(encoding="utf-8") == "saved by the editor meanwhile\n"
        assert [p.name for p in path.parent.iterdir() if "awaitlings-tmp" in p.name] == []

    def test_keeps_the_file_mode(self, kit: Kit, ex01: Exercise) -> None:
        """an executable exercise file stays executable"""
        path = kit.stub_path(ex01)
        path.write_text(WORK, encoding="utf-8")
        os.chmod(path, 0o755)
        backups.reset(kit, ex01)
        assert path.stat().st_mode & 0o777 == 0o755


class TestRestore:
    """A backup can be put back; what it replaces is backed up in turn."""

    def test_restore_the_newest(self, kit: Kit, ex01: Exercise) -> None:
        """reset, then restore: the learner's work is back, and the stub needed no backup"""
        kit.stub_path(ex01).write_text(WORK, encoding="utf-8")
        backups.reset(kit, ex01)
        newest = backups.backups(kit, ex01)[0]
        outcome = backups.restore(kit, ex01, newest)
        assert outcome.action == "restored" and outcome.backup is None
        assert kit.stub_path(ex01).read_text(encoding="utf-8") == WORK
        assert len(backups.backups(kit, ex01)) == 1

    def test_restoring_over_other_work_backs_it_up(self, kit: Kit, ex01: Exercise) -> None:
        """restoring an older version keeps the current one as a new backup"""
        kit.stub_path(ex01).write_text("old = 1\n", encoding="utf-8")
        backups.reset(kit, ex01)
        old = backups.backups(kit, ex01)[0]
        kit.stub_path(ex01).write_text("newer = 2\n", encoding="utf-8")
        outcome = backups.restore(kit, ex01, old)
        assert outcome.backup is not None and outcome.backup.path.read_text(encoding="utf-8") == "newer = 2\n"
        assert kit.stub_path(ex01).read_text(encoding="utf-8") == "old = 1\n"

    def test_same_content_does_nothing(self, kit: Kit, ex01: Exercise) -> None:
        """restoring the version already in place changes nothing and backs up nothing"""
        kit.stub_path(ex01).write_text(WORK, encoding="utf-8")
        backup = backups.back_up(kit, ex01, WORK.encode())
        assert backups.restore(kit, ex01, backup).action == "same"
        assert len(backups.backups(kit, ex01)) == 1


class TestListing:
    """Backups are listed newest first, per exercise."""

    def test_only_this_exercise(self, kit: Kit, ex01: Exercise) -> None:
        """other files in the folder are not backups of ex01"""
        folder = kit.state_dir / "backups"
        folder.mkdir(parents=True)
        (folder / "ex01_hello_run-20260101-120000.py").write_text("a", encoding="utf-8")
        (folder / "ex01_hello_run-20260102-090000.py").write_text("bb", encoding="utf-8")
        (folder / "ex02_adder-20260103-090000.py").write_text("c", encoding="utf-8")
        (folder / "ex01_hello_run-notes.txt").write_text("d", encoding="utf-8")
        listed = backups.backups(kit, ex01)
        assert [(b.taken, b.size) for b in listed] == [("2026-01-02 09:00:00", 2), ("2026-01-01 12:00:00", 1)]

    def test_no_folder_no_backups(self, kit: Kit, ex01: Exercise) -> None:
        """never reset: an empty list, not an error"""
        assert backups.backups(kit, ex01) == []

    def test_differs_from_stub(self, kit: Kit, ex01: Exercise, tmp_path: Path) -> None:
        """only a file with the learner's changes differs"""
        assert not backups.differs_from_stub(kit, ex01)
        kit.stub_path(ex01).write_text(WORK, encoding="utf-8")
        assert backups.differs_from_stub(kit, ex01)
        kit.stub_path(ex01).unlink()
        assert not backups.differs_from_stub(kit, ex01)
