"""The parent's removal of a work folder the run may still be changing
(``grader.sandbox.workdir.remove``): it never follows a symbolic link, not even one put
in place of a folder between its look at the folder and its chmod."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from grader.sandbox import workdir


def test_an_unreadable_folder_is_removed(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "tmp" / "locked").mkdir(parents=True)
    (work / "tmp" / "locked" / "file").write_text("x", encoding="utf-8")
    os.chmod(work / "tmp" / "locked", 0)
    workdir.remove(work)
    assert not work.exists()


def test_a_folder_swapped_for_a_link_leaves_the_links_target_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("not the run's", encoding="utf-8")
    os.chmod(outside, 0o600)
    work = tmp_path / "work"
    (work / "locked").mkdir(parents=True)
    os.chmod(work / "locked", 0)
    real_stat = os.stat
    swapped: list[bool] = []

    def stat_then_swap(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        found = real_stat(path, *args, **kwargs)
        if path == "locked" and not swapped:  # the run wins the race, every time
            swapped.append(True)
            os.rename(work / "locked", tmp_path / "aside")
            os.symlink(outside, work / "locked")
        return found

    monkeypatch.setattr(os, "stat", stat_then_swap)
    workdir.remove(work)
    monkeypatch.undo()
    assert swapped
    assert outside.read_text(encoding="utf-8") == "not the run's"
    assert oct(os.stat(outside).st_mode & 0o777) == oct(0o600)
    assert not work.exists()
