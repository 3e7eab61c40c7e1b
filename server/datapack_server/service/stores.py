"""The stores a façade serves, opened on first use by their store path, and
the rules on names that do not exist (docs/repository.md §1).

Server: the stores are folders under one data root, named by '/'-separated
store paths (validated; a path leading outside the root is refused), and a
portable export's output store is another store of the root. Embedded
repository: one folder (store path ""), and an export's output store is any
other folder, opened for the export and closed after it.

What exists: a store exists when its folder does; a task exists when its task
file (`<store>/<task>_datapacks.jsonl`) does, whatever it holds (an empty file
or one whose lines are all corrupt is an existing task that reads empty: its
problems are `datapack verify`'s to report, not a reason to answer NOT_FOUND).
Reads of a store or task that does not exist raise NOT_FOUND (STORE_NOT_FOUND,
TASK_NOT_FOUND) naming the closest existing names, and never create anything;
appends create both (each logged once). The data directory itself (the
server's data root, the embedded repository's folder) is never created
implicitly: require_data_dir.
"""
from __future__ import annotations

import difflib
import logging
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from datapack_client.errors import FailedPreconditionError, NotFoundError, Violation, invalid
from datapack_client.records.validation_rules import shown, store_ok, task_name_ok
from datapack_server.engine.parsing import WorkerPool
from datapack_server.engine.store import NO_OBSERVER, Store, StoreObserver, check_task
from datapack_server.engine.task_state import TaskState
from datapack_server.storage.taskfile import SUFFIX

log = logging.getLogger("datapack.server")
CLOSE_NAMES = 3  # "did you mean" offers at most this many names
LISTED_NAMES = 8  # without a close name, at most this many existing names are listed
STORE_SCAN_LIMIT = 10_000  # folders looked at for store names (an error path must stay cheap on huge roots)


def require_data_dir(path: str, *, create: bool, field: str, label: str, hint: str) -> None:
    """The one rule for a data directory (the server's data root, the embedded
    repository's folder, a data verb's local folder): it must be an existing
    folder, else NOT_FOUND (DATA_DIR_NOT_FOUND) naming it and saying how to
    create it (hint); create=True makes it (logged). Nothing is created
    silently: a mistyped path would otherwise become an empty repository that
    answers every read with nothing. field: the argument's name (violation)."""
    if os.path.isdir(path):
        return
    if os.path.exists(path):
        raise FailedPreconditionError(f"{label} {path!r} is not a folder", "DATA_DIR_NOT_A_FOLDER")
    if not create:
        raise not_found(field, "DATA_DIR_NOT_FOUND", f"{label} {path!r} does not exist ({hint})")
    os.makedirs(path, exist_ok=True)
    log.info("created %s %s", label, path)


def task_file_exists(folder: str, task: str) -> bool:
    """Whether the task exists in a store folder: its task file does."""
    return os.path.isfile(os.path.join(folder, task + SUFFIX))


