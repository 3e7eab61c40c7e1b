"""`datapack import`: append the records of JSONL or JSON-array files to a store.

    datapack import FILE ... LOCATION [--batch-size N] [--show-rejected N] [--json] [--quiet]

Records the store refuses are reported with their line or index and reasons, the others
appended; re-running is idempotent (already_present). Exit status (common.py): 0 ok, 1 a record
was rejected or a file cannot be read, 2 usage (a FILE that does not exist included).
"""
from __future__ import annotations

import argparse
import os
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

from datapack_client.errors import DataPackError
from datapack_client.records import jsonio, schema
from datapack_server.cli.common import EXIT_OK, EXIT_REJECTED, Progress, isatty
from datapack_server.cli.options import (
    CommandFailure,
    UsageError,
    add_location_arguments,
    add_output_arguments,
    add_verb,
    open_repo,
    positive_int,
)
from datapack_server.cli.tables import json_line


@dataclass
class ImportReport:
    """What importing one file did: records read, created, already present, superseded, rejected."""

    file: str
    read: int = 0
    created: int = 0
    already_present: int = 0
    superseded: int = 0  # JSONL: earlier lines of a pack replaced by its later revision lines
    rejected: list[dict] = field(default_factory=list)  # {where, pack_id, reasons, details}

    def as_dict(self) -> dict:
        return {"file": self.file, "read": self.read, "created": self.created,
                "already_present": self.already_present, "superseded": self.superseded,
                "rejected": len(self.rejected), "rejections": self.rejected}


def _reject(report: ImportReport, pos: int, where: str, pack_id: Any, violations: list[dict]) -> None:
    """Record a rejection; `pos` (the record's position in its file) orders the report."""
    reasons = []
    for v in violations:
        if v["reason"] not in reasons:
            reasons.append(v["reason"])
    report.rejected.append({"where": where, "pack_id": pack_id, "reasons": reasons, "details": violations,
                            "_pos": pos})


def _finish(report: ImportReport) -> None:
    """Order the rejections by their position in the file and drop that position."""
    report.rejected.sort(key=lambda r: r["_pos"])
    for r in report.rejected:
        del r["_pos"]


def read_import_file(path: str, report: ImportReport) -> list[tuple[int, str, dict]]:
    """(position, where, record) of every importable record of a file, in order.

    A JSON array (as the earlier library's export_to_json wrote, unified or
    legacy 2.0-energy dicts) is mapped as import_from_json does (docs/repository.md
    §8, docs/schema.md §10.2: task = env_type, pack_id = brick_id or
    UUID5("import:<file>:<index>"), created_at now). A JSONL file is read as a
    task file is served: derived ids of lines without one, legacy lines
    mapped, and of several lines of one pack only the last (its current
    revision) imported."""
    with open(path, "rb") as fh:
        data = fh.read()
    if data.lstrip()[:1] == b"[":
        return _read_json_array(path, data, report)
    return _read_jsonl(path, data, report)


def _read_json_array(path: str, data: bytes, report: ImportReport) -> list[tuple[int, str, dict]]:
    from datapack_client.records.stored import is_legacy, map_legacy

    name = os.path.basename(path)
    try:
        items = jsonio.loads(data)
    except ValueError as exc:
        raise CommandFailure(f"{path}: not a JSON array ({exc})") from None
    if type(items) is not list:
        raise CommandFailure(f"{path}: not a JSON array")
    out = []
    for i, el in enumerate(items):
        report.read += 1
        where = f"[{i}]"
        if type(el) is not dict:
            _reject(report, i, where, None, [{"field": where, "reason": "FIELD_TYPE",
                                              "message": "an element must be a JSON object"}])
            continue
        derived = str(uuid.uuid5(schema.DATAPACK_NS, f"import:{name}:{i}"))
        if is_legacy(el):
            env = el.get("env_type")
            task = env if type(env) is str and env else "drawer_vase"
            rec = map_legacy(el, task, derived, schema.utc_now())
        else:
            rec = schema.normalize_record(el, pack_id=derived, created_at=schema.utc_now())
            rec.pop("_revision", None)
        out.append((i, where, rec))
    return out


def _read_jsonl(path: str, data: bytes, report: ImportReport) -> list[tuple[int, str, dict]]:
    from datapack_server.service.file_validation import task_of_file
    from datapack_server.storage.lines import CorruptLine, parse_line, served_record

    name = os.path.basename(path)
    task = task_of_file(path)
    latest: dict[str, int] = {}
    out: list[tuple[int, str, dict]] = []
    for line_no, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        where = f"line {line_no}"
        report.read += 1
        try:
            d = parse_line(raw)
        except CorruptLine as exc:
            _reject(report, line_no, where, None, [{"field": "", "reason": "CORRUPT_LINE", "message": str(exc)}])
            continue
        env = d.get("env_type")
        rec = served_record(d, name, line_no, task or (env if type(env) is str and env else "drawer_vase"))
        key = jsonio.dumps_str(rec.get("pack_id"))
        if key in latest:
            out[latest[key]] = (line_no, where, rec)
            report.superseded += 1
        else:
            latest[key] = len(out)
            out.append((line_no, where, rec))
    return out


