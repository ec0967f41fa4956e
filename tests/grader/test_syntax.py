"""Parsing from several threads at once (grader.syntax).

CPython 3.11 shares ``ast.parse``'s depth counter between threads: a parse interrupted by
a finalizer while another thread parses fails with a SystemError about a recursion depth
mismatch. The kit's mutant checks grade from a thread pool, and on CI the static scan of an
ex06 mutant failed that way. The race is provoked in a fresh interpreter (tiny switch
interval, garbage collected often, finalizers that run Python code) so this process's
settings stay as they are.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader import syntax

_RACE = textwrap.dedent(
    """
    import ast, gc, json, sys, threading
    from grader import syntax
    parse = ast.parse if sys.argv[1] == "ast" else syntax.parse
    source = open(sys.argv[2], encoding="utf-8").read()
    sys.setswitchinterval(1e-6)
    gc.set_threshold(50)

    class Finalized:
        def __del__(self):
            for _ in range(50):
                pass

    failures = []

    def parse_often():
        for _ in range(40):
            for _ in range(20):
                a, b = Finalized(), Finalized()
                a.other, b.other = b, a
            del a, b
            try:
                parse(source)
            except SystemError as error:
                failures.append(str(error))

    threads = [threading.Thread(target=parse_often) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps(failures[:3] + [len(failures)]))
    """
)


def _race(parser: str) -> list:
    source = Path(ast.__file__).with_name("asyncio") / "tasks.py"
    done = subprocess.run(
        [sys.executable, "-c", _RACE, parser, str(source)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(syntax.__file__).parent.parent,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


class TestParsingFromThreads:
    @pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the shared counter is CPython 3.11's")
    def test_the_race_is_real_on_this_python(self) -> None:
        """the provocation does make plain ast.parse fail here, so the next test means something"""
        *messages, count = _race("ast")
        assert count > 0
        assert "recursion depth mismatch" in messages[0]

    def test_no_parse_fails_for_another_threads_parse(self) -> None:
        """the same provocation through grader.syntax.parse: every parse succeeds"""
        assert _race("grader") == [0]


class TestRetry:
    def test_a_parse_spoiled_by_an_outside_parser_is_done_again(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """a parser outside the grader's lock can still reset the counter: that parse is retried"""
        real, calls = ast.parse, []

        def spoiled_once(source: str, filename: str = "<unknown>") -> ast.Module:
            calls.append(filename)
            if len(calls) == 1:
                raise SystemError("AST constructor recursion depth mismatch (before=36, after=29)")
            return real(source, filename)

        monkeypatch.setattr(ast, "parse", spoiled_once)
        tree = syntax.parse("x = 1\n", "exercise.py")
        assert isinstance(tree.body[0], ast.Assign)
        assert calls == ["exercise.py", "exercise.py"]

    def test_other_errors_are_the_sources_own(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """a SyntaxError, or another SystemError, is raised at once, not retried"""
        with pytest.raises(SyntaxError):
            syntax.parse("def (:\n")
        calls = []

        def broken(source: str, filename: str = "<unknown>") -> ast.Module:
            calls.append(filename)
            raise SystemError("something else")

        monkeypatch.setattr(ast, "parse", broken)
        with pytest.raises(SystemError, match="something else"):
            syntax.parse("x = 1\n")
        assert len(calls) == 1
