"""Checks for ex07 threads_to_tasks: convert a threaded port scanner to tasks.

``scan`` gets fake probes (no network): coroutines that sleep on the virtual clock
(instant, and exact), count how many run at once, and insist on running on the check's
own event loop (a probe run by ``asyncio.run`` in a thread lands on another loop). The
contract leaves the design open: a Semaphore around each probe, or ``limit`` worker tasks
taking ports from a shared iterator or queue, both pass. What is checked is what the
contract says, including "while ports are waiting, ``limit`` probes run": with probes of
different lengths, the fakes record when each probe starts and ends, and a slot left
idle (on the virtual clock) while a port still waits fails. Batches of ``limit`` ports,
each awaited in full, do exactly that: a quick probe's slot stays empty until the
slowest probe of its batch is done.
"""

from __future__ import annotations

import _thread
import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from grader import probes
from grader.loops import learner_threads
from grader.probes import BarrierProbe, InFlight, exact, expect, fail

# The learner's code runs in a worker process; these checks hold proxies (grader.split).
pytestmark = pytest.mark.split

HOST = "192.0.2.7"  # TEST-NET-1: never a real host; the probes are fakes anyway
#: Virtual seconds: far more than any correct scan needs (the clock skips idle time).
BOUND_S = 10_000.0
#: Loop seconds one slow host takes to answer its probe.
SLOW_PROBE_S = 5.0
#: Loop seconds the probe of another scan, running at the same time, takes.
OTHER_SCAN_S = 1_000.0

#: When the probes ran strictly one after another (the split run cannot see which task
#: made each call, so both causes are named).
ONE_AT_A_TIME = (
    "Each probe ended before the next one started: either each probe is awaited before "
    "the next one starts, or only one task runs them all. `[worker()] * n` is such a "
    "trap: it repeats one coroutine object n times, and gather runs that one coroutine "
    "once; call `worker()` n times (`[worker() for _ in range(n)]`) to get n of them."
)

NO_THREADS = (
    "The probe is a coroutine: run it as a task on the running loop (`asyncio.gather`, "
    "`asyncio.create_task`, a TaskGroup), with an `asyncio.Semaphore(limit)` or `limit` "
    "worker tasks to bound it. No executor, no `asyncio.to_thread`, no `asyncio.run` in a "
    "thread."
)


class _FakeNet:
    """A fake ``probe``: ``port in open_ports`` after ``delay(port)`` seconds (virtual
    time; short, so that thread-based code, which runs on real time, ends quickly too)."""

    def __init__(self, open_ports: set[int], delay: Callable[[int], float] = lambda _p: 0.03) -> None:
        self.loop = asyncio.get_running_loop()
        self.open_ports = open_ports
        self.delay = delay
        self.calls: list[int] = []
        self.hosts: set[object] = set()
        self.in_flight = InFlight()
        self.foreign = 0  # calls that ran on another event loop (or outside any)
        #: (loop time, +1 a probe started / -1 it ended, port), in the order they happened.
        self.timeline: list[tuple[float, int, int]] = []
        self.finished: list[int] = []  # ports in the order their probes ended
        #: Ports whose probe was cancelled, and after how long (loop time).
        self.cancelled: dict[int, float] = {}
        #: Most threads of the learner's seen alive at a probe call (split checks).
        self.threads_seen = 0
        #: Ports whose probe started while threads of the learner's were alive: a probe
        #: handed over from a thread starts after a real-time hop the loop's clock counts.
        self.started_amid_threads: set[int] = set()

    async def __call__(self, host: str, port: int) -> bool:
        where = probes.called_from()  # split: the learner's code runs in the worker
        if where is not None:
            foreign, amid_threads = not where.on_check_loop, where.threads > 0
            self.threads_seen = max(self.threads_seen, where.threads)
        else:
            foreign, amid_threads = _running_loop() is not self.loop, bool(learner_threads())
        if foreign:
            self.foreign += 1
            return False
        self.calls.append(port)
        self.hosts.add(host)
        with self.in_flight.track():
            self.timeline.append((self.loop.time(), +1, port))
            if amid_threads:
                self.started_amid_threads.add(port)
            started = self.loop.time()
            try:
                await asyncio.sleep(self.delay(port))
            except asyncio.CancelledError:
                self.cancelled[port] = self.loop.time() - started
                raise
            finally:
                self.timeline.append((self.loop.time(), -1, port))
        self.finished.append(port)
        return port in self.open_ports

    def expect_on_this_loop(self) -> None:
        expect(
            self.foreign == 0,
            f"{self.foreign} probe call(s) ran on another event loop: `asyncio.run(...)` in a "
            "pool thread gives each probe a private loop, so anything tied to the caller's "
            f"loop (locks, queues, connections) breaks. {NO_THREADS}",
        )


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class _LoopBoundBarrier(BarrierProbe):
    """A BarrierProbe that, in a split check, refuses a call from another event loop of
    the learner's, as an asyncio object bound to the check's loop does in one process."""

    async def __call__(self, *args: Any) -> Any:
        where = probes.called_from()
        if where is not None and not where.on_check_loop:
            raise RuntimeError("this probe is bound to a different event loop than scan's")
        return await super().__call__(*args)


