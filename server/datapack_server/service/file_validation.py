"""Validation of stored task files (docs/repository.md §10): every finding of a
file, line by line, reading only.

A finding is {file, line, pack_id, revision, reasons, details}: the append
invariants of docs/repository.md §5 (validation.record_violations) that a stored
line breaks, checked on every line that is served or was a revision, plus the
reading conditions a writer would never produce: CORRUPT_LINE, TORN_TAIL,
LEGACY_SHAPE, DERIVED_PACK_ID, DERIVED_CREATED_AT, DUPLICATE_LINE,
DUPLICATE_PACK_ID. Checksums are `datapack verify`'s business
(storage/verify.py); a file without a checksum sidecar validates the same.

The file is read from the start independently of any index, as a reader of
storage/lines.py sees it, so the findings name the physical line numbers a
text editor or `sed -n Np` shows.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from datapack_client.records import jsonio
from datapack_client.records.stored import is_legacy
from datapack_client.records.validation import record_violations
from datapack_client.records.validation_rules import task_name_ok
from datapack_server.engine.task_state import records_identical
from datapack_server.storage.lines import CorruptLine, line_blocks, parse_line, served_record
from datapack_server.storage.taskfile import SUFFIX

CHUNK = 4 << 20


@dataclass
class Finding:
    file: str
    line: int  # 1-based physical line number
    pack_id: str | None
    revision: int | None  # the pack's revision this line is (a redundant duplicate: the one it repeats)
    reasons: list[str]
    details: list[dict] = field(default_factory=list)  # {field, reason, message}

    def as_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "pack_id": self.pack_id, "revision": self.revision,
                "reasons": list(self.reasons), "details": list(self.details)}


@dataclass
class FileReport:
    file: str
    lines: int = 0  # complete physical lines
    records: int = 0  # lines that are one JSON object
    packs: int = 0
    findings: list[Finding] = field(default_factory=list)


def task_of_file(path: str) -> str | None:
    """The task a file named `<task>_datapacks.jsonl` holds, else None."""
    name = os.path.basename(path)
    if name.endswith(SUFFIX) and task_name_ok(name[: -len(SUFFIX)]):
        return name[: -len(SUFFIX)]
    return None


def _missing(v) -> bool:
    return v is None or v == ""


def validate_file(path: str, shown_as: str | None = None) -> FileReport:
    """Every finding of one JSONL file, in line order. Legacy lines are
    checked as the unified record they are served as (docs/schema.md §10.2)."""
    shown = shown_as if shown_as is not None else path
    report = FileReport(shown)
    file_name = os.path.basename(path)
    task = task_of_file(path)
    # pack id -> (offset, length, line, revision) of its current revision: repeats are
    # rare, so the current record is re-read from the file when one occurs.
    current: dict[str, tuple[int, int, int, int]] = {}
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        for block, base, complete in line_blocks(fd, 0, size, CHUNK):
            if not complete:
                report.findings.append(Finding(shown, report.lines + 1, None, None, ["TORN_TAIL"], [{
                    "field": "", "reason": "TORN_TAIL",
                    "message": f"{len(block)} bytes after the last newline (an interrupted write, or one in "
                               "flight); readers ignore them"}]))
                continue
            pos = 0
            for raw in block.split(b"\n")[:-1]:
                off = base + pos
                pos += len(raw) + 1
                report.lines += 1
                if raw.strip():
                    _check_line(report, fd, raw, off, file_name, task, current)
    finally:
        os.close(fd)
    report.packs = len(current)
    return report


def _check_line(report: FileReport, fd: int, raw: bytes, off: int, file_name: str, task: str | None,
                current: dict) -> None:
    line_no = report.lines
    try:
        d = parse_line(raw)
    except CorruptLine as exc:
        report.findings.append(Finding(report.file, line_no, None, None, ["CORRUPT_LINE"],
                                       [{"field": "", "reason": "CORRUPT_LINE", "message": str(exc)}]))
        return
    report.records += 1
    reasons: list[str] = []
    details: list[dict] = []

    def note(reason: str, fld: str, message: str) -> None:
        if reason not in reasons:
            reasons.append(reason)
        details.append({"field": fld, "reason": reason, "message": message})

    legacy = is_legacy(d)
    # A legacy line's task is its file's; outside a task file, its env_type (as an import maps it).
    env_type: Any = d.get("env_type")
    line_task: str = task or (env_type if task_name_ok(env_type) else "drawer_vase")
    if legacy:
        note("LEGACY_SHAPE", "", "legacy 2.0-energy dict (docs/schema.md §10), served through the mapping of §10.2")
        if _missing(d.get("brick_id")) or type(d.get("brick_id")) is not str:
            note("DERIVED_PACK_ID", "pack_id", "no brick_id: the pack id is derived from the line number")
        note("DERIVED_CREATED_AT", "created_at", "a legacy dict has no created_at: derived from the line number")
    else:
        if _missing(d.get("pack_id")):
            note("DERIVED_PACK_ID", "pack_id", "pack_id missing or empty: derived from the line number")
        if _missing(d.get("created_at")):
            note("DERIVED_CREATED_AT", "created_at", "created_at missing or empty: derived from the line number")
    rec = served_record(d, file_name, line_no, line_task)
    pid = rec.get("pack_id")
    # The grouping key of store.TaskState: a non-string id groups by its JSON text.
    key = pid if type(pid) is str and pid else jsonio.dumps_str(pid)
    shown_id = pid if type(pid) is str else key
    seen = current.get(key)
    revision = 1
    if seen is not None:
        c_off, c_len, c_line, c_rev = seen
        now = served_record(parse_line(os.pread(fd, c_len, c_off)[:-1]), file_name, c_line, line_task)
        if records_identical(now, rec):
            note("DUPLICATE_LINE", "", f"repeats line {c_line} (revision {c_rev}) unchanged; not served")
            report.findings.append(Finding(report.file, line_no, shown_id, c_rev, reasons, details))
            return
        revision = c_rev + 1
        if "_revision" not in d:
            note("DUPLICATE_PACK_ID", "pack_id",
                 f"pack_id of line {c_line} repeated with other content and no _revision: served as revision "
                 f"{revision}")
    current[key] = (off, len(raw) + 1, line_no, revision)
    for v in record_violations(rec, check_free_finite=True):
        note(v.reason, v.field, v.message)
    if reasons:
        report.findings.append(Finding(report.file, line_no, shown_id, revision, reasons, details))


def task_files(store_dir: str, task: str | None = None) -> list[str]:
    """The task files of a store folder (one task, or all in name order)."""
    if task is not None:
        return [os.path.join(store_dir, task + SUFFIX)]
    try:
        names = sorted(os.listdir(store_dir))
    except FileNotFoundError:
        return []
    return [os.path.join(store_dir, n) for n in names
            if n.endswith(SUFFIX) and task_of_file(n) is not None and os.path.isfile(os.path.join(store_dir, n))]


__all__ = ["FileReport", "Finding", "task_files", "task_of_file", "validate_file"]
