"""Verify a task file against its checksum sidecar, line by line, and the
`datapack verify` command.

Verification reads the data file from the start, independently of any index:
every line inside the sidecar's covered prefix is compared with its entry,
every non-blank line must be one JSON object, and bytes after the last newline
are a torn tail. It never modifies a file.
"""
from __future__ import annotations

import argparse
import os
import sys
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field

from .checksums import ENTRY_SIZE, HEADER, SCAN_CHUNK, Checksums
from .lines import CorruptLine, line_blocks, parse_line

CHECKSUM_MISMATCH = "CHECKSUM_MISMATCH"
CORRUPT_LINE = "CORRUPT_LINE"
TORN_TAIL = "TORN_TAIL"


@dataclass
class Finding:
    task: str
    line: int  # 1-based physical line number
    byte_offset: int
    length: int
    kind: str  # CHECKSUM_MISMATCH | CORRUPT_LINE | TORN_TAIL
    message: str


@dataclass
class VerifyReport:
    task: str
    file: str
    bytes: int = 0
    lines: int = 0  # complete physical lines
    records: int = 0  # lines that parse as a JSON object and match their checksum (if any)
    checked: int = 0  # lines compared with a checksum entry
    unchecked: int = 0  # lines after the sidecar's covered prefix (no entry yet)
    checksums: str = "missing"  # sidecar: ok | missing | stale (another file's) | damaged
    stale_entries: int = 0  # sidecar entries past the data (a crash; the next writer removes them)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict:
        d = asdict(self)
        d["ok"] = self.ok
        return d


def verify_file(path: str, sums_path: str, task: str, write_lock=None) -> VerifyReport:
    """Verify one task file. `write_lock` (the task's writer lock, a context
    manager factory) is taken only to tell a torn tail from a write in flight."""
    report = VerifyReport(task=task, file=os.path.basename(path))
    fd = os.open(path, os.O_RDONLY)
    try:
        st = os.fstat(fd)
        size = report.bytes = st.st_size
        sums = Checksums(sums_path)
        sums.load(fd, size)  # after the size: see Checksums.load
        report.checksums = sums.status
        try:
            report.stale_entries = max(0, (os.stat(sums_path).st_size - HEADER.size) // ENTRY_SIZE - sums.n)
        except FileNotFoundError:
            pass
        carry = b""
        for block, base, complete in line_blocks(fd, 0, size, SCAN_CHUNK):
            if complete:
                _verify_lines(report, sums, block, base)
            else:
                carry = block
        if carry:
            tail_off = size - len(carry)
            with (write_lock() if write_lock is not None else nullcontext()):
                now = os.fstat(fd).st_size
                grown = os.pread(fd, now - tail_off, tail_off) if now > tail_off else b""
            if b"\n" not in grown:  # not a line a writer was appending while we read
                report.findings.append(Finding(task, report.lines + 1, tail_off, len(carry), TORN_TAIL,
                                               "bytes after the last newline (an interrupted write); "
                                               "the next writer quarantines and cuts them"))
    finally:
        os.close(fd)
    return report


def _verify_lines(report: VerifyReport, sums: Checksums, data: bytes, base: int) -> None:
    covered = sums.end
    expected = sums.expected(base, base + len(data)) if base < covered else None
    pos = 0
    task = report.task
    for raw in data.split(b"\n")[:-1]:
        off = base + pos
        length = len(raw) + 1
        pos += length
        report.lines += 1
        if off < covered:
            report.checked += 1
            why = sums.mismatch(expected, off, length, raw)
            if why is not None:
                report.findings.append(Finding(task, report.lines, off, length, CHECKSUM_MISMATCH,
                                               why.partition(": ")[2]))
                continue
        else:
            report.unchecked += 1
        if not raw.strip():
            continue
        try:
            parse_line(raw)
        except CorruptLine as exc:
            report.findings.append(Finding(task, report.lines, off, length, CORRUPT_LINE, str(exc)))
            continue
        report.records += 1


# ---------------------------------------------------------------------- `datapack verify`

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
    from .taskfile import AUX_DIR, SUFFIX
    out = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != AUX_DIR)
        if any(f.endswith(SUFFIX) for f in files):
            rel = os.path.relpath(folder, root)
            out.append("" if rel == "." else rel)
    return out


def run_command(args: argparse.Namespace) -> int:
    from ..store import Store  # the domain engine (reports corruption like any reader)

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
