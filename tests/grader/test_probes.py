"""The check authors' probes that the check files share: the peer server's bounded
clean-up, the task clean-up, ``expect_finished``, the docs links, the writer watch."""

from __future__ import annotations

import asyncio

import pytest

from grader.probes import (
    Peer,
    cleaned_up,
    docs,
    expect_finished,
    first_difference,
    outcome_of,
    peer_server,
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