def _barrier_probe(parties: int, open_ports: set[int]) -> BarrierProbe:
    return _LoopBoundBarrier(parties, timeout=5.0, result=lambda _host, port: port in open_ports)


async def _scan(ex: Any, ports: list[int], probe: Any, limit: int) -> Any:
    what = f"scan({HOST!r}, {len(ports)} ports, probe, limit={limit})"
    try:
        return await probes.call_learner(what, ex.scan(HOST, list(ports), probe, limit), BOUND_S)
    except RuntimeError as exc:
        if "event loop" in str(exc) or "different loop" in str(exc):
            fail(f"{what} raised RuntimeError: {exc}. The probe ran on another event loop. {NO_THREADS}")
        raise


def _expect_ports(
    result: object,
    expected: list[int],
    what: str,
    ports: list[int],
    finished: list[int] | None = None,
) -> None:
    """The open ports, as a sorted list of ints; when only the order is wrong, say which
    order came back (``ports``: the input order, ``finished``: the order probes ended)."""
    if type(result) is not list:
        fail(f"{what} a {type(result).__name__}, not a list: `sorted(...)` returns a list; return that.")
    wrong = [x for x in result if type(x) is not int]
    if wrong:
        fail(f"{what} {result!r:.120}: the ports must be the ints from `ports`, got {wrong[0]!r:.60}.")
    if sorted(result) == expected and result != expected:
        in_input_order = [p for p in ports if p in expected]
        in_finish_order = [p for p in finished or [] if p in expected]
        if result == in_input_order:
            order = "in the order they come in `ports`"
        elif finished is not None and result == in_finish_order:
            order = "in the order their probes finished"
        else:
            order = "in neither ascending nor input order"
        fail(
            f"{what} {result}: the right ports, {order}. The contract wants the open "
            "ports ascending: return `sorted(...)` of them."
        )
    exact(result, expected, what)


@contextlib.contextmanager
def _forbid_threads() -> Iterator[list[str]]:
    """Starting a thread records where (learner's line) and raises RuntimeError."""
    started: list[str] = []
    real_start = threading.Thread.start
    real_low = _thread.start_new_thread

    def refuse(what: str) -> None:
        where = probes.learner_location(probes.TARGET_FILE or "") or "outside your file"
        started.append(f"{what} at {where}")
        raise RuntimeError(f"awaitlings: this exercise forbids threads ({what} at {where})")

    def start(self: threading.Thread) -> None:
        refuse(f"a thread ({self.name})")

    def start_new_thread(*args: Any, **kwargs: Any) -> Any:
        refuse("_thread.start_new_thread")

    threading.Thread.start = start  # type: ignore[method-assign]
    _thread.start_new_thread = start_new_thread
    try:
        yield started
    finally:
        threading.Thread.start = real_start  # type: ignore[method-assign]
        _thread.start_new_thread = real_low


@pytest.mark.virtual_time
@pytest.mark.weight(3)
@pytest.mark.hint(1)
async def test_starts_no_threads(ex):
    """starts no threads"""
    net = _FakeNet({3, 5, 8})
    ports = list(range(1, 21))
    error: BaseException | None = None
    with _forbid_threads() as started:
        try:
            await probes.call_learner("scan(20 ports, limit=5)", ex.scan(HOST, ports, net, 5), BOUND_S)
        except Exception as exc:  # the refusal (or its fallout) surfaces here
            error = exc
    if not started:
        # Split: the learner's code ran in the worker, where threads are not refused but
        # counted: where each was started (its account), and alive at a probe call
        # (its account and the kernel's).
        started = probes.worker_account("threads") or []
        if not started and net.threads_seen:
            started = [f"{net.threads_seen} thread(s) of yours alive while probes ran"]
    if started:
        fail(f"scan started {len(started)} thread(s): first {started[0]}. {NO_THREADS}")
    if error is not None:
        raise error
    net.expect_on_this_loop()


