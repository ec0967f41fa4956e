"""The static scan (``grader.sandbox.flags``), without running anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.sandbox.flags import scan

KIT = Path(__file__).resolve().parents[2]


class TestNamesBuiltFromPieces:
    """A name split into pieces shows in no literal; the compiler joins it, and the scan
    reads what the compiler built."""

    def test_a_module_table_reached_through_pieces_is_flagged(self) -> None:
        source = 'import sys\n_table = getattr(sys, "mod" + "ules")\n_here = _table["grad" + "er.probes.here"]\n'
        flags = scan(source)
        assert flags.forbidden == ()
        assert "the string 'modules', built from pieces at module level" in flags.suspicious
        assert "the string 'grader.probes.here', built from pieces at module level" in flags.suspicious

    def test_pieces_inside_a_function_name_it(self) -> None:
        source = "def reach(frame):\n    return getattr(frame, 'f_' + 'back')\n"
        assert scan(source).suspicious == ("the string 'f_back', built from pieces in reach()",)

    def test_a_literal_is_flagged_once_as_a_literal(self) -> None:
        """``"grader.plugin"`` written out is the literal rule's; the compiler's copy of it
        is not reported a second time."""
        flags = scan('NAME = "grader.plugin"\n')
        assert flags.suspicious == ("line 1: the string 'grader.plugin'",)

    def test_ordinary_joined_strings_are_not_flagged(self) -> None:
        source = 'GREETING = "Hello, " + "world"\nMODULE_DOC = "asyncio " + "streams"\n'
        assert scan(source).suspicious == ()

    @pytest.mark.parametrize("path", sorted((KIT / "solutions").glob("ex*.py")), ids=lambda p: p.stem)
    def test_no_reference_solution_builds_such_a_name(self, path: Path) -> None:
        assert not [flag for flag in scan(path.read_text()).suspicious if "built from pieces" in flag]
