"""The wire schema stays compatible with the last released one: `buf breaking`
(FILE rules, protos/buf.yaml) against the committed snapshot
protos/released/datapack-v1.binpb passes for protos/, and the same check fails
for a copy with a field removed, renumbered or retyped (and passes for an
added field), so it would catch a breaking change. Offline: no git tag, no
network; `make release-protos` refreshes the snapshot when releasing."""
from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
RELEASED = ROOT / "protos" / "released" / "datapack-v1.binpb"
SERVICE_PROTO = pathlib.Path("datapack") / "v1" / "datapack_service.proto"
RECORD_PROTO = pathlib.Path("datapack") / "v1" / "datapack.proto"


@pytest.fixture(scope="module")
def buf() -> str:
    found = shutil.which("buf") or str(pathlib.Path(sys.executable).parent / "buf")
    if not pathlib.Path(found).exists():
        pytest.skip("buf is not installed (pip install buf-bin, part of the dev extra)")
    return found


def breaking(buf: str, protos: pathlib.Path) -> tuple[int, list[dict]]:
    proc = subprocess.run([buf, "breaking", str(protos), "--against", str(RELEASED), "--error-format", "json"],
                          capture_output=True, text=True, timeout=120)
    found = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert proc.returncode == 0 or found, proc.stderr  # a failure must be a reported incompatibility
    return proc.returncode, found


def test_current_protos_are_compatible_with_the_released_snapshot(buf):
    assert RELEASED.stat().st_size > 10_000
    code, found = breaking(buf, ROOT / "protos")
    assert (code, found) == (0, [])


def edited_copy(tmp_path: pathlib.Path, rel: pathlib.Path, old: str, new: str) -> pathlib.Path:
    copy = tmp_path / "protos"
    shutil.copytree(ROOT / "protos", copy, ignore=shutil.ignore_patterns("released"))
    path = copy / rel
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))
    return copy


@pytest.mark.parametrize("rel, old, new, rule", [
    # Removed without reserving: an old client's field 3 would be read as whatever reuses it.
    (SERVICE_PROTO, "  string writer_id = 3;\n", "", "FIELD_NO_DELETE"),
    # Renumbered: old and new peers read each other's batch_sequence as unknown.
    (SERVICE_PROTO, "  uint64 batch_sequence = 4;\n", "  uint64 batch_sequence = 9;\n", "FIELD_NO_DELETE"),
    # Retyped: the same number now decodes as another type.
    (RECORD_PROTO, "  optional double trust_score = 6;", "  optional string trust_score = 6;",
     "FIELD_SAME_TYPE"),
    # A reserved number handed out again.
    (RECORD_PROTO, "  reserved 28, 29, 31;", "  reserved 29, 31;\n  optional string reused = 28;",
     "RESERVED_MESSAGE_NO_DELETE"),
])
def test_breaking_changes_are_caught(buf, tmp_path, rel, old, new, rule):
    code, found = breaking(buf, edited_copy(tmp_path, rel, old, new))
    assert code != 0
    assert rule in {f["type"] for f in found}, found


def test_an_added_field_is_compatible(buf, tmp_path):
    copy = edited_copy(tmp_path, SERVICE_PROTO, "message ListTasksRequest {\n  string store = 1;\n",
                       "message ListTasksRequest {\n  string store = 1;\n  bool include_empty = 2;\n")
    assert breaking(buf, copy) == (0, [])
