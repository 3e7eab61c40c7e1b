"""One task file on disk: locked appends with fsync, its checksum sidecar,
torn-tail quarantine.

Only this module writes task files. Writers hold the task's exclusive advisory
lock (`<store>/.datapack/locks/<task>.lock`, flock) for catch-up, recovery and
the write itself, so writers in other processes never interleave bytes.

Failure rule: a commit is acknowledged only after the data and its checksum
entries were written and both files fsynced. When a write or fsync fails, both
files are cut back to their sizes before the commit and the cut is fsynced, so
no later commit builds on bytes whose durability is unknown (after a failed
fsync Linux may drop the dirty pages and report success on the next fsync).
If even the cut fails, the task refuses writes until it is reopened.
"""
from __future__ import annotations

import base64
import errno
import fcntl
import hashlib
import os
import threading
from contextlib import contextmanager

from datapack_client.records import jsonio, schema
from datapack_server.storage.checksums import ENTRY_SIZE, HEADER, MAGIC, Checksums, scan_fd

SUFFIX = "_datapacks.jsonl"
AUX_DIR = ".datapack"
FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


class StoreWriteError(OSError):
    """A write or fsync failed; the bytes of this append were rolled back."""


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def makedirs_durable(path: str, sync: bool = True) -> None:
    """os.makedirs, with every directory it creates made durable in its parent
    (a new store folder must survive a power cut together with its first file)."""
    missing = []
    p = os.path.abspath(path)
    while not os.path.isdir(p):
        missing.append(p)
        parent = os.path.dirname(p)
        if parent == p:
            break
        p = parent
    for d in reversed(missing):
        try:
            os.mkdir(d, 0o755)
        except FileExistsError:
            continue
        if sync:
            fsync_dir(os.path.dirname(d))


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


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
        self.sums = Checksums(os.path.join(self.aux, "checksums", task + ".crc"))
        self._sfd: int | None = None
        self._sfd_ident: tuple | None = None
        self.failed: str | None = None  # why this task refuses writes until reopened

    # -- locking

    @contextmanager
    def write_lock(self):
        """Exclusive across threads (thread lock) and processes (flock)."""
        with self.thread_lock:
            # The first lock of a new store creates the store folder itself.
            makedirs_durable(os.path.join(self.aux, "locks"), self.fsync_enabled)
            fd = os.open(os.path.join(self.aux, "locks", self.task + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # releases the flock

    # -- writing (caller holds write_lock)

    def _sync(self, fd: int) -> None:
        if self.fsync_enabled:
            os.fsync(fd)

    def _writer_fd(self) -> int:
        try:
            st = os.stat(self.path)
            ident = (st.st_dev, st.st_ino)
        except FileNotFoundError:
            ident = None
        if self._wfd is not None and ident == self._wfd_ident and ident is not None:
            return self._wfd
        self._close_writer()
        makedirs_durable(self.store_dir, self.fsync_enabled)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            if self.fsync_enabled:
                # On every (re)open, not only on creation: an earlier attempt may have
                # created the file and failed before its directory entry was durable,
                # and the store folder may have been created by someone who did not
                # fsync its parent (os.makedirs).
                os.fsync(fd)
                fsync_dir(self.store_dir)
                fsync_dir(os.path.dirname(os.path.abspath(self.store_dir)))
            st = os.fstat(fd)
            if st.st_size == 0:
                # A new (or still empty) data file gets a new sidecar: one may be
                # left behind by a deleted file of the same name.
                self._new_sidecar(b"")
        except BaseException:
            os.close(fd)
            raise
        self._wfd, self._wfd_ident = fd, (st.st_dev, st.st_ino)
        return fd

    def _sidecar_fd(self) -> int:
        try:
            st = os.stat(self.sums.path)
            ident = (st.st_dev, st.st_ino)
        except FileNotFoundError:
            ident = None
        if self._sfd is not None and ident == self._sfd_ident:
            return self._sfd
        self._close_sidecar()
        if ident is None:
            raise StoreWriteError(errno.ENOENT, f"{self.sums.path}: checksum sidecar missing")
        fd = os.open(self.sums.path, os.O_WRONLY | os.O_APPEND)
        self._sfd, self._sfd_ident = fd, ident
        return fd

    def _new_sidecar(self, entries: bytes) -> None:
        """Replace the sidecar atomically (temp file, fsync, rename, fsync dir)."""
        folder = os.path.dirname(self.sums.path)
        makedirs_durable(folder, self.fsync_enabled)
        tmp = f"{self.sums.path}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            write_all(fd, MAGIC + entries)
            self._sync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.sums.path)
        if self.fsync_enabled:
            fsync_dir(folder)
        self._close_sidecar()
        st = os.stat(self.sums.path)
        self.sums.adopt((st.st_dev, st.st_ino))
        self.sums.extend_bytes(entries)

    def sync_checksums(self, complete_end: int) -> None:
        """Make the sidecar describe exactly the complete lines [0, complete_end)
        of the data file before new lines are written after them: rebuild it if
        it is missing or belongs to another file, cut off stale entries (made
        durable at once, so they can never come back next to new lines at
        their offsets), and add entries for lines written without them."""
        if not os.path.exists(self.path):
            return  # the first append creates the file and its sidecar
        try:
            if self.sums.ident is None:  # missing, another file's, or damaged
                self._rebuild_sidecar(complete_end)
                return
            sfd = self._sidecar_fd()
            size = os.fstat(sfd).st_size
            want = self.sums.file_size()
            if size < want:  # cut by someone else: trust the disk, re-add below
                keep = (size - HEADER.size) // ENTRY_SIZE
                if keep >= 0:
                    self.sums.keep_first(keep)
                if keep < 0 or self.sums.ident is None:
                    self._rebuild_sidecar(complete_end)
                    return
                want = self.sums.file_size()
            if size != want:
                os.ftruncate(sfd, want)
                self._sync(sfd)
            if self.sums.end < complete_end and self.sums.end and self._byte_at(self.sums.end - 1) != b"\n":
                # The covered prefix ends inside a line: the file was edited (lengths
                # changed). Entries can only be added from a line start: start over.
                self._rebuild_sidecar(complete_end)
                return
            if self.sums.end < complete_end:
                entries = self._scan(self.sums.end, complete_end)
                write_all(sfd, entries.tobytes())
                self.sums.extend(entries)
        except OSError as exc:
            self._close_sidecar()
            self.sums.reset("damaged")  # re-read (or rebuilt) by the next writer
            raise _write_error(self.sums.path, exc) from exc

    def _rebuild_sidecar(self, complete_end: int) -> None:
        self._new_sidecar(self._scan(0, complete_end).tobytes())

    def _byte_at(self, pos: int) -> bytes:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            return os.pread(fd, 1, pos)
        finally:
            os.close(fd)

    def _scan(self, start: int, end: int):
        fd = os.open(self.path, os.O_RDONLY)
        try:
            return scan_fd(fd, start, end)
        finally:
            os.close(fd)

    def append(self, data: bytes, entries: bytes, expected_size: int) -> tuple[int, int]:
        """Write data (complete lines) at the end of the file, which must be
        expected_size long, and their checksum entries to the sidecar; make
        both durable. Returns (data offset, sidecar size before), the token
        rollback() takes. On failure both files are cut back and
        StoreWriteError raised."""
        if self.failed is not None:
            raise StoreWriteError(errno.EIO, f"{self.path}: writes refused after an unrecoverable I/O error "
                                             f"({self.failed}); reopen the store")
        try:
            fd = self._writer_fd()
            sfd = self._sidecar_fd()
            size = os.fstat(fd).st_size
            ssize = os.fstat(sfd).st_size
        except OSError as exc:
            self._close_writer()
            self._close_sidecar()
            raise _write_error(self.path, exc) from exc
        if size != expected_size:
            raise StoreWriteError(errno.EIO, f"{self.path}: size {size} != expected {expected_size}")
        if ssize != self.sums.file_size():
            raise StoreWriteError(errno.EIO, f"{self.sums.path}: size {ssize} != expected {self.sums.file_size()}")
        try:
            write_all(fd, data)
            write_all(sfd, entries)
            self._sync(fd)
            self._sync(sfd)
        except OSError as exc:
            self.rollback((size, ssize))
            raise _write_error(self.path, exc) from exc
        return size, ssize

    def rollback(self, token: tuple[int, int]) -> None:
        """Cut both files back to the sizes of `token` (from append) and make the
        cut durable. The bytes after them were never acknowledged; removing
        them keeps readers from serving them and later commits from building on
        them. If the cut cannot be made durable, the task refuses writes."""
        size, ssize = token
        try:
            for path, want in ((self.path, size), (self.sums.path, ssize)):
                fd = os.open(path, os.O_WRONLY)
                try:
                    os.ftruncate(fd, want)
                    self._sync(fd)
                    if os.fstat(fd).st_size != want:
                        raise OSError(errno.EIO, f"{path} is not {want} bytes after the cut")
                finally:
                    os.close(fd)
        except OSError as exc:
            self.failed = f"could not cut {self.file_name} back after a failed write: {exc}"
        # A failed fsync leaves the page cache state unknown: reopen on the next write.
        self._close_writer()
        self._close_sidecar()

    def truncate_torn_tail(self, keep: int, tail: bytes, line_no: int) -> None:
        """Quarantine the unterminated bytes after `keep`, then cut them off."""
        try:
            if (line_no, keep, hashlib.sha256(tail).hexdigest()) not in self.quarantined_digests():
                self.quarantine(line_no, keep, "TORN_TAIL", tail)
            fd = os.open(self.path, os.O_WRONLY)
            try:
                os.ftruncate(fd, keep)
                self._sync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise _write_error(self.path, exc) from exc

    def _quarantine_path(self) -> str:
        return os.path.join(self.aux, "quarantine", self.task + "_datapacks.quarantine.jsonl")

    def quarantine(self, line_no: int, offset: int, reason: str, raw: bytes) -> None:
        """docs/repository.md §2.4: append one entry to the task's quarantine file."""
        qpath = self._quarantine_path()
        makedirs_durable(os.path.dirname(qpath), self.fsync_enabled)
        entry = {"file": self.file_name, "line": line_no, "byte_offset": offset, "reason": reason,
                 "detected_at": schema.utc_now(), "sha256": hashlib.sha256(raw).hexdigest(),
                 "raw_base64": base64.b64encode(raw).decode()}
        created = not os.path.exists(qpath)
        fd = os.open(qpath, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            write_all(fd, jsonio.dumps(entry) + b"\n")
            self._sync(fd)
        finally:
            os.close(fd)
        if created and self.fsync_enabled:
            fsync_dir(os.path.dirname(qpath))

    def _quarantine_entries(self):
        try:
            with open(self._quarantine_path(), "rb") as f:
                for raw in f:
                    try:
                        e = jsonio.loads(raw)
                        yield e["line"], e["byte_offset"], e.get("sha256")
                    except (ValueError, KeyError, TypeError):
                        continue
        except FileNotFoundError:
            return

    def quarantined(self) -> set[tuple[int, int]]:
        """(line, byte_offset) of every entry already in the quarantine file."""
        return {(line, off) for line, off, _ in self._quarantine_entries()}

    def quarantined_digests(self) -> set[tuple[int, int, str]]:
        """(line, byte_offset, sha256) of every entry already in the quarantine file."""
        return set(self._quarantine_entries())

    def _close_writer(self) -> None:
        if self._wfd is not None:
            try:
                os.close(self._wfd)
            except OSError:
                pass
            self._wfd = self._wfd_ident = None

    def _close_sidecar(self) -> None:
        if self._sfd is not None:
            try:
                os.close(self._sfd)
            except OSError:
                pass
            self._sfd = self._sfd_ident = None

    def close(self) -> None:
        self._close_writer()
        self._close_sidecar()
        self.sums.close()


def _write_error(path: str, exc: OSError) -> StoreWriteError:
    if isinstance(exc, StoreWriteError):
        return exc
    return StoreWriteError(exc.errno or errno.EIO, f"{path}: {exc.strerror or exc}")


__all__ = ["AUX_DIR", "SUFFIX", "FULL_ERRNOS", "StoreWriteError", "TaskFile", "fsync_dir", "makedirs_durable",
           "write_all"]
