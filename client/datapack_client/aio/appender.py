"""AsyncStreamAppender: pipelined, acknowledged appends over one AppendDataPacks
stream, for asyncio: the synchronous StreamAppender (appender.py) with
coroutines and asyncio futures, its protocol, options and errors.

    async with repo.stream_appender(on_reject=lambda pack, err: print(err)) as s:
        future = await s.append(dp)     # returns once the record is buffered
    (await future).status               # "created" or "already_present"

Records go in batches of `batch_size` (a partial batch after `linger` seconds),
each request with the appender's writer id and the batch's sequence number; at
most `max_in_flight` batches wait for their acknowledgement (append waits
beyond that). A stream that breaks is opened again once the channel connects,
and the unacknowledged batches are re-sent in order under the same writer id
and sequence numbers: the server answers a batch it already stored with its
first acknowledgement, so every record is stored once. Two tasks run while the
appender is open: the stream's reader (which reconnects) and the linger timer.
"""
from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc  # type: ignore[import-untyped]

from datapack_client.append_outcomes import (
    LOG,
    chained,
    check_appender_settings,
    combined_rejections,
    pack_rejection,
    run_callback,
)
from datapack_client.appender import RETRYABLE_CODES
from datapack_client.errors import DataPackError, UnavailableError
from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb
from datapack_client.records.model import DataPackMeta
from datapack_client.records.results import AppendResult
from datapack_client.wire.results import append_result_from_proto, record_to_message
from datapack_client.wire.status import detail_to_error, from_rpc_error

READY = grpc.ChannelConnectivity.READY
POLL_SECONDS = 0.25  # how often a waiting appender looks at its give-up clock

# grpc.aio reports a request it could not write because the call had ended as
# INTERNAL with this text, in place of the status the server sent: the stream
# broke, or the server refused it (a read-only token, say) while a request was
# being written. Such a stream is opened again, its first request held back a
# little so that a refusal arrives intact; after MAX_FAILED_WRITES in a row the
# appender gives up with it.
FAILED_WRITE = "Internal error from Core"
MAX_FAILED_WRITES = 6


def is_failed_write(exc: grpc.aio.AioRpcError) -> bool:
    return exc.code() == grpc.StatusCode.INTERNAL and exc.details() == FAILED_WRITE


class _Batch:
    """One in-flight batch: its request, the caller's packs and their futures."""

    __slots__ = ("request", "packs", "futures")

    def __init__(self, request: spb.AppendDataPacksRequest, packs: list, futures: list[asyncio.Future]):
        self.request, self.packs, self.futures = request, packs, futures


