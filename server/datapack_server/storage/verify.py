"""Verify a task file against its checksum sidecar, line by line, and the
`datapack verify` command.

Verification reads the data file from the start, independently of any index:
every line inside the sidecar's covered prefix is compared with its entry,
every non-blank line must be one JSON object, and bytes after the last newline
are a torn tail. It never modifies a file.
"""
from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field

from datapack_server.storage.checksums import ENTRY_SIZE, HEADER, SCAN_CHUNK, Checksums
from datapack_server.storage.lines import CorruptLine, line_blocks, parse_line

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
