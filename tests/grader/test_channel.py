"""The child-parent protocol (grader.channel): typed messages, signed lines, in order."""

from __future__ import annotations

import os

import pytest

from grader import channel
from grader.channel import (
    Collected,
    CollectedCheck,
    Done,
    Error,
    Hello,
    Imported,
    Importing,
    Reader,
    Result,
    Start,
    Stuck,
    Tampered,
    Writer,
)  # fmt: skip

KEY = b"k" * 32
EVERY_KIND: list[channel.Message] = [
    Hello(42, "3.12.1", {"uid": 1000}),
    Collected((CollectedCheck("t.py::test_a", "does a", 2.0, True, 5.0, 1), CollectedCheck("t.py::test_b", "does b"))),
    Start("t.py::test_a"),
    Importing(),
    Imported(),
    Stuck("t.py::test_a", "stuck at mod.py:3"),
    Result("t.py::test_a", "failed", "wrong", "out", 0.5, False),
    Error("cannot collect"),
    Done(),
]


def written(*messages: channel.Message, key: bytes = KEY) -> bytes:
    read_end, write_end = os.pipe()
    writer = Writer(write_end, key)
    for message in messages:
        writer.send(message)
    del writer  # closes the write end
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    return b"".join(chunks)


class TestRoundTrip:
    """What the child's Writer sends, the parent's Reader gives back, equal and in order."""

    def test_every_kind_of_message(self) -> None:
        """all nine kinds survive the pipe unchanged"""
        reader = Reader(KEY)
        assert list(reader.feed(written(*EVERY_KIND))) == EVERY_KIND
        assert reader.rejected == 0

    def test_lines_split_across_reads(self) -> None:
        """a line cut between two reads is put back together"""
        data = written(*EVERY_KIND)
        reader = Reader(KEY)
        got = [m for i in range(0, len(data), 7) for m in reader.feed(data[i : i + 7])]
        assert got == EVERY_KIND


class TestForgery:
    """Lines the child's plugin did not send are dropped and counted."""

    def test_wrong_key(self) -> None:
        """signed with another key: rejected"""
        reader = Reader(KEY)
        assert list(reader.feed(written(Done(), key=b"x" * 32))) == []
        assert reader.rejected == 1

    def test_replay_and_reorder(self) -> None:
        """a genuine line sent twice, or out of order, is rejected"""
        first, second = written(Start("a"), Done()).splitlines(keepends=True)
        reader = Reader(KEY)
        assert list(reader.feed(first + first + second)) == [Start("a"), Done()]
        assert reader.rejected == 1
        reader = Reader(KEY)
        assert list(reader.feed(second + first)) == [Start("a")]
        assert reader.rejected == 1

    def test_signed_nonsense_is_no_message(self) -> None:
        """a correctly signed line that is no message (unknown type, bad check) is rejected"""
        body = b'{"seq":1,"type":"result"}'
        reader = Reader(KEY)
        assert list(reader.feed(channel.sign(KEY, body) + b" " + body + b"\n")) == []
        assert reader.rejected == 1

    def test_a_flood_without_newlines(self) -> None:
        """megabytes with no line end: tampering, said at once"""
        reader = Reader(KEY)
        with pytest.raises(Tampered):
            list(reader.feed(b"x" * (channel.MAX_LINE + 1)))


class TestCollectedCheck:
    """A check's weight, limit and hint are validated once, when collected."""

    @pytest.mark.parametrize(
        "raw",
        [
            {"id": "a", "weight": -1},
            {"id": "a", "weight": float("nan")},
            {"id": "a", "weight": "3"},
            {"id": "a", "limit": 0},
            {"id": "a", "limit": 1e9},
            {"name": "no id"},
            "not a dict",
        ],
    )
    def test_bad_values_are_refused(self, raw: object) -> None:
        """negative, NaN, text, zero or absurd numbers and missing ids are no check"""
        assert CollectedCheck.parse(raw) is None

    def test_defaults_and_hints(self) -> None:
        """name defaults to the id; a hint that is not a positive int is dropped"""
        check = CollectedCheck.parse({"id": "t::x", "hint": "2"})
        assert check == CollectedCheck("t::x", "t::x", 1.0, False, None, None)
        assert CollectedCheck.parse({"id": "t::x", "hint": 2}) == CollectedCheck("t::x", "t::x", hint=2)
