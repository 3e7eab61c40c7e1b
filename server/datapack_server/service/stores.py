"""The stores a façade serves, opened on first use by their store path.

Server: the stores are folders under one data root, named by '/'-separated
store paths (validated; a path leading outside the root is refused), and a
portable export's output store is another store of the root. Embedded
repository: one folder (store path ""), and an export's output store is any
other folder, opened for the export and closed after it."""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from datapack_client.errors import FailedPreconditionError, invalid
from datapack_client.records.validation_rules import shown, store_ok
from datapack_server.engine.parsing import WorkerPool
from datapack_server.engine.store import NO_OBSERVER, Store, StoreObserver


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

    def get(self, path: str) -> Store:
        s = self._stores.get(path)
        if s is None:
            folder = self._folder(path)
            with self._lock:
                s = self._stores.get(path)
                if s is None:
                    s = self._stores[path] = Store(folder, fsync=self.fsync, pool=self.pool, observer=self.observer)
        return s

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
