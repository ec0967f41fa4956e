"""The child-parent protocol (grader.channel): typed messages, signed lines, in order."""

from __future__ import annotations

import json
import os
import secrets

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


A = "t.py::test_a"
B = "t.py::test_b"
CHECKS = Collected((CollectedCheck(A, "does a"), CollectedCheck(B, "does b")))
OPENING: list[channel.Message] = [Hello(42, "3.12.1"), CHECKS]


def written(*messages: channel.Message, key: bytes = KEY) -> bytes:
    """What the child's Writer puts on the pipe for ``messages``."""
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


def forged(*messages: channel.Message, key: bytes = KEY) -> bytes:
    """Lines a forger holding the key writes: numbered, fresh nonces, signed, any order."""
    lines = []
    for seq, message in enumerate(messages, start=1):
        raw = {"seq": seq, "nonce": secrets.token_hex(channel.NONCE_BYTES), **channel.encode(message)}
        lines.append(signed(raw, key))
    return b"".join(lines)


def signed(raw: dict[str, object], key: bytes = KEY) -> bytes:
    body = json.dumps(raw, separators=(",", ":")).encode()
    return channel.sign(key, body) + b" " + body + b"\n"


def tampering(*messages: channel.Message) -> str:
    """What the Reader says when ``messages`` (all but the last well-formed) reach it."""
    reader = Reader(KEY)
    delivered = []
    with pytest.raises(Tampered) as raised:
        delivered.extend(reader.feed(forged(*messages)))
    assert delivered == list(messages[:-1]), "the messages before the bad one are delivered"
    assert reader.rejected == 0
    return str(raised.value)


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

    def test_every_line_carries_a_fresh_nonce(self) -> None:
        """two identical messages make lines with different, unpredictable nonces"""
        lines = written(Hello(1, "3.12.1"), Error("x"), Error("x")).splitlines()
        nonces = [json.loads(line.partition(b" ")[2])["nonce"] for line in lines]
        assert len(set(nonces)) == 3
        assert all(len(bytes.fromhex(nonce)) == channel.NONCE_BYTES for nonce in nonces)


class TestForgery:
    """Lines the child's plugin did not send are dropped and counted."""

    def test_a_line_nested_too_deep_to_parse_is_rejected(self) -> None:
        """a signed line json cannot parse without recursing too deep: rejected, not raised"""
        reader = Reader(KEY)
        body = b"[" * 200_000 + b"]" * 200_000
        assert list(reader.feed(channel.sign(KEY, body) + b" " + body + b"\n")) == []
        assert reader.rejected == 1

    def test_a_stuck_account_never_says_passed(self) -> None:
        """the status a killed check would get from its stuck account is failed or timeout"""
        raw = {"type": "stuck", "id": "t.py::a", "message": "m", "status": "passed"}
        assert channel.decode(raw) == channel.Stuck("t.py::a", "m", "timeout")
        assert channel.decode({**raw, "status": "failed"}) == channel.Stuck("t.py::a", "m", "failed")

    def test_texts_are_cropped(self) -> None:
        """a verdict's message, its output and an error arrive cropped, saying so"""
        huge = "x" * 1_000_000
        result = channel.decode({"type": "result", "id": "t.py::a", "status": "failed", "message": huge,
                                 "output": huge})  # fmt: skip
        error = channel.decode({"type": "error", "message": huge})
        assert isinstance(result, channel.Result) and isinstance(error, channel.Error)
        assert result.message is not None and len(result.message) < channel.MESSAGE_CAP + 50
        assert result.message.endswith("characters cut)")
        assert len(result.output) < channel.TEXT_CAP + 50 and len(error.message) < channel.TEXT_CAP + 50

    def test_wrong_key(self) -> None:
        """signed with another key: rejected"""
        reader = Reader(KEY)
        assert list(reader.feed(written(Done(), key=b"x" * 32))) == []
        assert reader.rejected == 1

    def test_replay_and_reorder(self) -> None:
        """a genuine line sent twice, or out of order, is rejected"""
        first, second = written(Hello(1, "3.12.1"), Done()).splitlines(keepends=True)
        reader = Reader(KEY)
        assert list(reader.feed(first + first + second)) == [Hello(1, "3.12.1"), Done()]
        assert reader.rejected == 1
        reader = Reader(KEY)
        assert list(reader.feed(second + first)) == [Hello(1, "3.12.1")]
        assert reader.rejected == 1

    def test_a_nonce_seen_before_is_rejected(self) -> None:
        """a correctly signed line with the next number but a nonce already used: rejected"""
        first = written(Hello(1, "3.12.1"))
        nonce = json.loads(first.partition(b" ")[2])["nonce"]
        reader = Reader(KEY)
        assert list(reader.feed(first + signed({"seq": 2, "nonce": nonce, "type": "done"}))) == [Hello(1, "3.12.1")]
        assert reader.rejected == 1

    @pytest.mark.parametrize("nonce", [None, 7, "", "ab"], ids=["missing", "a number", "empty", "short"])
    def test_a_line_without_a_proper_nonce_is_rejected(self, nonce: object) -> None:
        """a correctly signed, numbered line without a nonce of the right size: rejected"""
        raw = {"seq": 1, "type": "hello", "pid": 1, "python": "3.12.1"}
        if nonce is not None:
            raw["nonce"] = nonce
        reader = Reader(KEY)
        assert list(reader.feed(signed(raw))) == []
        assert reader.rejected == 1

    def test_signed_nonsense_is_no_message(self) -> None:
        """a correctly signed line that is no message (unknown type, bad check) is rejected"""
        reader = Reader(KEY)
        assert list(reader.feed(signed({"seq": 1, "nonce": "0" * 32, "type": "result"}))) == []
        assert reader.rejected == 1

    def test_a_flood_without_newlines(self) -> None:
        """megabytes with no line end: tampering, said at once"""
        reader = Reader(KEY)
        with pytest.raises(Tampered):
            list(reader.feed(b"x" * (channel.MAX_LINE + 1)))


