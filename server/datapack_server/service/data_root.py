"""The server's data root: one server process per root, and the checks made
before serving it (writable, every store and task file writable)."""
from __future__ import annotations

import fcntl
import os

from datapack_client.errors import FailedPreconditionError
from datapack_client.records.validation_rules import store_ok, task_name_ok
from datapack_server.service.space import NO_SPACE, PROBE_MIN_BYTES, WriteWatch, probe_write
from datapack_server.storage.taskfile import AUX_DIR, SUFFIX


class DataRootLock:
    """One server process per data root: an exclusive, non-blocking flock on
    `<root>/.datapack/server.lock`, released when the process exits."""

    def __init__(self, root: str):
        aux = os.path.join(root, AUX_DIR)
        os.makedirs(aux, exist_ok=True)
        self.path = os.path.join(aux, "server.lock")
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self.fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(self.fd)
            raise FailedPreconditionError(
                f"another datapack server (pid {holder}) is serving {root}; "
                "stop it or choose another --data-dir", "DATA_DIR_LOCKED") from None
        try:
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, str(os.getpid()).encode(), 0)
        except OSError:
            pass  # the pid is only informative (a full disk must not prevent serving reads)

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def check_root_writable(root: str, space: WriteWatch, fsync: bool) -> None:
    """Fail fast on a data root the server cannot write (read-only mount,
    immutable folder, permissions): otherwise it would serve reads and fail
    every append. A full disk is not a reason to refuse: reads are served and
    the write health stays NOT_SERVING until space is freed."""
    try:
        os.makedirs(root, exist_ok=True)
        probe_write(root, 4096, fsync)
    except OSError as exc:
        if exc.errno in NO_SPACE:
            space.refused(root, PROBE_MIN_BYTES)
            return
        space.close()
        raise FailedPreconditionError(
            f"the data directory {root} is not writable ({exc.strerror or exc}); the server appends "
            "and fsyncs there: mount it read-write, fix its permissions or choose another --data-dir",
            "DATA_DIR_NOT_WRITABLE") from None


def writable_stores(root: str) -> list[str]:
    """The stores under the data root (store paths of the folders holding
    task files), after checking that each folder and task file is writable:
    a read-only or immutable one is refused at start-up, naming it, rather
    than failing appends later."""
    stores, problems = [], []
    for folder, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))  # .datapack; hidden = not a store
        tasks = sorted(f for f in files if f.endswith(SUFFIX) and task_name_ok(f[: -len(SUFFIX)]))
        rel = os.path.relpath(folder, root)
        path = "" if rel == "." else rel.replace(os.sep, "/")
        if not tasks or not store_ok(path):
            continue
        stores.append(path)
        problems += [p for p in [folder] + [os.path.join(folder, f) for f in tasks] if not os.access(p, os.W_OK)]
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise FailedPreconditionError(
            f"{problems[0]}{more} is not writable (read-only or immutable); the server appends there: "
            "make it writable or serve a copy", "DATA_DIR_NOT_WRITABLE")
    return stores
