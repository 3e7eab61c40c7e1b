"""A synchronous face over the asyncio client, for the `repo` fixture's
"remote_async" mode (test scaffolding, not a supported way to use the client).

Every call runs the AsyncDataPackClient's method on one event loop in a
dedicated thread and waits for its answer, so the tests written against the
synchronous repository API run unchanged through `connect_async`: the method is
called in the loop (argument errors are raised there, as a caller of the
asyncio client sees them), awaited, and its result or error handed back.
iter_all is driven pack by pack through the client's async iterator.
"""
from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable, Iterator
from typing import Any

from datapack_client import connect_async

_END = object()


class EventLoopThread:
    """An event loop running in a daemon thread until stop()."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="aio-bridge", daemon=True)
        self._thread.start()

    def run(self, make: Callable[[], Any]) -> Any:
        """Call make() in the loop; await its answer when it is awaitable."""
        async def call():
            answer = make()
            return await answer if inspect.isawaitable(answer) else answer

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result()

    def stop(self) -> None:
        # Finalize async generators left open (an iter_all not read to its end), then stop.
        asyncio.run_coroutine_threadsafe(self.loop.shutdown_asyncgens(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


class AsyncClientBridge:
    """connect_async(target, store, **options) behind the synchronous API."""

    def __init__(self, target: str, store: str = "", **options: Any):
        self._loop = EventLoopThread()
        try:
            self.client = self._loop.run(lambda: connect_async(target, store, **options))
        except BaseException:
            self._loop.stop()
            raise
        self.target = target
        self.store = store

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.client, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._loop.run(lambda: attr(*args, **kwargs))

        return call

    def iter_all(self, task_name: str) -> Iterator:
        return self._stream(lambda: self.client.iter_all(task_name))

    def iter_query(self, task_name: str, **kwargs: Any) -> Iterator:
        return self._stream(lambda: self.client.iter_query(task_name, **kwargs))

    def _stream(self, open_stream: Callable[[], Any]) -> Iterator:
        """The packs as the async iterator yields them, fetched as the caller
        iterates (argument errors come from the call, as synchronously)."""
        packs = self._loop.run(lambda: aiter(open_stream()))
        return self._rest(packs)

    def _rest(self, packs: Any) -> Iterator:
        while (item := self._loop.run(lambda: anext(packs, _END))) is not _END:
            yield item

    def close(self) -> None:
        try:
            self._loop.run(self.client.close)
        finally:
            self._loop.stop()
