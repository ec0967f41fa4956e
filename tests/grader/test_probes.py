"""The check authors' probes that the check files share: the peer server's bounded
clean-up, the task clean-up, ``expect_finished``, the docs links, the writer watch, the
handler served and watched, clients, reading on progress, the flood."""

from __future__ import annotations

import asyncio

import pytest

from grader import procstate
from grader.probes import (
    Flood,
    Peer,
    cleaned_up,
    docs,
    exchange,
    expect_finished,
    first_difference,
    loopback_server,
    open_client,
    open_clients,
    outcome_of,
    peer_server,
    read_while_progress,
    receive,
    serve_handler,
    show_bytes,
    streams,
    wait_event,
    watch_writer,
)


class TestDocs:
    """docs() builds the address of a page of the Python docs."""

    def test_page_and_anchor(self) -> None:
        """a library page with an anchor, a tutorial page without"""
        assert (
            docs("library/asyncio-task", "timeouts") == "https://docs.python.org/3/library/asyncio-task.html#timeouts"
        )
        assert docs("tutorial/errors") == "https://docs.python.org/3/tutorial/errors.html"


class TestFirstDifference:
    """first_difference() finds where two byte strings part."""

    def test_cases(self) -> None:
        """a differing byte, a prefix, equal strings"""
        assert first_difference(b"abcd", b"abxd") == 2
        assert first_difference(b"ab", b"abc") == 2
        assert first_difference(b"ab", b"ab") == 2


class TestShowBytes:
    """show_bytes() keeps a message readable however long the bytes."""

    def test_short_and_long(self) -> None:
        """short bytes as their repr; long ones cut, with their length"""
        assert show_bytes(b"a\xff") == "b'a\\xff'"
        assert show_bytes(b"x" * 50, limit=4) == "b'xxxx'... (50 bytes)"


class TestExpectFinished:
    """expect_finished() fails with the limit and where the call was waiting."""

    async def test_hanging_call(self) -> None:
        """a call still running at the limit fails the check, naming the limit and the advice"""
        outcome = await outcome_of(asyncio.Event().wait(), 0.01)
        with pytest.raises(pytest.fail.Exception, match=r"the call was still running after 0.01 s of loop time.*Try"):
            expect_finished(outcome, "the call", "Try harder.")

    async def test_finished_call(self) -> None:
        """a call that returned passes"""
        expect_finished(await outcome_of(asyncio.sleep(0), 1.0), "the call")


class TestCleanedUp:
    """cleaned_up() releases the fakes and cancels what was started inside the block."""

    async def test_cancels_and_releases(self) -> None:
        """a task left running is cancelled; a fake blocked on the release ends by itself"""
        release = asyncio.Event()
        async with cleaned_up(release) as before:
            stuck = asyncio.create_task(asyncio.Event().wait())
            released = asyncio.create_task(release.wait())
            assert stuck not in before
        assert stuck.cancelled()
        assert released.done() and not released.cancelled()


class TestPeerServer:
    """peer_server() records its connection and always closes it within a bound."""

    async def test_records_error_and_closes(self) -> None:
        """what the handler raised is recorded; the client sees end of file; done is set"""
        peer = Peer()

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readexactly(2)
            raise ValueError("boom")

        async with peer_server(peer, handler) as (host, port):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"hi")
            assert await asyncio.wait_for(reader.read(), 2.0) == b""
            assert await wait_event(peer.done, 2.0)
            writer.close()
            await writer.wait_closed()
        assert isinstance(peer.error, ValueError)
        assert peer.peername == writer.get_extra_info("sockname")

    async def test_stops_a_handler_that_never_ends(self) -> None:
        """leaving the block ends a handler that ignores its client: aborted, then cancelled"""
        peer = Peer()

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await asyncio.Event().wait()

        async with peer_server(peer, handler) as (host, port):
            _, writer = await asyncio.open_connection(host, port)
            assert await wait_event(peer.connected, 2.0)
        assert peer.done.is_set()
        assert peer.error is None
        writer.close()


class TestWatchWriter:
    """watch_writer() sees the handler's wait_closed, not the check's own clean-up."""

    async def test_wait_closed_seen_only_when_awaited(self) -> None:
        """the peer server's own close does not count as the handler's wait_closed"""
        watches = []

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            watches.append(watch_writer(writer))

        async with peer_server(Peer(), handler) as (host, port):
            reader, writer = await asyncio.open_connection(host, port)
            assert await asyncio.wait_for(reader.read(), 2.0) == b""
            writer.close()
            await writer.wait_closed()
        assert watches and not watches[0].wait_closed_done


def _reader(data: bytes = b"", *, eof: bool = False, error: Exception | None = None) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    if eof:
        reader.feed_eof()
    if error is not None:
        reader.set_exception(error)
    return reader