@pytest.mark.virtual_time
@pytest.mark.weight(2)
@pytest.mark.hint(1)
async def test_probes_run_concurrently(ex):
    """runs the probes concurrently"""
    ports = [22, 80, 443, 8080, 5432, 6379, 25, 53, 110, 143, 993, 3306]
    probe = _barrier_probe(len(ports), {80, 443})
    await _scan(ex, ports, probe, len(ports))
    _expect_each_port_once([port for _host, port in probe.calls], ports)
    expect(
        not probe.broken,
        f"With limit={len(ports)} and {len(ports)} ports, all probes should be in flight at once; "
        f"at most {probe.in_flight.max} were. " + (ONE_AT_A_TIME if probe.in_flight.max == 1 else
        "Start them all as tasks (`asyncio.gather(*coros)`) and await them together."),
    )


@pytest.mark.virtual_time
@pytest.mark.weight(2)
@pytest.mark.hint(2)
async def test_respects_the_limit(ex):
    """never has more than limit probes in flight"""
    ports = [(i * 7919) % 1000 + 1 for i in range(30)]  # 30 distinct ports, unsorted
    limit = 7
    net = _FakeNet(set(ports[::4]))
    await _scan(ex, ports, net, limit)
    net.expect_on_this_loop()
    peak = net.in_flight.max
    expect(
        peak <= limit,
        f"Up to {peak} probes ran at once with limit={limit}. Bound the concurrency: "
        f"`async with semaphore:` around each probe call (an `asyncio.Semaphore(limit)` "
        "created once per scan), or exactly `limit` worker tasks. A semaphore around the "
        "`await` of an already started task bounds nothing: the task runs anyway.",
    )
    _expect_each_port_once(net.calls, ports, net.timeline)
    # A second scan with a smaller limit: the limit belongs to each call.
    again = _FakeNet(set(ports[::4]))
    await _scan(ex, ports, again, 3)
    again.expect_on_this_loop()
    expect(
        again.in_flight.max <= 3,
        f"A second scan, with limit=3, ran up to {again.in_flight.max} probes at once (the "
        f"first one had limit={limit}). The semaphore (or the worker pool) was kept from the "
        "first call: at module level, in a default argument, on a class. Create it inside "
        "scan(), from this call's `limit`.",
    )
    _expect_each_port_once(again.calls, ports, again.timeline)


def _first_idle_slot(
    timeline: list[tuple[float, int, int]], ports: list[int], limit: int
) -> tuple[float, float, int, int] | None:
    """The first moment fewer than ``limit`` probes ran while a port was still waiting
    and loop time went by before the next one started: ``(from, until, busy, next port)``."""
    busy = 0
    started: set[int] = set()
    for now in sorted({at for at, _, _ in timeline}):
        for at, step, port in timeline:
            if at == now:
                busy += step
                if step > 0:
                    started.add(port)
        if busy >= limit or len(started) >= len(set(ports)):
            continue
        resume = next(((at, port) for at, step, port in timeline if at > now and step > 0), None)
        if resume is None:
            return None
        until, port = resume
        return now, until, busy, port
    return None


def _refills(timeline: list[tuple[float, int, int]]) -> list[tuple[int, bool]]:
    """Each later moment probes started: ``(probes still running once the ones ending at
    that moment were done, whether any probe ended at that very moment)``."""
    moments = sorted({at for at, step, _ in timeline if step > 0})
    refills = []
    for now in moments[1:]:
        running = sum(step for at, step, _ in timeline if at < now or (at == now and step < 0))
        refills.append((running, any(at == now and step < 0 for at, step, _ in timeline)))
    return refills


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


#: What to do instead, for every verdict of the idle-slot check.
REFILL_AT_ONCE = (
    "A slot freed by a finished probe must go to the next waiting port at once: "
    "`async with semaphore:` around each probe, all of them gathered together, or `limit` "
    "workers each taking the next port from one shared iterator (not a share of the ports "
    "fixed in advance)."
)