class TestHonestConversations:
    """Every conversation the plugin can hold is accepted, message for message."""

    @pytest.mark.parametrize(
        "messages",
        [
            [*OPENING, Start(A), Importing(), Imported(), Result(A, "passed"),
             Start(B), Result(B, "failed", "wrong"), Done()],
            [*OPENING, Start(A), Importing(), Result(A, "error", "SyntaxError", import_error=True),
             Start(B), Result(B, "error", "SyntaxError", import_error=True), Done()],
            [*OPENING, Start(A), Importing(), Stuck(A, "input() at mod.py:3", "failed"),
             Result(A, "failed", "input() at mod.py:3"), Done()],
            [*OPENING, Start(A), Importing(), Imported(), Stuck(A, "asleep in mod.py:9"), Stuck(A, "still"),
             Result(A, "timeout"), Start(B), Result(B, "error", "the check was skipped: later"), Done()],
            [Hello(42, "3.12.1"), Error("cannot collect t.py"), Collected(()), Done()],
            [Hello(42, "3.12.1"), Done()],
            [*OPENING, Error("late"), Start(B), Result(B, "passed"), Done()],
            [*OPENING, Start(A), Importing(), Done()],
            [*OPENING, Start(A), Importing(), Imported()],
        ],
        ids=[
            "two checks", "the module fails to import", "a hold during import", "the watchdog and a skip",
            "a checks file that cannot be collected", "no collection at all", "an error between checks, b before a",
            "a session cut short mid-check", "a child killed mid-check",
        ],
    )  # fmt: skip
    def test_accepted(self, messages: list[channel.Message]) -> None:
        """each comes through unchanged, nothing rejected"""
        reader = Reader(KEY)
        assert list(reader.feed(written(*messages))) == messages
        assert reader.rejected == 0

    def test_a_rerun_selection(self) -> None:
        """a child killed mid-check, then a fresh one for the checks left: two conversations"""
        killed = [*OPENING, Start(A), Importing(), Stuck(A, "asleep")]
        rerun = [Hello(43, "3.12.1"), Collected((CollectedCheck(B, "does b"),)), Start(B), Result(B, "passed"), Done()]
        assert list(Reader(KEY).feed(written(*killed))) == killed
        assert list(Reader(KEY).feed(written(*rerun))) == rerun

    @pytest.mark.parametrize(
        "late",
        [
            [*OPENING, Start(A), Result(A, "passed"), Stuck(A, "too late")],
            [*OPENING, Stuck(A, "too early"), Start(A), Result(A, "passed")],
            [*OPENING, Start(A), Done(), Stuck(A, "after the session")],
        ],
        ids=["after its result", "before its start", "after done"],
    )
    def test_the_writer_holds_back_a_stuck_account_out_of_turn(self, late: list[channel.Message]) -> None:
        """the watchdog's threads race the main thread: an account for a check not running is not sent"""
        reader = Reader(KEY)
        assert list(reader.feed(written(*late))) == [m for m in late if not isinstance(m, Stuck)]
        assert reader.rejected == 0


