"""Helpers for writing checks: observe concurrency by ordering and counting, never by
wall-clock races. Every public name is re-exported here (``from grader.probes import fail``).

- :mod:`~grader.probes.assertions`: fail a check with a teaching message (:func:`fail`,
  :func:`expect`, type-strict :func:`exact`), show bytes in it (:func:`show_bytes`,
  :func:`first_difference`) and link the Python docs (:func:`docs`).
- :mod:`~grader.probes.concurrency`: :class:`InFlight` counts calls running at once,
  :class:`EventLog` orders events, :class:`BarrierProbe` is a fake that sequential code
  cannot pass.
- :mod:`~grader.probes.blocking`: :func:`detect_blocking`, blockbuster scoped to the
  learner's module; it records every blocking call made on the loop thread, even when the
  learner's ``except Exception`` swallows the error.
- :mod:`~grader.probes.tasks`: the learner's tasks: where they wait, awaiting learner code
  with a bound (:func:`call_learner`, :func:`outcome_of`), cancelling what it leaves
  (:func:`cleaned_up`).
- :mod:`~grader.probes.network`: loopback peers with bounded clean-up (:class:`Client`,
  :func:`open_client`, :func:`open_clients`, :func:`peer_server`), a learner's connection
  handler served and watched (:func:`serve_handler`).
- :mod:`~grader.probes.streams`: bytes read while they keep coming (:func:`receive`,
  :func:`read_while_progress`), a client that never reads (:class:`Flood`), many
  clients at once (:func:`exchange`).
- :mod:`~grader.probes.pools`: :class:`Roll`, which process ran a call (from the
  kernel); :class:`Switchboard`, process-pool work the check orders.

The sandboxed child imports this package before it drops privileges: keep its imports
cheap (blockbuster is imported only when :func:`detect_blocking` runs).
"""

from __future__ import annotations

from grader.probes.assertions import docs, exact, expect, fail, first_difference, show_bytes
from grader.probes.blocking import BlockingCall, detect_blocking, learner_location
from grader.probes.concurrency import BarrierProbe, EventLog, InFlight, settle, wait_event
from grader.probes.network import (
    Client,
    HandlerPeer,
    Peer,
    WriterWatch,
    close_writer,
    documented_writelines,
    loopback_server,
    open_client,
    open_clients,
    peer_server,
    running_server,
    serve_handler,
    set_socket_buffers,
    transports_bound_to,
    watch_closing,
    watch_reads,
    watch_writer,
)
from grader.probes.pools import Roll, Switchboard
from grader.probes.streams import Flood, Received, exchange, read_while_progress, receive
from grader.probes.tasks import (
    UNSTARTED_CLOSE,
    Outcome,
    await_chain,
    call_learner,
    called_from,
    caller,
    cancel_tasks,
    cleaned_up,
    current_loop,
    expect_finished,
    kernel_sleeps,
    learner_waiting,
    logged_error,
    new_tasks,
    outcome_of,
    take_loop_problems,
    task_stacks,
    waiting_stacks,
    worker_account,
)

#: Path of the learner's file under test; set by the plugin when it loads the module.
TARGET_FILE: str | None = None

__all__ = [
    "TARGET_FILE",
    "UNSTARTED_CLOSE",
    "BarrierProbe",
    "BlockingCall",
    "Client",
    "EventLog",
    "Flood",
    "HandlerPeer",
    "InFlight",
    "Outcome",
    "Peer",
    "Received",
    "Roll",
    "Switchboard",
    "WriterWatch",
    "await_chain",
    "call_learner",
    "called_from",
    "caller",
    "cancel_tasks",
    "cleaned_up",
    "close_writer",
    "current_loop",
    "detect_blocking",
    "docs",
    "documented_writelines",
    "exact",
    "exchange",
    "expect",
    "expect_finished",
    "fail",
    "first_difference",
    "kernel_sleeps",
    "learner_location",
    "learner_waiting",
    "logged_error",
    "loopback_server",
    "new_tasks",
    "open_client",
    "open_clients",
    "outcome_of",
    "peer_server",
    "read_while_progress",
    "receive",
    "running_server",
    "serve_handler",
    "set_socket_buffers",
    "settle",
    "show_bytes",
    "take_loop_problems",
    "task_stacks",
    "transports_bound_to",
    "wait_event",
    "waiting_stacks",
    "watch_closing",
    "watch_reads",
    "watch_writer",
    "worker_account",
]