@pytest.mark.virtual_time
@pytest.mark.weight(2)
@pytest.mark.hint(2)
async def test_uses_the_whole_budget(ex):
    """keeps limit probes in flight while ports are waiting"""
    ports = [(i * 7919) % 1000 + 1 for i in range(30)]  # 30 distinct ports, unsorted
    limit = 7
    # Probes of different lengths, a quick one freeing its slot long before a slow one;
    # lengths off any round grid (not whole milliseconds), so a slot freed between two
    # wake-ups of a timer (a `sleep` in a polling loop) is seen idle, whatever its period.
    net = _FakeNet(set(ports[::4]), delay=lambda port: 0.0203 + (port * 37 % 11) * 0.0107 + (port % 7) * 0.00031)
    t0 = asyncio.get_running_loop().time()
    await _scan(ex, ports, net, limit)
    net.expect_on_this_loop()
    _expect_each_port_once(net.calls, ports, net.timeline)
    peak = net.in_flight.max
    if peak == 1:
        fail(f"Only one probe ran at a time with limit={limit} and {len(ports)} ports to probe. " + ONE_AT_A_TIME)
    if peak < limit:
        short = (
            "one slot short: `Semaphore(limit)`, or `limit` workers, not one fewer"
            if peak == limit - 1
            else "start every probe, and let the limit alone hold them back"
        )
        fail(
            f"At most {peak} probe(s) ran at once with limit={limit} and {len(ports)} ports "
            f"to probe: the budget is {limit} ({short})."
        )
    idle = _first_idle_slot(net.timeline, ports, limit)
    if idle is None:
        return
    since, until, busy, waiting = idle
    observed = (
        f"At {_ms(since - t0)} (loop time after scan() was called) only {busy} of the "
        f"{limit} slots were busy, while port {waiting} was still waiting: it started only "
        f"at {_ms(until - t0)}, a slot idle for {_ms(until - since)}."
    )
    refills = _refills(net.timeline)
    if len(refills) >= 2 and all(running == 0 and ended for running, ended in refills):
        fail(
            f"{observed} Each time, new probes started only at the very moment the last "
            f"probe in flight ended ({len(refills)} times): the ports went in groups, each "
            f"waiting for its slowest probe (a `gather` per slice of {limit} ports). " + REFILL_AT_ONCE
        )
    if waiting in net.started_amid_threads:
        fail(
            f"{observed} Threads of yours were running when it started: a probe handed to "
            "the loop from a thread starts only once that thread has run, and that hop "
            "takes real time, which the loop's clock counts while threads work. Run the "
            f"probes as tasks on the loop and no slot waits. {NO_THREADS}"
        )
    if not any(at == until and step < 0 for at, step, _ in net.timeline):
        fail(
            f"{observed} No probe ended at {_ms(until - t0)}: port {waiting} was started by "
            "a timer running out (a `sleep` or a timeout in scan), not by the slot that had "
            "been freed, which stayed empty until then. Do not re-check on a timer; wait on "
            "the slot itself. " + REFILL_AT_ONCE
        )
    fail(f"{observed} " + REFILL_AT_ONCE)


def _waits_in_queue_get(task: asyncio.Task[Any]) -> bool:
    """Whether ``task`` is suspended inside ``asyncio.Queue.get`` (its await chain)."""
    return any(
        frame.f_code.co_name == "get" and frame.f_globals.get("__name__") == "asyncio.queues"
        for frame in probes.await_chain(task)
    )


def _expect_each_port_once(
    calls: list[int], ports: list[int], timeline: list[tuple[float, int, int]] | None = None
) -> None:
    """Every port probed exactly once. With the probes' ``timeline``, duplicates are told
    apart: a probe that started after that port's earlier probe had answered (a retry),
    or two probes of one port in flight at the same time."""
    missing = sorted(set(ports) - set(calls))
    twice = sorted({p for p in calls if calls.count(p) > 1})
    expect(not missing, f"These ports were never probed: {missing}. Every port in `ports` gets one probe.")
    if not twice:
        return
    observed = f"These ports were probed more than once: {twice} ({len(calls)} probes for {len(ports)} ports)."
    if timeline is not None:
        retried, overlapping = _duplicates(timeline)
        if retried and not overlapping:
            fail(
                f"{observed} Each extra probe started after the same port's first probe had "
                "answered: scan probed those ports again. The contract is one probe per port, "
                "whatever it answers: use its answer (retrying, if ever, is the probe's "
                "business, not scan's)."
            )
        if overlapping and not retried:
            fail(
                f"{observed} Two probes of the same port were in flight at the same time. "
                "Tasks share memory like threads do, and switch at every `await`: a worker "
                "that reads a shared index, awaits the probe, and only then advances the index "
                "lets the other workers take the same port. Take the next port and advance in "
                "one step with no await in between: a shared iterator (`for port in it:`) or "
                "an `asyncio.Queue`."
            )
    fail(f"{observed} Every port in `ports` gets exactly one probe.")