def append_reporting(repo, items: list[tuple[int, str, dict]], report: ImportReport, batch_size: int,
                     progress: Progress | None = None) -> None:
    """append_batch in batches; a batch refused for some of its records
    (INVALID_ARGUMENT or ALREADY_EXISTS naming their indexes) is retried
    without them, and they are reported as rejected."""
    done = 0
    for batch in _batches(items, batch_size):
        pending = batch
        while pending:
            try:
                results = repo.append_batch([rec for _, _, rec in pending])
            except DataPackError as exc:
                bad: dict[int, list[dict]] = {}
                for v in exc.violations:
                    if v.index is not None and 0 <= v.index < len(pending):
                        bad.setdefault(v.index, []).append({"field": v.field, "reason": v.reason,
                                                            "message": v.message})
                if exc.code not in ("INVALID_ARGUMENT", "ALREADY_EXISTS") or not bad:
                    raise  # a store fault or an error without per-record details: nothing to drop
                for i in sorted(bad):
                    pos, where, rec = pending[i]
                    _reject(report, pos, where, rec.get("pack_id"), bad[i])
                pending = [item for i, item in enumerate(pending) if i not in bad]
                continue
            for r in results:
                if r.status == "created":
                    report.created += 1
                elif r.status == "already_present":
                    report.already_present += 1
            break
        done += len(batch)
        if progress is not None:
            progress.update(done)


# A batch travels as one message: portable records with artifacts reach ~0.5 MB
# each, so batches are also cut by size, well below the 64 MiB message limit.
BATCH_BYTES = 16 << 20


def _batches(items: list, batch_size: int) -> Iterable[list]:
    batch: list = []
    size = 0
    for item in items:
        n = len(jsonio.dumps(item[2]))
        if batch and (len(batch) >= batch_size or size + n > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += n
    if batch:
        yield batch


def _import(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    for path in args.files:
        if not os.path.isfile(path):
            raise UsageError(f"no such file: {path}")
    repo = open_repo(args, create=True)
    reports = []
    try:
        for path in args.files:
            report = ImportReport(path)
            items = read_import_file(path, report)
            progress = Progress(err, len(items), f"importing {os.path.basename(path)}",
                                 not args.quiet and not args.json and isatty(err))
            try:
                append_reporting(repo, items, report, args.batch_size, progress)
            finally:
                progress.close()
            _finish(report)
            reports.append(report)
            if args.json:
                out.write(json_line(report.as_dict()) + "\n")
            elif not args.quiet or report.rejected:
                _print_import(out, report, args.show_rejected)
    finally:
        repo.close()
    return EXIT_REJECTED if any(r.rejected for r in reports) else EXIT_OK


def _print_import(out: TextIO, r: ImportReport, show: int) -> None:
    print(f"{r.file}: read {r.read}, created {r.created}, already_present {r.already_present}, "
          f"superseded {r.superseded}, rejected {len(r.rejected)}", file=out)
    if not r.rejected:
        return
    by_reason = Counter(reason for rej in r.rejected for reason in rej["reasons"])
    print("  rejected by reason: " + ", ".join(f"{k} {n}" for k, n in by_reason.most_common()), file=out)
    for rej in r.rejected[:show]:
        first = rej["details"][0]
        more = f" (+{len(rej['details']) - 1} more)" if len(rej["details"]) > 1 else ""
        print(f"  {rej['where']} {rej['pack_id'] if rej['pack_id'] is not None else '-'}: "
              f"{','.join(rej['reasons'])}: {first['field']}: {first['message']}{more}", file=out)
    if len(r.rejected) > show:
        print(f"  ... {len(r.rejected) - show} more (--show-rejected N, or --json for all)", file=out)


def register(sub) -> None:
    """Register `import` on the `datapack` subparsers."""
    i = add_verb(sub, "import", "append the records of JSONL or JSON-array files to a store",
                 "Append the records of each FILE (a JSONL task file, or a JSON array as the earlier "
                 "library's export_to_json wrote, legacy 2.0-energy dicts included) to the store, in batches; "
                 "records the store refuses are reported with their line or index and reasons, the others "
                 "appended. Re-running is idempotent (already_present).", _import,
                 exits="0 every record appended or already present; 1 a record was rejected, a file cannot be "
                       "read or the store cannot be written")
    i.add_argument("files", nargs="+", metavar="FILE")
    add_location_arguments(i, task="none")
    i.add_argument("--batch-size", type=positive_int, default=256, metavar="N", help="records per batch (default 256)")
    i.add_argument("--show-rejected", type=int, default=10, metavar="N",
                   help="rejected records printed per file (default 10; --json lists all)")
    add_output_arguments(i)
