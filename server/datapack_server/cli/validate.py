"""`datapack validate`: list the records of task files that break the append invariants.

    datapack validate (FILE ... | --datapack-dir DIR | --data-dir ROOT [--store S]) [--task T] [--json] [--verbose]

Only reads. Exit statuses as every verb's (common.py, docs/repository.md §10): 0 no findings,
1 findings (or a store folder or task that does not exist), 2 usage (a FILE that does not exist
included).
"""
from __future__ import annotations

import argparse
import os
from typing import TextIO

from datapack_client.records.validation_rules import store_ok, task_name_ok
from datapack_server.cli.common import EXIT_FAILURE, EXIT_OK
from datapack_server.cli.options import UsageError, add_verb
from datapack_server.cli.tables import json_line
from datapack_server.service.stores import closest, missing_store, not_found, require_data_dir, require_task, tasks_in


def _validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Print each finding (or its JSON) and a summary line; VALIDATE_FINDINGS when there is one."""
    from datapack_server.service.file_validation import task_files, validate_file

    files = _validation_targets(args, task_files)
    total_lines = total_findings = 0
    for path in files:
        report = validate_file(path)
        total_lines += report.lines
        for f in report.findings:
            total_findings += 1
            if args.json:
                out.write(json_line(f.as_dict()) + "\n")
                continue
            pack_id = f.pack_id if f.pack_id is not None else "-"
            print(f"{f.file}:{f.line} {pack_id} {','.join(f.reasons)}", file=out)
            if args.verbose:
                for d in f.details:
                    print(f"    {d['field'] or '(line)'}: {d['reason']}: {d['message']}", file=out)
    if not args.json:
        print(f"datapack validate: {len(files)} file(s), {total_lines} line(s), {total_findings} finding(s)",
              file=out)
    return EXIT_FAILURE if total_findings else EXIT_OK


def _validation_targets(args: argparse.Namespace, task_files) -> list[str]:
    """The task files to read: the FILE arguments, or those of the named store(s) and task."""
    if args.files:
        if args.datapack_dir or args.data_dir or args.task:
            raise UsageError("give either FILE arguments or a store (--datapack-dir / --data-dir [--store] [--task])")
        for path in args.files:
            if not os.path.isfile(path):
                raise UsageError(f"no such file: {path}")
        return list(args.files)
    if args.datapack_dir and args.data_dir:
        raise UsageError("give either --datapack-dir or --data-dir [--store], not both")
    if args.store is not None and not store_ok(args.store):
        raise UsageError(f"--store {args.store!r} is not a store path")
    if args.task is not None and not task_name_ok(args.task):
        raise UsageError(f"--task {args.task!r} is not a task name")
    if args.datapack_dir:
        if args.store is not None:
            raise UsageError("--store goes with --data-dir; --datapack-dir is the store")
        stores = [args.datapack_dir]
    elif args.data_dir:
        require_data_dir(args.data_dir, create=False, field="data_dir", label="--data-dir",
                         hint="reading creates nothing")
        stores = ([os.path.join(args.data_dir, *args.store.split("/")) if args.store else args.data_dir]
                  if args.store is not None else _store_folders(args.data_dir))
    else:
        raise UsageError("name what to validate: FILE ..., --datapack-dir DIR or --data-dir ROOT [--store S]")
    files = []
    for folder in stores:
        _require_store(args, folder)
        files.extend(f for f in task_files(folder, args.task) if os.path.isfile(f))
    if args.task is not None and not files:
        if len(stores) == 1:
            require_task(stores[0], args.task, stores[0])  # TASK_NOT_FOUND naming the closest tasks
        raise not_found("task_name", "TASK_NOT_FOUND", f"no task {args.task!r} in any store under "
                        f"{args.data_dir!r}" + closest(args.task, sorted({t for f in stores for t in tasks_in(f)}),
                                                        "tasks"))
    return files


def _require_store(args: argparse.Namespace, folder: str) -> None:
    """NOT_FOUND for a missing store folder, as every reading verb says it (service/stores.py)."""
    if os.path.isdir(folder):
        return
    if args.datapack_dir:
        require_data_dir(folder, create=False, field="datapack_dir", label="--datapack-dir",
                         hint="reading creates nothing")
    raise missing_store(args.data_dir, args.store or "")


def _store_folders(root: str) -> list[str]:
    """Every folder below a data root that holds task files (the root included)."""
    from datapack_server.storage.taskfile import AUX_DIR, SUFFIX
    out = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != AUX_DIR)
        if any(n.endswith(SUFFIX) for n in names):
            out.append(folder)
    return out


def register(sub) -> None:
    """Register `validate` on the `datapack` subparsers."""
    v = add_verb(sub, "validate", "list records breaking the append invariants",
                 "Read task files line by line and list every line a writer would refuse "
                 "(docs/repository.md §5) or a reader has to repair (corrupt line, torn tail, legacy shape, "
                 "derived id or time, duplicate lines): `file:line pack_id REASONS`, or one JSON object per "
                 "finding with --json. Only reads. Checksums are checked by `datapack verify`.", _validate,
                 exits="0 no findings; 1 findings, or a store folder or task that does not exist "
                       "(docs/repository.md §10)")
    v.add_argument("files", nargs="*", metavar="FILE", help="JSONL files (instead of a store)")
    v.add_argument("--datapack-dir", metavar="DIR", help="a store folder")
    v.add_argument("--data-dir", metavar="ROOT", help="a data root: every store below it, or --store")
    v.add_argument("--store", metavar="NAME", default=None, help="with --data-dir: one store")
    v.add_argument("--task", metavar="T", help="one task of the store(s); default: every task file")
    v.add_argument("--json", action="store_true", help="one JSON object per finding")
    v.add_argument("--verbose", "-v", action="store_true", help="also print each violation's field and message")
