"""StreamAppender: pipelined, acknowledged appends over one AppendDataPacks
stream, reconnecting and re-sending what was not acknowledged (README
"Streamed appends").

    with repo.stream_appender(on_reject=lambda pack, err: print(err)) as s:
        future = s.append(dp)            # concurrent.futures.Future -> AppendResult
    future.result().status               # "created" or "already_present"

Threads: one long-lived thread per appender ("datapack-appender") opens the
stream, reads its acknowledgements and reconnects; gRPC runs each open stream's
sender on a thread of its own, which ends with the stream. The connection is
judged by the channel's connectivity (a subscription), not by answers: the
give-up clock runs only while the channel cannot connect.
"""
from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

import grpc  # type: ignore[import-untyped]

from datapack_client.append_outcomes import (
    AppendFuture,
    chained,
    check_appender_settings,
    combined_rejections,
    pack_rejection,
    run_callback,
    settle_future,
)
from datapack_client.errors import DataPackError, UnavailableError, Violation
from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb
from datapack_client.proto.datapack.v1 import datapack_service_pb2_grpc as spb_grpc
from datapack_client.records.model import DataPackMeta
from datapack_client.records.results import AppendResult
from datapack_client.wire.results import append_result_from_proto, record_to_message
from datapack_client.wire.status import detail_to_error, from_rpc_error

LOG = logging.getLogger("datapack_client.appender")
__all__ = ["StreamAppender", "AppendFuture", "RETRYABLE_CODES", "combined_rejections", "pack_rejection"]

# How a stream may end without a verdict on its batches: reconnect and re-send
# (CANCELLED and UNKNOWN arrive as UnavailableError, see wire/status.py).
RETRYABLE_CODES = frozenset({"UNAVAILABLE", "DEADLINE_EXCEEDED", "UNKNOWN"})
READY = grpc.ChannelConnectivity.READY
IDLE = grpc.ChannelConnectivity.IDLE
POLL_SECONDS = 0.25  # how often a waiting appender looks at its give-up clock and close()


class _Batch:
    """One in-flight batch: its request, the caller's packs and their futures."""

    __slots__ = ("request", "packs", "futures")

    def __init__(self, request: spb.AppendDataPacksRequest, packs: list, futures: list[Future]):
        self.request, self.packs, self.futures = request, packs, futures


class _Session:
    """One open stream: the requests still to send on it, and its call."""

    __slots__ = ("pending", "ended", "call")

    def __init__(self, pending: list[spb.AppendDataPacksRequest]):
        self.pending: deque[spb.AppendDataPacksRequest] = deque(pending)
        self.ended = False
        self.call: Any = None


