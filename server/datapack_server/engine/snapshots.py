"""Index snapshots: `<store>/.datapack/index/<task>.snapshot.npz`, a cache of a
task's index so that a large task loads without re-parsing every line.

A snapshot is trusted only for the file whose prefix it indexed (same file
name, at least as long, same fingerprint of the covered bytes); anything else
is ignored and the task is indexed from its lines. Snapshots are written
atomically (temp file + rename), on a background thread while the store runs.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from datapack_server.engine.index import SNAPSHOT_VERSION, TaskIndex
from datapack_server.engine.memory import release_free_memory
from datapack_server.storage.taskfile import AUX_DIR

SNAPSHOT_MIN_ROWS = 50_000  # smaller tasks index from scratch in well under a second
log = logging.getLogger("datapack.store")


@dataclass
class Snapshot:
    """What a snapshot restores: the index and the catch-up position and findings."""

    index: TaskIndex
    scanned: int
    lines: int
    corrupt: list
    redundant: list
    changed_without_revision: list


def snapshot_path(store_dir: str, task: str) -> str:
    return os.path.join(store_dir, AUX_DIR, "index", f"{task}.snapshot.npz")


def fingerprint(rfd: int, upto: int) -> str:
    """Hash of the first and last 4 KiB of the covered bytes: a snapshot is
    trusted only for the file whose prefix it indexed."""
    head = os.pread(rfd, min(4096, upto), 0)
    start = max(0, upto - 4096)
    tail = os.pread(rfd, upto - start, start)
    return hashlib.sha256(head + b"|" + tail).hexdigest()


def snapshot_meta(file_name: str, scanned: int, lines: int, file_fingerprint: str, corrupt: list,
                  redundant: list, changed_without_revision: list) -> dict:
    return {"version": SNAPSHOT_VERSION, "file": file_name, "scanned": scanned, "lines": lines,
            "fingerprint": file_fingerprint, "corrupt": corrupt, "redundant": redundant,
            "changed_without_revision": changed_without_revision}


def _remove_temp_files_of_dead_writers(path: str) -> None:
    folder = os.path.dirname(path)
    base = os.path.basename(path)
    try:
        for fn in os.listdir(folder):
            if fn.startswith(base + ".") and fn.endswith(".tmp"):
                pid = fn[len(base) + 1:].split(".", 1)[0]
                if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
                    os.unlink(os.path.join(folder, fn))
    except OSError:
        pass


def read_snapshot(path: str, data_path: str, file_name: str, rfd: int) -> Snapshot | None:
    """The snapshot at `path` if it indexes a prefix of the open data file
    `rfd`, else None (missing, unreadable, of another version or file)."""
    _remove_temp_files_of_dead_writers(path)
    state: dict = {}
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = orjson.loads(z["meta"].tobytes())  # checked before the arrays are read
            if meta.get("version") != SNAPSHOT_VERSION or meta.get("file") != file_name:
                return None
            scanned = meta["scanned"]
            if os.fstat(rfd).st_size < scanned or fingerprint(rfd, scanned) != meta["fingerprint"]:
                log.info("index snapshot of %s does not match the file; rebuilding", data_path)
                return None
            state.update((k, z[k]) for k in z.files if k != "meta")
        index = TaskIndex.from_state(state)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        log.warning("ignoring unreadable index snapshot %s: %s", path, exc)
        return None
    finally:
        state.clear()
        release_free_memory()  # the zip reader's buffers are freed now; hand their pages back
    return Snapshot(index, scanned, meta["lines"], [tuple(x) for x in meta["corrupt"]],
                    [tuple(x) for x in meta["redundant"]], [tuple(x) for x in meta["changed_without_revision"]])


def drop_snapshot(path: str) -> None:
    """Delete a snapshot (a cache): it may index a line that is corrupt."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("could not delete index snapshot %s: %s", path, exc)


def write_snapshot(path: str, state: dict, meta: dict, lock: Any, still_current: Callable[[], bool]) -> bool:
    """Write index arrays `state` and `meta` to `path` atomically. The rename
    happens under `lock` and only while still_current(): an index replaced
    meanwhile must not bring back the snapshot its replacement dropped."""
    state["meta"] = np.frombuffer(orjson.dumps(meta), dtype=np.uint8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **state)
        with lock:
            if not still_current():
                os.unlink(tmp)
                return False
            os.replace(tmp, path)
    except OSError as exc:
        log.warning("could not write index snapshot %s: %s", path, exc)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False
    finally:
        state.clear()
        release_free_memory()  # the copied arrays are freed now; hand their pages back
    return True


class BackgroundSnapshots:
    """Snapshot writes on background threads, at most one at a time per task."""

    def __init__(self) -> None:
        self._saving: set[str] = set()
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def start(self, task: str, save: Callable[[], object]) -> None:
        """Run save() on a new thread unless one for `task` is still running."""
        with self._lock:
            if task in self._saving:
                return
            self._saving.add(task)

        def run():
            try:
                save()
            finally:
                with self._lock:
                    self._saving.discard(task)
                    self._threads.discard(threading.current_thread())

        # Not a daemon: an exiting process finishes the snapshot it started.
        t = threading.Thread(target=run, name=f"snapshot-{task}", daemon=False)
        with self._lock:
            self._threads.add(t)
        t.start()

    def wait(self) -> None:
        """Wait for the snapshot writes started so far."""
        with self._lock:
            pending = list(self._threads)
        for t in pending:
            t.join()
