"""The schema stays lint-clean and the committed generated code stays fresh."""
from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_generated_code_matches_protos():
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_protos.py"), "--check"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_check_detects_stale_code(tmp_path):
    """The freshness check fails when a .proto changes without regenerating."""
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "protos", copy / "protos")
    shutil.copytree(ROOT / "client" / "datapack_client" / "proto", copy / "client" / "datapack_client" / "proto")
    shutil.copytree(ROOT / "tools", copy / "tools")
    proto = copy / "protos" / "datapack" / "v1" / "datapack_service.proto"
    proto.write_text(proto.read_text().replace("message ListTasksRequest {", "message ListTasksRequest {\n  bool x = 9;"))
    proc = subprocess.run([sys.executable, str(copy / "tools" / "gen_protos.py"), "--check"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "stale" in proc.stderr


def test_buf_lint_standard_is_clean():
    buf = shutil.which("buf") or str(pathlib.Path(sys.executable).parent / "buf")
    if not pathlib.Path(buf).exists():
        pytest.skip("buf is not installed (pip install buf-bin)")
    proc = subprocess.run([buf, "lint"], cwd=ROOT / "protos", capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