class StreamAppender:
    """Pipelined, acknowledged appends over one bidirectional stream.

    * `append(pack)` returns a concurrent.futures.Future: its result is the
      pack's AppendResult once the pack is durable; a rejected pack's future
      fails with a DataPackError naming the pack (its violations carry the
      pack id and reason; a pack refused only because another record of its
      batch was invalid has the reason BATCH_REJECTED). Cancelling a future
      does not withdraw the pack.
    * Batching: records are buffered into batches of `batch_size`; a partial
      batch leaves after `linger` seconds. At most `max_in_flight` batches wait
      for their acknowledgement; beyond that `append` blocks (backpressure).
    * Callbacks: `on_ack(result)` for each acknowledged pack, `on_reject(pack,
      error)` for each rejected one; they run on the appender's thread before
      `flush()` returns, so they must be quick and must not call flush(),
      close() or append() (which may wait for that very thread).
      An exception in a callback is logged and does not stop the appender.
    * Reconnects: a dropped stream is re-opened as soon as the channel connects
      again (connect(reconnect_backoff=...) bounds the wait between connection
      attempts, 1 s by default) and the unacknowledged batches are re-sent under
      the same writer id and batch numbers: the server answers a batch it
      already stored with its original acknowledgement, so nothing is stored
      twice. The appender gives up (UnavailableError, SERVER_UNREACHABLE) only
      after the channel could not connect for `reconnect_timeout` seconds in a
      row (`connect_timeout` before the first connection): a server that
      accepts connections is never given up on.
    * Failures: a stream failure that is not a connection loss (PERMISSION_DENIED,
      RESOURCE_EXHAUSTED from a full disk, ...) or giving up is fatal: every
      pending future fails with it, and append/flush/close raise it;
      `unacknowledged()` returns the packs not acknowledged, to re-send later.
    * Rejections: every rejected batch is in `errors`; leaving the `with` block
      flushes and raises all of them together (`raise_rejections()`).
    * Memory: `results` keeps only the last `keep_results` acknowledgements
      (None: all of them, for short-lived appenders); `counts` counts them all.
    """

    def __init__(self, channel: grpc.Channel, store: str, *, target: str = "", batch_size: int = 256,
                 max_in_flight: int = 8, linger: float = 0.05, reconnect_timeout: float = 30.0,
                 connect_timeout: float = 5.0, keep_results: int | None = 10_000,
                 on_ack: Callable[[AppendResult], Any] | None = None,
                 on_reject: Callable[[Any, DataPackError], Any] | None = None):
        check_appender_settings(batch_size, max_in_flight, linger, reconnect_timeout, connect_timeout, keep_results)
        self.store = store
        self.target = target
        self.batch_size = batch_size
        self.max_in_flight = max_in_flight
        self.linger = linger
        self.reconnect_timeout = reconnect_timeout
        self.connect_timeout = connect_timeout
        self.keep_results = keep_results
        self.on_ack = on_ack
        self.on_reject = on_reject
        self.writer_id = uuid.uuid4().hex
        self.results: list[AppendResult] = []
        self.errors: list[DataPackError] = []
        self.reconnects = 0
        self._counts = {"created": 0, "already_present": 0, "rejected": 0}
        self._channel = channel
        self._open_stream = spb_grpc.DataPackServiceStub(channel).AppendDataPacks
        self._seq = itertools.count(1)
        self._lock = threading.Condition(threading.Lock())
        self._buf: list = []           # messages of the batch being filled
        self._buf_packs: list = []     # the caller's records, for on_reject and unacknowledged()
        self._buf_futures: list[Future] = []
        self._buf_since = 0.0
        self._unacked: dict[int, _Batch] = {}
        self._session: _Session | None = None
        self._connectivity: grpc.ChannelConnectivity | None = None
        self._down_since: float | None = time.monotonic()  # not connected yet
        self._connected_once = False
        self._last_failure = ""
        self._fatal: DataPackError | None = None
        self._closed = False
        self._aborted = False
        channel.subscribe(self._on_connectivity)
        self._thread = threading.Thread(target=self._run, name="datapack-appender", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ public

    def append(self, pack: DataPackMeta | dict) -> AppendFuture:
        """Queue one record; returns a Future of its AppendResult. Blocks while
        `max_in_flight` batches are unacknowledged; raises the appender's fatal
        error, if any."""
        msg = record_to_message(pack)
        future = AppendFuture()
        with self._lock:
            if self._fatal is not None:
                raise self._fatal
            if self._closed:
                raise ValueError("append() on a closed StreamAppender")
            if not self._buf:
                self._buf_since = time.monotonic()
                self._lock.notify_all()  # the stream's sender starts the linger clock
            self._buf.append(msg)
            self._buf_packs.append(pack)
            self._buf_futures.append(future)
            while len(self._buf) >= self.batch_size:
                self._wait_for_slot()
                self._cut_batch()
        return future

    def flush(self, timeout: float | None = None) -> list[AppendResult]:
        """Send what is buffered and wait until every batch is acknowledged;
        returns `results`. Raises the fatal error, or UnavailableError (DEADLINE)
        when `timeout` seconds pass first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while True:
                if self._fatal is not None:
                    raise self._fatal
                if self._buf and len(self._unacked) < self.max_in_flight:
                    self._cut_batch()
                    continue
                if not self._buf and not self._unacked:
                    return list(self.results)
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise UnavailableError(f"{len(self._unacked)} batch(es) not acknowledged within {timeout}s",
                                           "DEADLINE")
                self._lock.wait(POLL_SECONDS if left is None else min(left, POLL_SECONDS))

    def close(self) -> None:
        """Flush, then end the stream and the appender's thread. Rejections stay
        in `errors` (the `with` block raises them)."""
        try:
            self.flush()
        finally:
            with self._lock:
                self._closed = True
                self._lock.notify_all()
            if self._thread is not threading.current_thread():
                self._thread.join(timeout=10)

    def abort(self) -> None:
        """Stop at once, without flushing (leaving the `with` block on an
        exception does this): the stream is cancelled, buffered records are not
        sent (their futures are cancelled) and in-flight ones fail with
        UnavailableError (APPENDER_CLOSED); they may or may not be stored.
        unacknowledged() lists both; re-appending them stores nothing twice."""
        with self._lock:
            self._closed = self._aborted = True
            # The buffered records stay listed by unacknowledged(); they are never sent.
            futures, self._buf_futures, self._buf = self._buf_futures, [], []
            call = self._session.call if self._session is not None else None
            self._lock.notify_all()
        for f in futures:
            f.cancel()
        if call is not None:
            call.cancel()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    def unacknowledged(self) -> list:
        """The records (as given to append) not acknowledged: in flight or
        buffered, in append order. After a fatal error, what to re-send."""
        with self._lock:
            out = [p for seq in sorted(self._unacked) for p in self._unacked[seq].packs]
            out.extend(self._buf_packs)
            return out

    @property
    def counts(self) -> dict[str, int]:
        """Packs answered so far: created, already_present, rejected."""
        with self._lock:
            return dict(self._counts)

    @property
    def fatal_error(self) -> DataPackError | None:
        """The error that ended the appender, if one did."""
        return self._fatal

    def rejections_error(self) -> DataPackError | None:
        """All rejections as one error (None without any): the rejection itself
        when there was one; else an error of their class (DataPackError when
        they differ) whose violations are all of theirs, each naming its pack."""
        with self._lock:
            errors = list(self.errors)
        return combined_rejections(errors)

    def raise_rejections(self) -> None:
        """Raise rejections_error() if any batch was rejected."""
        err = self.rejections_error()
        if err is not None:
            raise err

    def __enter__(self) -> StreamAppender:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
            self.raise_rejections()
        else:
            self.abort()

    # ------------------------------------------------------------------ batches (callers hold the lock)

    def _wait_for_slot(self) -> None:
        """Backpressure: wait until fewer than max_in_flight batches are unacknowledged."""
        while len(self._unacked) >= self.max_in_flight:
            if self._fatal is not None:
                raise self._fatal
            self._lock.wait(POLL_SECONDS)

    def _cut_batch(self) -> None:
        """Move up to batch_size buffered records into a new in-flight batch."""
        n = self.batch_size
        msgs, self._buf = self._buf[:n], self._buf[n:]
        packs, self._buf_packs = self._buf_packs[:n], self._buf_packs[n:]
        futures, self._buf_futures = self._buf_futures[:n], self._buf_futures[n:]
        req = spb.AppendDataPacksRequest(store=self.store, data_packs=msgs, writer_id=self.writer_id,
                                         batch_sequence=next(self._seq))
        self._unacked[req.batch_sequence] = _Batch(req, packs, futures)
        if self._buf:
            self._buf_since = time.monotonic()
        session = self._session
        if session is not None and not session.ended:
            session.pending.append(req)
        self._lock.notify_all()

    def _linger_wait(self) -> float | None:
        """Cut a partial batch whose linger time is over if a slot is free;
        returns how long the sender may wait before looking again."""
        if not self._buf:
            return None
        left = self._buf_since + self.linger - time.monotonic()
        if left > 0:
            return left
        if len(self._unacked) < self.max_in_flight:
            self._cut_batch()
            return 0.0
        return None  # an acknowledgement frees a slot and wakes the sender

    # ------------------------------------------------------------------ the stream's requests (gRPC's sender thread)

    def _requests(self, session: _Session) -> Iterator[spb.AppendDataPacksRequest]:
        lock = self._lock
        while True:
            with lock:
                while not session.pending:
                    if session.ended or self._closed:
                        return  # ends the stream's sending half; its sender thread exits
                    wait = self._linger_wait()
                    if not session.pending:
                        lock.wait(wait)
                req = session.pending.popleft()
            yield req

    # ------------------------------------------------------------------ the appender's thread

    def _run(self) -> None:
        try:
            self._drive()
        except Exception as exc:  # noqa: BLE001 - reaches the caller (chained) rather than printing a traceback
            LOG.debug("datapack stream appender stopped", exc_info=True)
            err: DataPackError
            if isinstance(exc, ValueError) and "closed" in str(exc):  # gRPC: "Cannot invoke RPC: Channel closed!"
                err = UnavailableError(f"the client's channel was closed under the appender: {exc}", "CHANNEL_CLOSED")
            else:
                err = DataPackError(f"stream appender stopped: {exc!r}", "APPENDER_FAILED")
            self._fail(chained(err, exc))
        finally:
            self._channel.unsubscribe(self._on_connectivity)
            self._settle()

    def _drive(self) -> None:
        unanswered = 0  # streams in a row that ended without an answer while the channel was up
        while self._await_connection():
            session = self._open_session()
            if session is None:
                return
            answered, err = self._pump(session)
            with self._lock:
                if self._done():
                    return
                if err is not None:
                    self._last_failure = err.message
                    if self._down_since is None:
                        self._down_since = time.monotonic()
            if err is not None and err.code not in RETRYABLE_CODES:
                self._fail(err)
                return
            self.reconnects += 1
            unanswered = 0 if answered else unanswered + 1
            if unanswered:  # a server that answers UNAVAILABLE (starting, stopping): do not spin
                until = time.monotonic() + min(0.5, 0.05 * 2 ** (unanswered - 1))
                with self._lock:
                    while not self._done() and time.monotonic() < until:
                        self._lock.wait(until - time.monotonic())

    def _done(self) -> bool:
        """Nothing more to do: failed, aborted, or closed with everything acknowledged (lock held)."""
        return self._fatal is not None or (self._closed and (self._aborted or not self._unacked))

    def _await_connection(self) -> bool:
        """Wait until the channel is READY (True); False when the appender is
        done: closed, failed or given up. While records wait to be sent, an idle
        channel is asked to connect and the give-up clock runs; without any,
        the appender just waits (no connection attempts, no clock)."""
        while True:
            with self._lock:
                if self._done():
                    return False
                state = self._connectivity
                if state is READY:
                    self._down_since = None
                    self._connected_once = True
                    return True
                if not (self._unacked or self._buf):
                    self._down_since = None
                    self._lock.wait(POLL_SECONDS)
                    continue
                now = time.monotonic()
                if self._down_since is None:
                    self._down_since = now
                limit = self.reconnect_timeout if self._connected_once else self.connect_timeout
                over = now - self._down_since > limit
            if over:
                self._give_up(limit)
                return False
            if state is IDLE or state is None:
                # From TRANSIENT_FAILURE gRPC goes on trying by itself (within the reconnect
                # backoff); an idle channel connects only when a call needs it.
                self._kick()
            with self._lock:
                if self._connectivity is not READY and not self._done():
                    self._lock.wait(POLL_SECONDS)

    def _kick(self) -> None:
        """Make an idle channel connect: a call that waits for the connection
        for at most POLL_SECONDS (an empty stream, which a server ends at once).
        A call rather than a connectivity subscription with try_to_connect,
        which gRPC may act on after the caller has closed the channel."""
        try:
            for _ in self._open_stream(iter(()), wait_for_ready=True, timeout=POLL_SECONDS):
                pass
        except grpc.RpcError:
            pass

    def _open_session(self) -> _Session | None:
        with self._lock:
            if self._done():
                return None
            session = _Session([self._unacked[seq].request for seq in sorted(self._unacked)])
            self._session = session
        call = self._open_stream(self._requests(session), wait_for_ready=True)
        with self._lock:
            session.call = call
            stale = self._connectivity is not READY or self._aborted
        if stale:  # the connection went away (or abort()) before the call was registered: do not wait
            call.cancel()
        return session

    def _pump(self, session: _Session) -> tuple[bool, DataPackError | None]:
        """Read the stream's answers until it ends: (any answer read, the error)."""
        answered = False
        try:
            for resp in session.call:
                answered = True
                self._on_response(resp)
            return answered, None
        except grpc.RpcError as exc:
            return answered, from_rpc_error(exc)
        finally:
            with self._lock:
                session.ended = True
                if self._session is session:
                    self._session = None
                self._lock.notify_all()

    def _on_connectivity(self, state: grpc.ChannelConnectivity) -> None:
        """gRPC's connectivity callback: the connection state is the appender's
        view of reachability; a stream whose connection left READY is cancelled,
        so one waiting for a connection that will not come back cannot hang."""
        with self._lock:
            self._connectivity = state
            if state is READY:
                self._down_since = None
                self._connected_once = True
            call = self._session.call if state is not READY and self._session is not None else None
            self._lock.notify_all()
        if call is not None:
            call.cancel()

    def _give_up(self, limit: float) -> None:
        detail = self._probe() or self._last_failure or "the channel did not connect"
        where = f" at {self.target}" if self.target else ""
        first = "" if self._connected_once else " (never connected)"
        self._fail(UnavailableError(f"no DataPack server reachable{where} for {limit:g}s{first}: {detail}",
                                    "SERVER_UNREACHABLE"))

    def _probe(self) -> str:
        """Why the channel cannot connect, in gRPC's words (one call that does not wait)."""
        try:
            for _ in self._open_stream(iter(()), timeout=2.0):
                pass
        except grpc.RpcError as exc:
            return exc.details() or exc.code().name
        return ""

    # ------------------------------------------------------------------ answers (the appender's thread)

    def _on_response(self, resp: spb.AppendDataPacksResponse) -> None:
        seq = resp.batch_sequence
        with self._lock:
            batch = self._unacked.get(seq)
            self._down_since = None
        if batch is None:
            return  # an answer to a batch already answered on an earlier stream
        if resp.HasField("rejection"):
            self._reject(batch, detail_to_error(resp.rejection))
        else:
            self._acknowledge(batch, [append_result_from_proto(r) for r in resp.results])
        with self._lock:
            del self._unacked[seq]
            self._lock.notify_all()

    def _acknowledge(self, batch: _Batch, results: list[AppendResult]) -> None:
        with self._lock:
            for r in results:
                self._counts[r.status] = self._counts.get(r.status, 0) + 1
            if self.keep_results != 0:
                self.results.extend(results)
                if self.keep_results is not None and len(self.results) > self.keep_results:
                    del self.results[:len(self.results) - self.keep_results]
        on_ack = self.on_ack
        for future, result in zip(batch.futures, results):
            settle_future(future, result)
            if on_ack is not None:
                run_callback(on_ack, result)
        if len(results) < len(batch.futures):
            missing = DataPackError("the acknowledgement has no result for this pack", "ACK_INCOMPLETE")
            for future in batch.futures[len(results):]:
                settle_future(future, None, missing)

    def _reject(self, batch: _Batch, err: DataPackError) -> None:
        with self._lock:
            self.errors.append(err)
            self._counts["rejected"] += len(batch.packs)
        own: dict[int, list[Violation]] = {}
        for v in err.violations:
            own.setdefault(v.index, []).append(v)
        for i, (future, pack) in enumerate(zip(batch.futures, batch.packs)):
            pack_err = pack_rejection(err, i, batch.request.data_packs[i].pack_id, own.get(i))
            settle_future(future, None, pack_err)
            if self.on_reject is not None:
                run_callback(self.on_reject, pack, pack_err)

    def _fail(self, err: DataPackError) -> None:
        with self._lock:
            if self._fatal is None:
                self._fatal = err
            self._lock.notify_all()

    def _settle(self) -> None:
        """The thread ends: fail (fatal error) or cancel (closed) every future
        still pending; the packs stay listed by unacknowledged()."""
        with self._lock:
            err = self._fatal
            futures = [f for seq in sorted(self._unacked) for f in self._unacked[seq].futures]
            futures.extend(self._buf_futures)
        if err is None and futures:
            err = UnavailableError("the appender was closed before these packs were acknowledged", "APPENDER_CLOSED")
        for f in futures:
            settle_future(f, None, err)