class TestReceive:
    """receive() reads while bytes keep coming and says how the reading ended."""

    async def test_complete_and_eof(self) -> None:
        """all the bytes asked for; fewer, then end of file; to end of file when no count"""
        got = await receive(_reader(b"abcdef"), 4, idle=1.0)
        assert (got.data, got.end, got.closed) == (b"abcd", "complete", False)
        got = await receive(_reader(b"ab", eof=True), 4, idle=1.0)
        assert (got.data, got.end, got.closed) == (b"ab", "eof", True)
        got = await receive(_reader(b"ab" * 40_000, eof=True), idle=1.0)
        assert (len(got.data), got.end) == (80_000, "eof")

    async def test_reset_idle_and_stopped(self) -> None:
        """a failed read is a reset; silence ends it; so does the stop event, after a last look"""
        got = await receive(_reader(error=ConnectionResetError()), 4, idle=1.0)
        assert (got.data, got.end, got.closed) == (b"", "reset", True)
        got = await receive(_reader(b"ab"), 4, idle=0.05)
        assert (got.data, got.end) == (b"ab", "idle")
        stop = asyncio.Event()
        stop.set()
        got = await receive(_reader(b"ab"), 4, idle=0.05, stop=stop)
        assert (got.data, got.end, got.closed) == (b"ab", "stopped", False)


class TestReadWhileProgress:
    """read_while_progress() reads while each read brings something."""

    async def test_each_end(self) -> None:
        """all the bytes asked for, end of file, a reset, silence"""
        got = await read_while_progress(_reader(b"abcdef"), 4, idle=1.0)
        assert (got.data, got.end) == (b"abcd", "complete")
        got = await read_while_progress(_reader(b"ab" * 40_000, eof=True), idle=1.0)
        assert (len(got.data), got.end, got.closed) == (80_000, "eof", True)
        got = await read_while_progress(_reader(error=ConnectionResetError()), 4, idle=1.0)
        assert (got.data, got.end, got.closed) == (b"", "reset", True)
        got = await read_while_progress(_reader(b"ab"), 4, idle=0.05)
        assert (got.data, got.end, got.closed) == (b"ab", "idle", False)


class TestOpenClient:
    """open_client() closes gracefully after a completed block, aborts after a failed one."""

    async def test_completed_block_flushes(self) -> None:
        """after a completed block, what the client wrote reaches the server, then end of file"""
        received = bytearray()

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            received.extend(await reader.read())

        peer = Peer()
        async with peer_server(peer, handler) as (host, port):
            async with open_client(host, port) as client:
                client.writer.write(b"x" * 1_000_000)
            assert await wait_event(peer.done, 2.0)
        assert len(received) == 1_000_000 and peer.error is None

    async def test_failed_block_aborts(self) -> None:
        """after a failed block, what a server that never reads left unsent is dropped at once"""

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await asyncio.Event().wait()

        async with peer_server(Peer(), handler) as (host, port):
            with pytest.raises(RuntimeError):
                async with open_client(host, port, buffers=32 * 1024) as client:
                    client.writer.write(b"x" * 4_000_000)
                    assert client.writer.transport.get_write_buffer_size() > 0
                    raise RuntimeError("the check failed")
            assert client.writer.transport.is_closing()
            assert client.writer.transport.get_write_buffer_size() == 0


class TestManyClients:
    """open_clients() and exchange(): per client, its echo, the end of its connection, or silence."""

    @pytest.mark.parametrize("behaviour", ["echo", "close", "silent"])
    async def test_replies(self, behaviour: str) -> None:
        """an echo comes back as bytes, a closed connection as its error, silence as None"""

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            line = await reader.readline()
            if behaviour == "echo":
                writer.write(line)
            if behaviour != "close":
                await reader.read()
            writer.close()

        payloads = [b"one\n", b"two\n", b"three\n"]
        async with (
            loopback_server(handler) as (host, port),
            open_clients(host, port, len(payloads), eof_s=1.0) as clients,
        ):
            replies = await exchange(clients, payloads, timeout=0.5)
        if behaviour == "echo":
            assert replies == payloads
        elif behaviour == "close":
            assert all(isinstance(reply, asyncio.IncompleteReadError) for reply in replies)
        else:
            assert replies == [None] * len(payloads)
        assert all(client.writer.transport.is_closing() for client in clients)


class TestServeHandler:
    """serve_handler() runs a handler under test and sees what it did with its writer."""

    async def test_closing_seen(self) -> None:
        """a handler that closes and waits is seen doing both; the client gets end of file"""

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.close()
            await writer.wait_closed()

        async with serve_handler(handler) as (peer, client):
            assert await client.read_all(2.0) == b""
            assert await wait_event(peer.done, 2.0)
        assert peer.closing_at_return and peer.seen.wait_closed_done and peer.error is None

    async def test_paused_in_drain(self) -> None:
        """a handler writing to a client that does not read is found paused in drain()"""

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"x" * 4_000_000)
            await writer.drain()

        async with serve_handler(handler, buffers=32 * 1024, high_water=1024) as (peer, _client):
            for _ in range(200):
                if peer.paused_in_drain():
                    break
                await asyncio.sleep(0.01)
            assert peer.paused_in_drain()
            assert not peer.done.is_set()


