"""Whether the server's disks take writes: a write refused for lack of space
marks its directory full until a probe write of the refused size succeeds."""
from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from datapack_client.errors import ResourceExhaustedError
from datapack_server.storage.taskfile import AUX_DIR

NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
# A space probe writes what the refused write needed (at least a few pages, so
# that a disk with a few free bytes does not count as recovered), capped so the
# probe itself never fills a disk that is nearly full again.
PROBE_MIN_BYTES = 64 << 10
PROBE_MAX_BYTES = 8 << 20
log = logging.getLogger("datapack.server")


def probe_write(directory: str, nbytes: int, fsync: bool = True) -> None:
    """Write nbytes to a scratch file under `<directory>/.datapack/`, fsync and
    remove it: the filesystem accepts (and makes durable) that much. Raises
    OSError when it does not."""
    aux = os.path.join(directory, AUX_DIR)
    os.makedirs(aux, exist_ok=True)
    path = os.path.join(aux, f"write-probe.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(bytes(nbytes))
            while view:
                n = os.write(fd, view)
                if n <= 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                view = view[n:]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass


class WriteWatch:
    """Whether the server can write. Lost at the first write a store's
    filesystem refuses for lack of space (ENOSPC, EDQUOT); back once a probe
    write of the refused size succeeds there (every `interval` seconds). It is
    probed rather than waiting for the next append to succeed, because clients
    that stop sending writes while the write health is NOT_SERVING would
    otherwise never see the recovery. Appends are not refused meanwhile: each
    one still tries (and fails cleanly, nothing half-written) while space is short."""

    def __init__(self, interval: float = 0.5, fsync: bool = True):
        self.interval = interval
        self.fsync = fsync
        self._full: dict[str, int] = {}  # directory -> bytes the refused write needed
        self._cv = threading.Condition()
        self._listeners: list[Callable[[bool], None]] = []
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def writable(self) -> bool:
        return not self._full

    def full_directories(self) -> list[str]:
        with self._cv:
            return sorted(self._full)

    def add_listener(self, fn: Callable[[bool], None]) -> None:
        """fn(writable) after each change (from the failing or the probing thread)."""
        self._listeners.append(fn)

    @contextmanager
    def writing(self, directory: str, nbytes: int = 0) -> Iterator[None]:
        """Around a write of about nbytes under directory: a write refused for
        lack of space marks the directory full. A lack of space met outside the
        task file's own write (lock file, quarantine, baselines) is the same
        fault and RESOURCE_EXHAUSTED too, not INTERNAL."""
        try:
            yield
        except ResourceExhaustedError as err:
            if err.reason == "STORE_FULL":
                self.refused(directory, nbytes)
            raise
        except OSError as exc:
            if exc.errno not in NO_SPACE:
                raise
            self.refused(directory, nbytes)
            raise ResourceExhaustedError(f"the store could not make the batch durable: {exc.strerror or exc}",
                                         "STORE_FULL") from None

    def refused(self, directory: str, nbytes: int) -> None:
        with self._cv:
            if self._closed:
                return
            was_writable = not self._full
            need = max(nbytes, self._full.get(directory, 0), PROBE_MIN_BYTES)
            self._full[directory] = min(need, PROBE_MAX_BYTES)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="datapack-space-probe", daemon=True)
                self._thread.start()
            self._cv.notify_all()
        if was_writable:
            log.error("no space left for %s: appends fail with RESOURCE_EXHAUSTED until space is freed", directory)
            self._notify(False)

    def _run(self) -> None:
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._closed or self._full)
                deadline = time.monotonic() + self.interval
                while not self._closed and time.monotonic() < deadline:
                    self._cv.wait(deadline - time.monotonic())
                if self._closed:
                    return
                pending = dict(self._full)
            freed = self._probe(pending)
            if freed:
                with self._cv:
                    for d in freed:
                        if self._full.get(d) == pending[d]:  # not refused again meanwhile
                            del self._full[d]
                    now_writable = not self._full
                if now_writable:
                    log.warning("space is available again: appends resume")
                    self._notify(True)

    def _probe(self, pending: dict[str, int]) -> list[str]:
        """The directories of `pending` that took a probe write of their size."""
        freed = []
        for directory, nbytes in pending.items():
            try:
                probe_write(directory, nbytes, self.fsync)
                freed.append(directory)
            except OSError as exc:
                if exc.errno not in NO_SPACE:
                    log.warning("space probe in %s failed: %s", directory, exc)
        return freed

    def _notify(self, writable: bool) -> None:
        for fn in list(self._listeners):
            try:
                fn(writable)
            except Exception:  # noqa: BLE001 - a listener never breaks the write path
                log.exception("write-state listener failed")

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()