def _duplicates(timeline: list[tuple[float, int, int]]) -> tuple[set[int], set[int]]:
    """Ports probed again after an earlier probe of theirs had ended, and ports with two
    probes in flight at once (the timeline is in the order things happened)."""
    running: dict[int, int] = {}
    ended: set[int] = set()
    retried: set[int] = set()
    overlapping: set[int] = set()
    for _at, step, port in timeline:
        if step > 0:
            if running.get(port, 0) > 0:
                overlapping.add(port)
            elif port in ended:
                retried.add(port)
            running[port] = running.get(port, 0) + 1
        else:
            running[port] -= 1
            ended.add(port)
    return retried, overlapping


@pytest.mark.virtual_time
@pytest.mark.weight(2)
@pytest.mark.hint(3)
async def test_returns_open_ports_sorted(ex):
    """returns the open ports as a sorted list of ints"""
    ports = [8080, 22, 443, 3306, 80, 25, 5432, 21, 6379, 53, 9000, 110]
    open_ports = {8080, 22, 443, 80, 6379, 9000}
    # Later ports in the input (and high ports) finish first: completion order is
    # neither input order nor sorted order. Port 22's host is slow to answer (seconds of
    # loop time, free here): the probe decides when a port is done, not scan.
    net = _FakeNet(
        open_ports,
        delay=lambda port: (
            SLOW_PROBE_S if port == 22 else 0.02 + (len(ports) - ports.index(port)) * 0.0074 + (port % 7) * 0.0022
        ),
    )
    result = await _scan(ex, ports, net, 4)
    net.expect_on_this_loop()
    if 22 in net.cancelled and isinstance(result, list) and 22 not in result:
        fail(
            f"scan(...) returned {result}, without port 22, which is open: its probe was "
            f"cancelled after {net.cancelled[22]:.2f} s (loop time), before it answered "
            f"(it takes {SLOW_PROBE_S:g} s). A timeout of your own around the probe drops "
            "slow hosts that are open; let each probe finish (a real probe has its own "
            "connection timeout)."
        )
    expect(
        net.hosts <= {HOST},
        f"The probe was called with host(s) {sorted(map(repr, net.hosts))}, not {HOST!r}: pass `host` through.",
    )
    _expect_ports(
        result, sorted(open_ports), f"scan(...) with open ports {sorted(open_ports)} returned", ports, net.finished
    )


@pytest.mark.virtual_time
@pytest.mark.weight(1)
@pytest.mark.hint(2)
async def test_limit_larger_than_ports(ex):
    """works when limit exceeds the number of ports"""
    ports = [443, 22, 80, 8443, 21]
    probe = _barrier_probe(len(ports), {22, 443})
    result = await _scan(ex, ports, probe, 100)
    expect(
        len(probe.calls) >= len(ports),
        f"With limit=100 and {len(ports)} ports, scan called the probe {len(probe.calls)} time(s), "
        "not once per port. A batch or worker scheme must not wait for `limit` ports to exist "
        "(nor drop a last, incomplete batch).",
    )
    _expect_each_port_once([port for _host, port in probe.calls], ports)
    expect(
        not probe.broken,
        f"With limit=100 and {len(ports)} ports, all {len(ports)} probes should be in flight at "
        f"once; at most {probe.in_flight.max} were." + (" " + ONE_AT_A_TIME if probe.in_flight.max == 1 else ""),
    )
    _expect_ports(result, [22, 443], "scan(5 ports, limit=100) returned", ports)