class TestFlood:
    """Flood sends without reading and counts what it wrote."""

    async def test_all_sent(self) -> None:
        """to a server that reads everything, all is sent and nothing failed"""
        received = bytearray()

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            received.extend(await reader.read())

        data = bytes(range(256)) * 1000
        async with serve_handler(handler) as (peer, client):
            async with Flood(client.writer, data, 8192) as flood:
                assert flood.task is not None
                await asyncio.wait_for(asyncio.shield(flood.task), 5.0)
                assert flood.done and not flood.failed and flood.sent == len(data)
            client.writer.write_eof()
            assert await wait_event(peer.done, 2.0)
        assert received == data

    async def test_the_kernel_account_of_a_server_that_keeps_everything(self) -> None:
        """a server that reads all and sends nothing back holds what was sent, by the
        kernel's account of the connection (less at most what is still on its way)"""
        release = asyncio.Event()

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            kept = bytearray()
            while len(kept) < len(data):
                kept += await reader.read(65536)
            await release.wait()

        data = bytes(1024 * 1024)
        async with serve_handler(handler) as (_peer, client):
            async with Flood(client.writer, data, 8192, client.reader) as flood:
                assert flood.task is not None
                await asyncio.wait_for(asyncio.shield(flood.task), 5.0)
                for _ in range(200):
                    held = flood.held_by_server()
                    if held == len(data):
                        break
                    await asyncio.sleep(0.01)
                assert held == len(data)
                # It reads whatever arrives: a stall now would be the bytes' transit.
                assert await flood.server_stopped_reading(lambda: asyncio.sleep(0)) is False
            release.set()

    @pytest.mark.parametrize(
        ("unread", "echo", "read_before", "expected"),
        [
            (0, b"", 0, False),
            (57497, b"echo of the flood", 0, False),
            (57497, b"", 0, True),
            (57497, b"echo of the flood", streams.READ_BACK_MAX, True),
        ],
        ids=["in transit", "client deaf", "client deaf, nothing to read", "client deaf again and again"],
    )
    async def test_bytes_that_cannot_reach_the_server(
        self, monkeypatch: pytest.MonkeyPatch, unread: int, echo: bytes, read_before: int, expected: bool
    ) -> None:
        """nothing unread at the server end: the bytes' transit, unless the client leaves
        unread what the server sends it (the figures of a stall seen: the server's
        acknowledgements lost in the client's full buffer, its bytes held for a minute).
        Then the stall says nothing of the server: the client reads back what it holds of
        the echo, and the flood goes on; only a client that cannot (nothing to read, or
        deaf again and again) leaves the server end taking nothing more"""

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(echo)
            await reader.read()

        monkeypatch.setattr(streams, "MAKE_ROOM_S", 0.2)
        async with serve_handler(handler) as (_peer, client):
            mine = client.writer.get_extra_info("sockname")[:2]
            theirs = client.writer.get_extra_info("peername")[:2]
            ends = (
                procstate.TcpSocket(1, "ESTABLISHED", unread, 52224, mine[1], theirs[1]),
                procstate.TcpSocket(2, "ESTABLISHED", 0, 64010, theirs[1], mine[1]),
            )
            flooding = procstate.TcpEnd(mine, theirs, unread, 275456, 193334, 52224, timer=1, timer_due_ms=2248)
            echoing = procstate.TcpEnd(theirs, mine, 0, 193335, 275456, 64009, timer=1, timer_due_ms=2248)
            monkeypatch.setattr(procstate, "tcp_connection", lambda _port, _peer: ends)
            monkeypatch.setattr(procstate, "tcp_ends", lambda _connections: [(flooding, echoing)])
            async with Flood(client.writer, b"x" * 10, 10, client.reader) as flood:
                flood.read_back += bytes(read_before)
                stopped = await flood.server_stopped_reading(lambda: asyncio.sleep(0))
            assert stopped is expected
            assert bytes(flood.read_back) == bytes(read_before) + (echo if unread and not read_before else b"")

    async def test_the_kernel_account_of_a_server_that_stops_reading(self) -> None:
        """a server that stops reading leaves the bytes unread in its socket, and holds
        only what it read before"""
        release = asyncio.Event()

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readexactly(10)
            writer.transport.pause_reading()  # type: ignore[attr-defined]
            await release.wait()

        data = bytes(4 * 1024 * 1024)
        async with serve_handler(handler, buffers=32 * 1024) as (_peer, client):
            async with Flood(client.writer, data, 8192, client.reader) as flood:
                stopped = False
                for _ in range(100):  # until the flood stalls (a backstop: it does at once)
                    assert not flood.done
                    if not await flood.moved(0.2):
                        stopped = await flood.server_stopped_reading(lambda: asyncio.sleep(0)) is True
                        if stopped:
                            break
                assert stopped
                held = flood.held_by_server()
                assert held is not None and held < 256 * 1024
            release.set()
            client.writer.transport.abort()
