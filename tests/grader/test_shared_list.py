"""A list the check owns and the learner's code fills (``SharedList``), and the worker's
stand-in for it (``CheckerList``), joined here by a direct call instead of the socket:
every use of the stand-in lands in the check's list, and the check's list accepts only
the uses it names."""

from __future__ import annotations

from typing import Any

import pytest

from grader.split.checker import SharedList, _kind_of
from grader.split.worker import CheckerList


def pair() -> tuple[SharedList, CheckerList]:
    shared = SharedList()
    calls: list[str] = []

    def use(name: str, *args: Any) -> Any:
        calls.append(name)
        return shared(name, *args)

    return shared, CheckerList(use, "[]")


class TestTheStandIn:
    def test_appends_land_in_the_checks_list(self) -> None:
        shared, there = pair()
        there.append("fetch:a")
        there.extend(["transform:A", "store:A!"])
        there += ["fetch:b"]
        there.insert(0, "start")
        assert shared == ["start", "fetch:a", "transform:A", "store:A!", "fetch:b"]

    def test_reads_see_what_the_check_holds(self) -> None:
        shared, there = pair()
        shared.extend(["a", "b", "c"])
        assert len(there) == 3 and there and there[-1] == "c" and there[0:2] == ["a", "b"]
        assert "b" in there and "z" not in there and list(there) == ["a", "b", "c"]
        assert list(reversed(there)) == ["c", "b", "a"] and there.index("b") == 1 and there.count("a") == 1
        assert there == ["a", "b", "c"] and there != ["a"] and repr(there) == "['a', 'b', 'c']"
        assert isinstance(there, list) and there + ["d"] == ["a", "b", "c", "d"]  # noqa: RUF005 (its __add__)

    def test_changes_in_place(self) -> None:
        shared, there = pair()
        shared.extend([3, 1, 2])
        there.sort()
        assert shared == [1, 2, 3]
        there.reverse()
        there[0] = 30
        del there[1]
        assert shared == [30, 1]
        there[0:1] = [7, 8]
        del there[-1:]
        assert shared == [7, 8]
        assert there.pop() == 8 and shared == [7]
        there.remove(7)
        assert shared == [] and not there
        there.append(1)
        there.clear()
        assert shared == []

    def test_is_unhashable_like_a_list(self) -> None:
        _, there = pair()
        with pytest.raises(TypeError):
            hash(there)


class TestTheChecksList:
    def test_crosses_as_a_list_reference(self) -> None:
        assert _kind_of(SharedList()) == "list"

    @pytest.mark.parametrize("use", ["__class__", "__init__", "__reduce__", "sort", "__setattr__"])
    def test_refuses_uses_it_does_not_name(self, use: str) -> None:
        with pytest.raises(TypeError, match="cannot be used"):
            SharedList([1])(use)

    def test_indexes_with_integers_only(self) -> None:
        with pytest.raises(TypeError, match="integers only"):
            SharedList([1])("__getitem__", "0")
