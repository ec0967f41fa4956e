"""The split runs' wire: frames carry JSON and, out of line, the raw bytes of large
values; a frame that lies about its blobs is a broken conversation, never a crash."""

from __future__ import annotations

import socket
import struct
import threading
from typing import Any

import pytest

from grader.split import wire


def codec() -> wire.Codec:
    return wire.Codec(lambda *a: object(), lambda _v: "object", lambda *a: Exception(a[1]))


def through(frame: bytes) -> dict[str, Any]:
    """``frame`` sent over a socket pair and read back whole."""
    ours, theirs = socket.socketpair()
    reader = wire.FrameReader(theirs)
    sender = threading.Thread(target=ours.sendall, args=(frame,))
    sender.start()
    try:
        while (message := reader.take()) is None:
            reader.fill(block=True, timeout=5)
        return message
    finally:
        sender.join()
        ours.close()
        theirs.close()


class TestBlobs:
    def test_large_bytes_cross_raw_and_small_ones_in_the_json(self) -> None:
        c = codec()
        big = bytes(range(256)) * 1024  # 256 KiB: over BLOB_MIN
        frame = wire.pack({"op": "call", "args": c.encode([big, b"small", {"k": big[: wire.BLOB_MIN]}])})
        assert len(frame) < 2 * len(big) + 1000  # raw, not base64 (which is 4/3 of each)
        message = through(frame)
        assert "$blobs" not in message
        assert c.decode(message["args"]) == [big, b"small", {"k": big[: wire.BLOB_MIN]}]

    def test_a_frame_takes_only_its_own_blobs(self) -> None:
        c = codec()
        first = wire.pack({"op": "a", "v": c.encode(b"x" * wire.BLOB_MIN)})
        second = wire.pack({"op": "b", "v": c.encode(b"y" * 10)})
        assert c.decode(through(first)["v"]) == b"x" * wire.BLOB_MIN
        assert "$blobs" not in second.decode("latin-1")

    @pytest.mark.parametrize(
        ("json_part", "blobs", "why"),
        [
            (b'{"op":"a","$blobs":[5],"v":{"$":"blob","i":0}}', b"abc", "do not fill"),
            (b'{"op":"a","$blobs":[3],"v":{"$":"blob","i":1}}', b"abc", "does not hold"),
            (b'{"op":"a","$blobs":"x","v":1}', b"abc", "malformed list"),
            (b'{"op":"a","v":{"$":"raw","v":"abc"}}', b"", None),
        ],
    )
    def test_lying_frames_are_refused(self, json_part: bytes, blobs: bytes, why: str | None) -> None:
        body = struct.pack(">I", len(json_part)) + json_part + blobs
        frame = struct.pack(">I", len(body)) + body
        if why is not None:
            with pytest.raises(wire.WireError, match=why):
                through(frame)
        else:  # a "raw" tag written in JSON holds a string, never bytes: refused on decoding
            with pytest.raises(wire.WireError, match="malformed blob"):
                codec().decode(through(frame)["v"])


class TestFunctionsByName:
    """The functions a process pool must pickle cross by name, from a fixed table."""

    def test_the_tables_functions_cross_as_themselves(self) -> None:
        import math

        from grader import workerprobes

        for function in (math.factorial, workerprobes.report_pid, workerprobes.call_switchboard):
            sent = codec().encode(function)
            assert sent["$"] == "named"
            assert codec().decode(sent) is function

    def test_another_function_crosses_as_a_reference(self) -> None:
        import math

        assert codec().encode(math.sqrt)["$"] == "ref"

    @pytest.mark.parametrize("name", ["os.system", "grader.workerprobes._unanswered_boards", "", None])
    def test_a_name_outside_the_table_is_refused(self, name: object) -> None:
        with pytest.raises(wire.WireError):
            codec().decode({"$": "named", "name": name})
