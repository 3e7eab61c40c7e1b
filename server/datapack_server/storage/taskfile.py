"""One task file on disk: locked appends with fsync, torn-tail quarantine.

Only this module writes task files. Writers hold the task's exclusive advisory
lock (`<store>/.datapack/locks/<task>.lock`, flock) for catch-up, recovery and
the write itself, so writers in other processes never interleave bytes.
"""
from __future__ import annotations

import base64
import errno
import fcntl
import hashlib
import os
import threading
from contextlib import contextmanager

from datapack_client import jsonio, schema

SUFFIX = "_datapacks.jsonl"
AUX_DIR = ".datapack"


class StoreWriteError(OSError):
    """A write or fsync failed; the bytes of this append were rolled back."""


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class TaskFile:
    def __init__(self, store_dir: str, task: str, fsync: bool = True):
        self.store_dir = store_dir
        self.task = task
        self.file_name = task + SUFFIX
        self.path = os.path.join(store_dir, self.file_name)
        self.aux = os.path.join(store_dir, AUX_DIR)
        self.fsync_enabled = fsync
        self.thread_lock = threading.Lock()
        self._wfd: int | None = None
        self._wfd_ident: tuple | None = None

    # -- locking

    @contextmanager
    def write_lock(self):
        """Exclusive across threads (thread lock) and processes (flock)."""
        with self.thread_lock:
            os.makedirs(os.path.join(self.aux, "locks"), exist_ok=True)
            fd = os.open(os.path.join(self.aux, "locks", self.task + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # releases the flock

    # -- writing (caller holds write_lock)

    def _writer_fd(self) -> int:
        try:
            st = os.stat(self.path)
            ident = (st.st_dev, st.st_ino)
        except FileNotFoundError:
            ident = None
        if self._wfd is not None and ident == self._wfd_ident and ident is not None:
            return self._wfd
        if self._wfd is not None:
            os.close(self._wfd)
            self._wfd = None
        created = ident is None
        os.makedirs(self.store_dir, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        if created and self.fsync_enabled:
            os.fsync(fd)
            fsync_dir(self.store_dir)  # the new file's directory entry must be durable too
        st = os.fstat(fd)
        self._wfd, self._wfd_ident = fd, (st.st_dev, st.st_ino)
        return fd

    def append(self, data: bytes, expected_size: int) -> int:
        """Write data at the end of the file (which must be expected_size long)
        and make it durable. Returns the offset it was written at. On failure
        the file is truncated back and StoreWriteError raised."""
        fd = self._writer_fd()
        size = os.fstat(fd).st_size
        if size != expected_size:
            raise StoreWriteError(errno.EIO, f"{self.path}: size {size} != expected {expected_size}")
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            if self.fsync_enabled:
                os.fsync(fd)
        except OSError as exc:
            self._rollback(fd, size)
            raise StoreWriteError(exc.errno or errno.EIO, f"{self.path}: {exc.strerror or exc}") from exc
        return size

    def _rollback(self, fd: int, size: int) -> None:
        # The failed bytes were never acknowledged; remove them so no reader serves them.
        # A failed fsync leaves the page cache state unknown, so the descriptor is dropped
        # and the next write reopens the file.
        try:
            os.ftruncate(fd, size)
            if self.fsync_enabled:
                os.fsync(fd)
        except OSError:
            pass
        try:
            os.close(fd)
        except OSError:
            pass
        self._wfd = self._wfd_ident = None

    def truncate_torn_tail(self, keep: int, tail: bytes, line_no: int) -> None:
        """Quarantine the unterminated bytes after `keep`, then cut them off."""
        self.quarantine(line_no, keep, "TORN_TAIL", tail)
        fd = os.open(self.path, os.O_WRONLY)
        try:
            os.ftruncate(fd, keep)
            if self.fsync_enabled:
                os.fsync(fd)
        finally:
            os.close(fd)

    def quarantine(self, line_no: int, offset: int, reason: str, raw: bytes) -> None:
        """repository.md §2.4: append one entry to the task's quarantine file."""
        qdir = os.path.join(self.aux, "quarantine")
        os.makedirs(qdir, exist_ok=True)
        entry = {"file": self.file_name, "line": line_no, "byte_offset": offset, "reason": reason,
                 "detected_at": schema.utc_now(), "sha256": hashlib.sha256(raw).hexdigest(),
                 "raw_base64": base64.b64encode(raw).decode()}
        qpath = os.path.join(qdir, self.task + "_datapacks.quarantine.jsonl")
        fd = os.open(qpath, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, jsonio.dumps(entry) + b"\n")
            if self.fsync_enabled:
                os.fsync(fd)
        finally:
            os.close(fd)

    def quarantined(self) -> set[tuple[int, int]]:
        """(line, byte_offset) of every entry already in the quarantine file."""
        qpath = os.path.join(self.aux, "quarantine", self.task + "_datapacks.quarantine.jsonl")
        done = set()
        try:
            with open(qpath, "rb") as f:
                for raw in f:
                    try:
                        e = jsonio.loads(raw)
                        done.add((e["line"], e["byte_offset"]))
                    except (ValueError, KeyError, TypeError):
                        continue
        except FileNotFoundError:
            pass
        return done

    def close(self) -> None:
        if self._wfd is not None:
            os.close(self._wfd)
            self._wfd = None