@pytest.mark.virtual_time
@pytest.mark.weight(1)
@pytest.mark.hint(2)
async def test_leaves_no_task_running(ex):
    """waits for the tasks it started, leaves none running, and waits for no other"""
    ports = [(i * 37) % 200 + 1 for i in range(20)]
    net = _FakeNet(set(ports[::3]))
    before = set(asyncio.all_tasks())
    result = await _scan(ex, ports, net, 4)
    await probes.settle()  # tasks that are just finishing get to finish
    pending = probes.worker_account("pending")  # split: the worker's tasks, its account
    if pending is not None:
        await asyncio.sleep(0.001)  # on the shared clock: the worker has run all it could
        pending = probes.worker_account("pending")
        left_names = [str(t.get("name", "")) for t in pending.get("tasks", [])]
        in_get = sum(1 for t in pending.get("tasks", []) if t.get("in_get"))
        stacks = [line for line in pending.get("stacks", [])
                  if any(line.startswith(f"task {name}:") for name in left_names)]  # fmt: skip
        left_count = len(left_names)
    else:
        left = {t for t in probes.new_tasks(before) if not t.done()}
        names = {getattr(t.get_coro(), "__qualname__", "") for t in left}
        stacks = [line for line in probes.task_stacks(asyncio.get_running_loop(), probes.TARGET_FILE)
                  if any(line.startswith(f"task {name}:") for name in names)]  # fmt: skip
        in_get = sum(1 for t in left if _waits_in_queue_get(t))
        left_count = len(left)
        await probes.cancel_tasks(left)
    if left_count:
        observed = (
            f"scan returned while {left_count} task(s) it started were still pending "
            f"({'; '.join(stacks[:2]) or 'no stack'})."
        )
        if in_get:
            fail(
                f"{observed} {in_get} of them waited in `await queue.get()`: workers looping "
                "on it never end on their own. After `await queue.join()`, cancel them (and "
                "await them, e.g. `asyncio.gather(*workers, return_exceptions=True)`), or let "
                "each worker return when the queue is empty (`get_nowait()` raising "
                "`asyncio.QueueEmpty`). Every call of scan() would otherwise leak `limit` tasks."
            )
        fail(
            f"{observed} Every task scan starts must have ended when it returns: await them "
            "all (`asyncio.gather(*tasks)`, a TaskGroup), and cancel and await any it no "
            "longer needs. Every call of scan() would otherwise leave tasks running behind it."
        )
    net.expect_on_this_loop()
    expect(type(result) is list, f"scan(20 ports, limit=4) returned a {type(result).__name__}, not a list.")
    await _expect_own_tasks_only(ex, ports)


async def _expect_own_tasks_only(ex: Any, ports: list[int]) -> None:
    """The same scan while another scan, started first, waits OTHER_SCAN_S for its one
    probe (loop time: free): it must return as soon as its own probes are done."""
    loop = asyncio.get_running_loop()
    other = _FakeNet({8080}, delay=lambda _port: OTHER_SCAN_S)
    running = asyncio.ensure_future(_scan(ex, [8080], other, 4))
    try:
        for _ in range(100):  # until the other scan's probe has started (on the shared clock)
            if other.calls or running.done():
                break
            await asyncio.sleep(0.001)
        net = _FakeNet(set(ports[::3]))
        t0 = loop.time()
        await _scan(ex, ports, net, 4)
        took = loop.time() - t0
        own = max((at for at, _, _ in net.timeline), default=t0) - t0
        if running.done() and took >= OTHER_SCAN_S / 2:
            fail(
                f"With another scan running at the same time on the same loop, scan(20 ports, "
                f"limit=4) returned after {took:.1f} s (loop time), though its own probes were "
                f"all done after {own:.2f} s: it returned only once the other scan had ended "
                f"(its one probe took {OTHER_SCAN_S:g} s). scan must wait for the tasks it "
                "started, no others: keep them and await those (`asyncio.gather(*tasks)`, a "
                "TaskGroup). `asyncio.all_tasks()`, for one, holds every task of the loop, "
                "other code's too."
            )
    finally:
        await asyncio.wait({running}, timeout=BOUND_S)
        if not running.done():
            running.cancel()


@pytest.mark.virtual_time
@pytest.mark.weight(1)
@pytest.mark.hint(3)
async def test_empty_port_list(ex):
    """returns [] for an empty list of ports"""
    net = _FakeNet(set())
    try:
        result = await _scan(ex, [], net, 4)
    except ValueError as exc:
        fail(
            f"scan with no ports raised ValueError: {exc}. `asyncio.wait()` refuses an empty "
            "set: skip it when there is nothing to wait for, or use `asyncio.gather()`, "
            "which returns [] for no awaitables."
        )
    _expect_ports(result, [], "scan with an empty list of ports returned", [])
    expect(not net.calls, f"scan called the probe {len(net.calls)} time(s) with no ports.")