class TestTheConversationIsWellFormed:
    """A correctly signed message out of the honest conversation is tampering, said plainly."""

    def test_hello_comes_first(self) -> None:
        """a result before hello"""
        assert "a result for 't.py::test_a' before hello" in tampering(Result(A, "passed"))

    def test_one_hello_per_run(self) -> None:
        """a second hello"""
        assert "a second hello" in tampering(*OPENING, Hello(42, "3.12.1"))

    def test_checks_are_collected_once(self) -> None:
        """a second list of checks, mid-run"""
        assert "second list of collected checks" in tampering(*OPENING, Start(A), Result(A, "failed"), CHECKS)

    def test_no_check_starts_before_collection(self) -> None:
        """a start before the checks were collected"""
        assert "before the checks were collected" in tampering(Hello(42, "3.12.1"), Start(A))

    def test_only_collected_checks_start(self) -> None:
        """a start of a check that was not collected"""
        assert "'t.py::test_z', which was not collected" in tampering(*OPENING, Start("t.py::test_z"))

    def test_a_check_starts_once_per_run(self) -> None:
        """a decided check started again"""
        assert "started 't.py::test_a' a second time" in tampering(*OPENING, Start(A), Result(A, "failed"), Start(A))

    def test_one_check_runs_at_a_time(self) -> None:
        """a start while another check runs"""
        assert "started 't.py::test_b' while 't.py::test_a' was running" in tampering(*OPENING, Start(A), Start(B))

    def test_importing_happens_inside_a_check(self) -> None:
        """importing between checks"""
        assert "importing message while no check was running" in tampering(*OPENING, Importing())

    def test_importing_once_until_imported(self) -> None:
        """importing twice in a row"""
        assert "second importing message" in tampering(*OPENING, Start(A), Importing(), Importing())

    def test_imported_follows_importing(self) -> None:
        """imported without importing"""
        assert "imported message without importing" in tampering(*OPENING, Start(A), Imported())

    def test_a_stuck_account_names_the_running_check(self) -> None:
        """a stuck account of another check"""
        message = tampering(*OPENING, Start(A), Stuck(B, "forged"))
        assert "stuck account of 't.py::test_b', which was not running" in message

    def test_a_result_names_the_running_check(self) -> None:
        """a result for another check than the running one"""
        message = tampering(*OPENING, Start(A), Result(B, "passed"))
        assert "a result for 't.py::test_b', which never started" in message

    def test_no_result_for_a_check_that_never_started(self) -> None:
        """a result between checks for one that never started"""
        message = tampering(*OPENING, Start(A), Result(A, "failed"), Result(B, "passed"))
        assert "a result for 't.py::test_b', which never started" in message

    def test_one_result_per_check(self) -> None:
        """a second result for a check, right after its first"""
        message = tampering(*OPENING, Start(A), Result(A, "failed"), Result(A, "passed"))
        assert "a second result for 't.py::test_a'" in message

    def test_a_decided_check_is_not_decided_again_during_the_next(self) -> None:
        """a second result for a check, sent during the next check"""
        message = tampering(*OPENING, Start(A), Result(A, "failed"), Start(B), Result(A, "passed"))
        assert "a second result for 't.py::test_a'" in message

    @pytest.mark.parametrize(
        "late",
        [Result(A, "passed"), Start(A), Stuck(A, "x"), Error("x"), Done(), Hello(42, "3.12.1")],
        ids=["result", "start", "stuck", "error", "done", "hello"],
    )
    def test_nothing_after_done(self, late: channel.Message) -> None:
        """any message after done (the attack: passed results from a thread that outlives the session)"""
        message = tampering(*OPENING, Start(A), Result(A, "failed"), Done(), late)
        assert message.endswith(" after done")


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