class AsyncStreamAppender:
    """Streamed appends for asyncio, as StreamAppender (which documents each
    point at length):

    * `await append(pack)` -> an asyncio.Future of the pack's AppendResult; a
      rejected pack's future fails with a DataPackError naming it (BATCH_REJECTED
      when another record of its batch was the cause). append waits while
      `max_in_flight` batches are unacknowledged.
    * on_ack(result) per acknowledged pack, on_reject(pack, error) per rejected
      one: plain functions, called in the event loop; an exception in one is
      logged and does not stop the appender.
    * The give-up clock runs only while records wait and the channel cannot
      connect: UnavailableError (SERVER_UNREACHABLE) after `reconnect_timeout`
      seconds in a row (`connect_timeout` before the first connection).
    * A failure that is not a lost connection (PERMISSION_DENIED, ...) or giving
      up is fatal: pending futures fail with it, append/flush/aclose raise it
      (`fatal_error`); `unacknowledged()` lists the packs to send again.
    * `flush()` waits for every acknowledgement; leaving `async with` flushes
      and raises every rejection together (`raise_rejections()`); leaving it on
      an exception aborts (`abort()`).
    * Memory: `results` keeps the last `keep_results` acknowledgements (None:
      all); `counts` counts them all.
    """

    def __init__(self, client: Any, *, batch_size: int = 256, max_in_flight: int = 8, linger: float = 0.05,
                 reconnect_timeout: float = 30.0, connect_timeout: float = 5.0, keep_results: int | None = 10_000,
                 on_ack: Callable[[AppendResult], Any] | None = None,
                 on_reject: Callable[[Any, DataPackError], Any] | None = None):
        check_appender_settings(batch_size, max_in_flight, linger, reconnect_timeout, connect_timeout, keep_results)
        self._client = client  # an AsyncDataPackClient: its channel, stub, store, metadata
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
        self._seq = itertools.count(1)
        self._buf: list[tuple[Any, Any, asyncio.Future]] = []  # (message, the caller's record, its future)
        self._buf_since = 0.0
        self._unacked: dict[int, _Batch] = {}
        self._queue: asyncio.Queue = asyncio.Queue()  # requests of the open stream (None ends it)
        self._changed = asyncio.Condition()
        self._fatal: DataPackError | None = None
        self._connected_once = False
        self._last_failure = ""
        self._closed = False
        self._aborted = False
        self._tasks: list[asyncio.Task] = []

    # ------------------------------------------------------------------ public

    async def append(self, pack: DataPackMeta | dict) -> asyncio.Future:
        """Queue one record; returns a future of its AppendResult."""
        msg = record_to_message(pack)
        self._check_open()
        self._start()
        future = asyncio.get_running_loop().create_future()
        future.add_done_callback(_mark_retrieved)
        self._buf.append((msg, pack, future))
        if len(self._buf) == 1:
            self._buf_since = asyncio.get_running_loop().time()
            await self._notify()  # the linger timer, and a reader waiting for records
        while len(self._buf) >= self.batch_size:
            async with self._changed:
                await self._changed.wait_for(lambda: len(self._unacked) < self.max_in_flight or self._done())
                self._check_open()
                if len(self._buf) >= self.batch_size:
                    self._cut_batch()
        return future

    async def flush(self, timeout: float | None = None) -> list[AppendResult]:
        """Send what is buffered and wait until every batch is acknowledged;
        returns `results`. Raises the fatal error, or UnavailableError (DEADLINE)
        when `timeout` seconds pass first."""
        def settled() -> bool:  # (checked under the lock: cuts the batches a free slot allows)
            while self._buf and len(self._unacked) < self.max_in_flight and not self._done():
                self._cut_batch()
            return self._fatal is not None or not (self._buf or self._unacked) or self._aborted

        try:
            async with self._changed:
                await asyncio.wait_for(self._changed.wait_for(settled), timeout)
        except TimeoutError:
            raise UnavailableError(f"{len(self._unacked)} batch(es) not acknowledged within {timeout}s",
                                   "DEADLINE") from None
        if self._fatal is not None:
            raise self._fatal
        return list(self.results)

    async def aclose(self) -> None:
        """Flush, then end the stream and the appender's tasks."""
        try:
            if self._tasks:
                await self.flush()
        finally:
            self._closed = True
            self._queue.put_nowait(None)
            await self._notify()
            await self._stopped(wait=True)

    def abort(self) -> None:
        """Stop at once, without flushing: buffered records are not sent (their
        futures are cancelled), in-flight ones fail with UnavailableError
        (APPENDER_CLOSED) and may or may not be stored; unacknowledged() lists both."""
        self._closed = self._aborted = True
        for _msg, _pack, future in self._buf:
            future.cancel()
        for task in self._tasks:
            task.cancel()

    def unacknowledged(self) -> list:
        """The records (as given to append) not acknowledged, in append order."""
        return ([p for seq in sorted(self._unacked) for p in self._unacked[seq].packs]
                + [pack for _msg, pack, _future in self._buf])

    @property
    def counts(self) -> dict[str, int]:
        """Packs answered so far: created, already_present, rejected."""
        return dict(self._counts)

    @property
    def fatal_error(self) -> DataPackError | None:
        return self._fatal

    def rejections_error(self) -> DataPackError | None:
        """All rejections as one error (None without any), as StreamAppender's."""
        return combined_rejections(self.errors)

    def raise_rejections(self) -> None:
        err = self.rejections_error()
        if err is not None:
            raise err

    async def __aenter__(self) -> AsyncStreamAppender:
        self._start()
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
            await self._stopped(wait=False)
            return
        await self.aclose()
        self.raise_rejections()

    # ------------------------------------------------------------------ batches

    def _check_open(self) -> None:
        if self._fatal is not None:
            raise self._fatal
        if self._closed:
            raise ValueError("append() on a closed AsyncStreamAppender")

    def _done(self) -> bool:
        """Nothing more to do: failed, aborted, or closed with everything acknowledged."""
        return self._fatal is not None or (self._closed and (self._aborted or not self._unacked))

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _cut_batch(self) -> None:
        """Move up to batch_size buffered records into a new in-flight batch."""
        taken, self._buf = self._buf[:self.batch_size], self._buf[self.batch_size:]
        req = spb.AppendDataPacksRequest(store=self._client.store, data_packs=[m for m, _p, _f in taken],
                                         writer_id=self.writer_id, batch_sequence=next(self._seq))
        self._unacked[req.batch_sequence] = _Batch(req, [p for _m, p, _f in taken], [f for _m, _p, f in taken])
        if self._buf:
            self._buf_since = asyncio.get_running_loop().time()
        self._queue.put_nowait(req)

    def _start(self) -> None:
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._run(), name="datapack-appender"),
                           asyncio.create_task(self._linger(), name="datapack-linger")]

    async def _stopped(self, wait: bool) -> None:
        if not self._tasks:
            return
        if wait:  # the request stream has ended: the server closes the call once it has answered
            await asyncio.wait(self._tasks[:1], timeout=max(10.0, self._client.timeout))
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._settle()  # again: a task cancelled before its first step runs no `finally`

    async def _linger(self) -> None:
        """Send a partial batch once it has waited `linger` seconds (and a slot is free)."""
        loop = asyncio.get_running_loop()
        while not self._done():
            async with self._changed:
                await self._changed.wait_for(lambda: self._buf or self._done())
            left = self._buf_since + self.linger - loop.time()
            if left > 0:
                await asyncio.sleep(left)
                continue
            async with self._changed:
                await self._changed.wait_for(lambda: len(self._unacked) < self.max_in_flight or self._done())
                if self._buf and not self._done() and loop.time() - self._buf_since >= self.linger:
                    self._cut_batch()

    # ------------------------------------------------------------------ the stream (the reader task)

    async def _run(self) -> None:
        try:
            await self._drive()
        except asyncio.CancelledError:
            if not self._closed and self._fatal is None:  # cancelled by someone else than abort() / aclose()
                self._fatal = UnavailableError("the appender's task was cancelled", "APPENDER_CLOSED")
            raise
        except Exception as exc:  # noqa: BLE001 - reaches the caller (chained) rather than a task traceback
            LOG.debug("datapack stream appender stopped", exc_info=True)
            self._fatal = self._fatal or chained(DataPackError(f"stream appender stopped: {exc!r}", "APPENDER_FAILED"),
                                                 exc)
        finally:
            self._settle()
            # Wake whoever waits in flush() or append() (a new task: this one may be cancelled).
            asyncio.get_running_loop().create_task(self._notify())

    async def _drive(self) -> None:
        unanswered = 0  # streams in a row that ended without an answer
        failed_writes = 0  # streams in a row that ended with FAILED_WRITE only
        while await self._await_connection():
            answered, err, failed_write = await self._stream(failed_writes)
            if self._done() or (err is None and self._closed):
                return
            if err is not None:  # (else the server ended the stream early: open another)
                self._last_failure = err.message
                failed_writes = failed_writes + 1 if failed_write else 0
                if failed_writes > MAX_FAILED_WRITES or (not failed_writes and err.code not in RETRYABLE_CODES):
                    await self._fail(err)
                    return
            self.reconnects += 1
            unanswered = 0 if answered else unanswered + 1
            if unanswered:  # a server that answers UNAVAILABLE (starting, stopping): do not spin
                await asyncio.sleep(min(0.5, 0.05 * 2 ** (unanswered - 1)))

    async def _await_connection(self) -> bool:
        """Wait until the channel is READY (True); False when the appender is
        done. While records wait to be sent the channel is asked to connect and
        the give-up clock runs; without any, the appender just waits."""
        loop = asyncio.get_running_loop()
        channel = self._client.channel
        down_since: float | None = None
        while not self._done():
            if channel.get_state(try_to_connect=False) is READY:
                self._connected_once = True
                return True
            if not (self._unacked or self._buf):
                async with self._changed:
                    await self._changed.wait_for(lambda: self._unacked or self._buf or self._done())
                down_since = None
                continue
            down_since = down_since if down_since is not None else loop.time()
            limit = self.reconnect_timeout if self._connected_once else self.connect_timeout
            if loop.time() - down_since > limit:
                await self._give_up(limit)
                return False
            try:
                await asyncio.wait_for(channel.channel_ready(), POLL_SECONDS)
            except TimeoutError:
                pass
        return False

    async def _stream(self, failed_writes: int) -> tuple[bool, DataPackError | None, bool]:
        """One stream until it ends: (any answer read, the error it ended with,
        whether that error is FAILED_WRITE).
        It sends every unacknowledged batch again, in order, then the new ones.
        After `failed_writes` streams that ended with FAILED_WRITE, its first
        request waits a little (more each time) for the server to refuse it."""
        grace = min(2.0, 0.1 * 2 ** (failed_writes - 1)) if failed_writes else 0.0
        queue = self._queue = asyncio.Queue()
        for seq in sorted(self._unacked):
            queue.put_nowait(self._unacked[seq].request)
        if self._closed:
            queue.put_nowait(None)
        calls: list = []
        call = self._client.stub.AppendDataPacks(_requests(queue, calls, grace), metadata=self._client.metadata)
        calls.append(call)
        answered = False
        try:
            async for resp in call:
                answered = True
                await self._on_response(resp)
            return answered, None, False
        except grpc.aio.AioRpcError as exc:
            return answered, from_rpc_error(exc), is_failed_write(exc)
        except asyncio.CancelledError:
            if _cancelling_this_task() or self._aborted:
                raise
            # grpc.aio cancels a call whose request writer failed; the stream is broken, not the appender.
            return answered, UnavailableError("the stream was cancelled by gRPC", "CANCELLED"), False
        finally:
            call.cancel()  # a no-op once the call has ended
            queue.put_nowait(None)  # ends the request generator, and gRPC's task that reads it

    async def _give_up(self, limit: float) -> None:
        detail = await self._probe() or self._last_failure or "the channel did not connect"
        first = "" if self._connected_once else " (never connected)"
        await self._fail(UnavailableError(
            f"no DataPack server reachable at {self._client.target} for {limit:g}s{first}: {detail}",
            "SERVER_UNREACHABLE"))

    async def _probe(self) -> str:
        """Why the channel cannot connect, in gRPC's words (one call that does not wait)."""
        try:
            await self._client.stub.ListTasks(spb.ListTasksRequest(store=self._client.store), timeout=2.0,
                                              metadata=self._client.metadata)
        except grpc.aio.AioRpcError as exc:
            return exc.details() or exc.code().name
        return ""

    # ------------------------------------------------------------------ answers

    async def _on_response(self, resp: spb.AppendDataPacksResponse) -> None:
        batch = self._unacked.get(resp.batch_sequence)
        if batch is None:
            return  # an answer to a batch already answered on an earlier stream
        if resp.HasField("rejection"):
            self._reject(batch, detail_to_error(resp.rejection))
        else:
            self._acknowledge(batch, [append_result_from_proto(r) for r in resp.results])
        del self._unacked[resp.batch_sequence]
        await self._notify()

    def _acknowledge(self, batch: _Batch, results: list[AppendResult]) -> None:
        for r in results:
            self._counts[r.status] = self._counts.get(r.status, 0) + 1
        if self.keep_results != 0:
            self.results.extend(results)
            if self.keep_results is not None and len(self.results) > self.keep_results:
                del self.results[:len(self.results) - self.keep_results]
        for future, result in zip(batch.futures, results):
            _resolve(future, result)
            if self.on_ack is not None:
                run_callback(self.on_ack, result)
        missing = DataPackError("the acknowledgement has no result for this pack", "ACK_INCOMPLETE")
        for future in batch.futures[len(results):]:
            _resolve(future, None, missing)

    def _reject(self, batch: _Batch, err: DataPackError) -> None:
        self.errors.append(err)
        self._counts["rejected"] += len(batch.packs)
        own: dict[int, list] = {}
        for v in err.violations:
            own.setdefault(v.index, []).append(v)
        for i, (future, pack) in enumerate(zip(batch.futures, batch.packs)):
            pack_err = pack_rejection(err, i, batch.request.data_packs[i].pack_id, own.get(i))
            _resolve(future, None, pack_err)
            if self.on_reject is not None:
                run_callback(self.on_reject, pack, pack_err)

    async def _fail(self, err: DataPackError) -> None:
        if self._fatal is None:
            self._fatal = err
        await self._notify()

    def _settle(self) -> None:
        """The reader ends: fail (fatal error) or close every future still
        pending; the packs stay listed by unacknowledged()."""
        futures = [f for seq in sorted(self._unacked) for f in self._unacked[seq].futures]
        futures.extend(f for _m, _p, f in self._buf)
        err = self._fatal or UnavailableError("the appender was closed before these packs were acknowledged",
                                              "APPENDER_CLOSED")
        for future in futures:
            _resolve(future, None, err)


async def _requests(queue: asyncio.Queue, calls: list, grace: float) -> AsyncIterator[spb.AppendDataPacksRequest]:
    """The requests of the stream `calls[0]`: the queue's, until None."""
    if grace:
        call = calls[0]
        ended = asyncio.Event()
        call.add_done_callback(lambda _call: ended.set())
        try:
            await asyncio.wait_for(ended.wait(), grace)
        except TimeoutError:
            pass  # not refused: the server waits for requests
        if call.done():
            return
    while True:
        req = await queue.get()
        if req is None:
            return
        yield req


def _cancelling_this_task() -> bool:
    """Whether the running task itself is being cancelled (always assumed
    before Python 3.11, which cannot tell)."""
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return cancelling is None or cancelling() > 0


def _resolve(future: asyncio.Future, result: Any, error: BaseException | None = None) -> None:
    """Set a future's outcome unless it has one (the caller may have cancelled it)."""
    if future.done():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


def _mark_retrieved(future: asyncio.Future) -> None:
    # Rejections and failures are reported through `errors`, on_reject and at
    # exit: a caller that drops a record's future must not also get asyncio's
    # "exception was never retrieved" log.
    if not future.cancelled():
        future.exception()
