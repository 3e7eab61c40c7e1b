"""`datapack verify`: check task files against their checksums (read-only).

    datapack verify (--data-dir ROOT [--store S] | --datapack-dir DIR) [--task T]

Exit status (common.py): 0 clean; 1 findings, or a data root, store or task that does not
exist; 2 usage.
"""
from __future__ import annotations

import argparse
import os
import sys

from datapack_client.records.validation_rules import store_ok, task_name_ok
from datapack_server.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, add_verb_parser
from datapack_server.engine.store import Store
from datapack_server.storage.taskfile import AUX_DIR, SUFFIX


def register(sub) -> None:
    p = add_verb_parser(sub, "verify", "check task files against their checksums (read-only)",
                        "Read every line of the task files of a data root (or of one store folder), compare each "
                        "with its checksum and report corrupt lines and torn tails. Never modifies a file; safe "
                        "while a server runs.",
                        exits="0 clean; 1 findings, or a data root, store or task that does not exist")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--data-dir", metavar="ROOT", help="data root (stores are folders below it)")
    where.add_argument("--datapack-dir", metavar="DIR", help="one store folder")
    p.add_argument("--store", default=None, metavar="NAME",
                   help="with --data-dir: one store (folder below the data root); default: all")
    p.add_argument("--task", default=None, metavar="T", help="one task; default: every task of the store(s)")
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


def _usage_error(args: argparse.Namespace) -> str | None:
    if args.datapack_dir and args.store is not None:
        return "--store goes with --data-dir; --datapack-dir is the store"
    if args.store is not None and not store_ok(args.store):
        return f"--store {args.store!r} is not a store path"
    if args.task is not None and not task_name_ok(args.task):
        return f"--task {args.task!r} is not a task name"
    return None


def _print_report(label: str, report) -> None:
    status = "ok" if report.ok else f"{len(report.findings)} finding(s)"
    print(f"{label}: {report.lines} lines, {report.records} records, {report.checked} checked, "
          f"{report.unchecked} without checksum, checksums {report.checksums}: {status}")
    for f in report.findings:
        print(f"  line {f.line} byte offset {f.byte_offset} ({f.length} bytes): {f.kind}: {f.message}")


def run_command(args: argparse.Namespace) -> int:
    problem = _usage_error(args)
    if problem is not None:
        print(f"datapack verify: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    root = args.data_dir if args.data_dir else args.datapack_dir
    if not os.path.isdir(root):
        print(f"datapack verify: error: no such {'data directory' if args.data_dir else 'store folder'}: {root}",
              file=sys.stderr)
        return EXIT_FAILURE
    stores = [""] if args.datapack_dir else [args.store] if args.store is not None else _stores(root)
    bad = 0
    total = 0
    for name in stores:
        path = os.path.join(root, *name.split("/")) if name else root
        if not os.path.isdir(path):
            print(f"datapack verify: error: no such store: {name}", file=sys.stderr)
            return EXIT_FAILURE
        store = Store(path, snapshots=False)
        try:
            tasks = [args.task] if args.task is not None else store.list_tasks()
            for task in tasks:
                try:
                    report = store.verify(task)
                except Exception as exc:  # noqa: BLE001 - an unknown task ends the command (status 1)
                    print(f"datapack verify: error: {name or '.'}/{task}: {getattr(exc, 'message', exc)}",
                          file=sys.stderr)
                    return EXIT_FAILURE
                total += 1
                bad += not report.ok
                _print_report(f"{name or '.'}/{task}", report)
        finally:
            store.close()
    print(f"datapack verify: {total} task file(s), {bad} with findings")
    return EXIT_FAILURE if bad else EXIT_OK