def tasks_in(folder: str) -> list[str]:
    """The tasks of a store folder (valid names of its task files), sorted; [] without the folder."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return sorted(t for t in (n[: -len(SUFFIX)] for n in names if n.endswith(SUFFIX))
                  if task_name_ok(t) and task_file_exists(folder, t))


def stores_under(root: str) -> list[str]:
    """The store paths under a data root that hold at least one task, sorted
    (hidden folders skipped; at most STORE_SCAN_LIMIT folders looked at)."""
    found, seen = [], 0
    for folder, subdirs, files in os.walk(root):
        seen += 1
        if seen > STORE_SCAN_LIMIT:
            break
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        rel = os.path.relpath(folder, root)
        path = "" if rel == "." else rel.replace(os.sep, "/")
        if store_ok(path) and any(f.endswith(SUFFIX) and task_name_ok(f[: -len(SUFFIX)]) for f in files):
            found.append(path)
    return sorted(found)


def closest(name: str, existing: list[str], kind: str) -> str:
    """The end of a NOT_FOUND message: the closest existing names
    (difflib), else a few existing names, else that there are none."""
    close = difflib.get_close_matches(name, existing, n=CLOSE_NAMES, cutoff=0.6)
    if close:
        return "; did you mean " + " or ".join(repr(c) for c in close) + "?"
    if not existing:
        return f" (there are no {kind} yet)"
    more = f", … ({len(existing)} in all)" if len(existing) > LISTED_NAMES else ""
    return f" ({kind}: " + ", ".join(repr(n) for n in existing[:LISTED_NAMES]) + more + ")"


def not_found(field: str, reason: str, message: str) -> NotFoundError:
    """A NotFoundError with one violation naming the request field."""
    return NotFoundError(message, reason, [Violation(0, None, field, reason, message)])


def require_task(folder: str, task: str, store_name: str) -> None:
    """For a read of a task of an existing store folder: the name is checked
    (INVALID_ARGUMENT), then TASK_NOT_FOUND naming the closest tasks when the
    task has no file. store_name: how the message names the store."""
    check_task(task)
    if not task_file_exists(folder, task):
        raise not_found("task_name", "TASK_NOT_FOUND",
                        f"no task {task!r} in store {store_name!r}" + closest(task, tasks_in(folder), "tasks"))


def missing_store(root: str, path: str) -> NotFoundError:
    """STORE_NOT_FOUND for a store path of a data root, naming the closest stores."""
    return not_found("store", "STORE_NOT_FOUND",
                     f"no store {path!r} in the data directory" + closest(path, stores_under(root), "stores"))


class DataRootStores:
    """The stores under a data root."""

    def __init__(self, root: str, *, fsync: bool = True, pool: WorkerPool | None = None,
                 observer: StoreObserver = NO_OBSERVER):
        self.root = root
        self.fsync = fsync
        self.pool = pool
        self.observer = observer
        self._stores: dict[str, Store] = {}
        self._lock = threading.Lock()
        # Store paths whose folder did not exist when first opened: the first
        # append that creates one of their tasks logs the store as new.
        self._absent: set[str] = set()

    def get(self, path: str) -> Store:
        """The store at a path, opened on first use (a missing folder is made by the first append)."""
        s = self._stores.get(path)
        if s is None:
            folder = self._folder(path)
            with self._lock:
                s = self._stores.get(path)
                if s is None:
                    if not os.path.isdir(folder):
                        self._absent.add(path)
                    s = self._stores[path] = Store(folder, fsync=self.fsync, pool=self.pool, observer=self.observer)
        return s

    # -- reads: what must exist

    def existing(self, path: str) -> Store:
        """The store at a path, for a read: STORE_NOT_FOUND when its folder
        does not exist (no Store is opened for it, so probing names costs no memory)."""
        s = self._stores.get(path)
        folder = s.path if s is not None else self._folder(path)
        if not os.path.isdir(folder):
            raise self.store_not_found(path)
        return s if s is not None else self.get(path)

    def holding(self, path: str, task: str) -> Store:
        """The store at a path, for a use of one of its tasks: the names are
        checked (INVALID_ARGUMENT), then STORE_NOT_FOUND or TASK_NOT_FOUND when
        either does not exist (one stat of the task file when both do)."""
        s = self._stores.get(path)
        folder = s.path if s is not None else self._folder(path)
        check_task(task)
        if not task_file_exists(folder, task):
            if not os.path.isdir(folder):
                raise self.store_not_found(path)
            require_task(folder, task, self.name_of(path))
        return s if s is not None else self.get(path)

    @contextmanager
    def reading(self, path: str, task: str) -> Iterator[TaskState]:
        """A consistent read of a task (Store.reading) that exists, else
        NOT_FOUND as holding(). A task already loaded with packs skips the
        stat: the catch-up that opens the read looks at its file anyway, and
        when the file is gone (no reader left open) the names are checked again."""
        s = self._stores.get(path)
        if s is None or not s.has_packs(task):
            s = self.holding(path, task)
        with s.reading(task) as st:
            if st.rfd is None:  # no task file at this catch-up: removed since it was loaded
                self.holding(path, task)
            yield st

    def store_not_found(self, path: str) -> NotFoundError:
        return missing_store(self.root, path)

    # -- appends: what they created

    def announce_created(self, path: str, results: Iterable[Any]) -> None:
        """Log (INFO) each task an append created (the one whose first pack
        it wrote: sequence 0) and the store with the first of them, once."""
        new_tasks = sorted({r.task_name for r in results if r.sequence == 0 and r.status == "created"})
        if not new_tasks:
            return
        with self._lock:
            new_store = path in self._absent
            self._absent.discard(path)
        if new_store:
            log.info("created store %r", self.name_of(path))
        for task in new_tasks:
            log.info("created task %r in store %r", task, self.name_of(path))

    def _folder(self, path: str) -> str:
        if not store_ok(path):
            raise invalid("store", "STORE_INVALID",
                          f"store {shown(path)} must be '' or '/'-separated names of [A-Za-z0-9_.-] (at most "
                          "256 characters; no segment starting with '.' or naming a Windows device)")
        folder = os.path.join(self.root, *path.split("/")) if path else self.root
        # The names are checked; a symbolic link among the folders (put there
        # by someone with write access to the data root) could still lead
        # requests' reads and writes outside it, so such a store is refused.
        real_root = os.path.realpath(self.root)
        if os.path.commonpath([real_root, os.path.realpath(folder)]) != real_root:
            raise FailedPreconditionError(f"store {path!r} leads outside the data directory (a symbolic link); "
                                          "it is not served", "STORE_OUTSIDE_DATA_DIR")
        return folder

    def check_output_name(self, name: str) -> None:
        """INVALID_ARGUMENT for an export's output store path the root cannot hold
        (checked before whether the source exists: arguments first)."""
        self._folder(name)

    @contextmanager
    def export_output(self, name: str, source: Store) -> Iterator[Store]:
        """The store a portable export appends to: another store of the root."""
        output = self.get(name)
        if output is source:
            raise invalid("output_store", "ARGUMENT_INVALID", "output_store must differ from store")
        yield output

    def name_of(self, path: str) -> str:
        """How an export summary names a store."""
        return path

    def loaded(self) -> list[tuple[str, Store]]:
        return list(self._stores.items())

    def close(self) -> None:
        for s in list(self._stores.values()):
            s.close()


class FolderStores(DataRootStores):
    """The embedded repository's one store: the folder itself (store path "")."""

    def __init__(self, folder: str, *, fsync: bool = True):
        super().__init__(os.path.abspath(folder), fsync=fsync)
        self.folder = folder  # as given: export summaries name it so

    def check_output_name(self, name: str) -> None:
        """Any folder may be the output: nothing to check."""

    @contextmanager
    def export_output(self, name: str, source: Store) -> Iterator[Store]:
        """Another folder, opened for the export and closed after it."""
        output = Store(name, fsync=self.fsync)
        try:
            yield output
        finally:
            output.close()

    def name_of(self, path: str) -> str:
        return self.folder if path == "" else path

    def store_not_found(self, path: str) -> NotFoundError:
        """The repository's folder was removed after it was opened."""
        return not_found("store", "STORE_NOT_FOUND", f"the repository folder {self.name_of(path)!r} no longer exists")
