"""`datapack verify`: check task files against their checksums (read-only)."""
from __future__ import annotations

import argparse
import os
import sys

from datapack_server.engine.store import Store
from datapack_server.storage.taskfile import AUX_DIR, SUFFIX


def register(sub) -> None:
    p = sub.add_parser("verify", help="check task files against their checksums (read-only)",
                       description="Read every line of the task files of a data root, compare each with "
                                   "its checksum and report corrupt lines and torn tails. Never modifies "
                                   "a file; safe while a server runs. Exit codes: 0 clean, 1 usage error, "
                                   "2 findings.")
    p.add_argument("--data-dir", required=True, help="data root (stores are folders below it)")
    p.add_argument("--store", default=None, help="one store (folder below the data root); default: all")
    p.add_argument("--task", default=None, help="one task; default: every task of the store(s)")
    p.set_defaults(func=run_command)


def _stores(root: str) -> list[str]:
    """Store names (paths relative to the root, '' for the root) that hold task files."""
    out = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != AUX_DIR)
        if any(f.endswith(SUFFIX) for f in files):
            rel = os.path.relpath(folder, root)
            out.append("" if rel == "." else rel)
    return out


def run_command(args: argparse.Namespace) -> int:
    root = args.data_dir
    if not os.path.isdir(root):
        print(f"datapack verify: no such data directory: {root}", file=sys.stderr)
        return 1
    stores = [args.store] if args.store is not None else _stores(root)
    bad = 0
    total = 0
    for name in stores:
        path = os.path.join(root, *name.split("/")) if name else root
        if not os.path.isdir(path):
            print(f"datapack verify: no such store: {name}", file=sys.stderr)
            return 1
        store = Store(path, snapshots=False)
        tasks = [args.task] if args.task is not None else store.list_tasks()
        for task in tasks:
            try:
                report = store.verify(task)
            except Exception as exc:  # noqa: BLE001 - a usage error (unknown task, bad name) ends the command
                print(f"datapack verify: {name or '.'}/{task}: {getattr(exc, 'message', exc)}", file=sys.stderr)
                return 1
            total += 1
            status = "ok" if report.ok else f"{len(report.findings)} finding(s)"
            print(f"{name or '.'}/{task}: {report.lines} lines, {report.records} records, {report.checked} checked, "
                  f"{report.unchecked} without checksum, checksums {report.checksums}: {status}")
            for f in report.findings:
                print(f"  line {f.line} byte offset {f.byte_offset} ({f.length} bytes): {f.kind}: {f.message}")
            bad += not report.ok
        store.close()
    print(f"datapack verify: {total} task file(s), {bad} with findings")
    return 2 if bad else 0
