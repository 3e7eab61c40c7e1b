"""`datapack report`: the PNGs and index.html of the 600-pack reference task,
over the wire and from a local store, and its errors."""
from __future__ import annotations

import base64
import io
import json
import re
import struct
import subprocess
import sys
import textwrap

import pytest

from datapack_client import SkillDataPackAdapter, connect
from datapack_server import DataPackRepo
from datapack_server.cli import main as cli
from datapack_server.cli import report
from datapack_server.api.app import ServerConfig, build_server

from .conftest import STORE, copy_fixture

TASK = "drawer_vase"
PLOTS = ["value_matrix.png", "delta_j_histogram.png", "trust_vs_delta_j.png", "energy_per_limb.png",
         "energy_per_skill.png", "pack_counts.png"]


@pytest.fixture
def fixture_server(data_root):
    """A server on 127.0.0.1:0 over the reference file copied into phase_c."""
    copy_fixture(data_root, "drawer_vase_datapacks.jsonl")
    running = build_server(ServerConfig(data_dir=str(data_root), port=0, max_workers=8, workers=0))
    yield running
    running.stop(0)


def run_report(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = report.main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def png_size(path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", f"{path.name} is not a PNG"
    return struct.unpack(">II", head[16:24])


def statistics_table(page: str) -> str:
    return page[page.index("<table>"):page.index("</table>")]


def test_report_over_the_wire_and_local_show_the_same_data(fixture_server, data_root, tmp_path):
    remote_out, local_out = tmp_path / "remote", tmp_path / "local"
    code, out, err = run_report("--task", TASK, "--out", str(remote_out), "--target",
                                f"127.0.0.1:{fixture_server.port}", "--store", STORE, "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["packs"] == 600 and summary["files"] == PLOTS + ["index.html"]
    for name in PLOTS:
        width, height = png_size(remote_out / name)
        assert 700 <= width <= 2600 and 300 <= height <= 2000, (name, width, height)
    assert not list(remote_out.glob(".*")), "no partial file is left behind"

    page = (remote_out / "index.html").read_text(encoding="utf-8")
    # Every plot embedded as a data: URI holding the PNG written next to it, in the documented order.
    embedded = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"[^>]* title="([^"]+)"', page)
    assert [name for _, name in embedded] == PLOTS
    assert all(base64.b64decode(png) == (remote_out / name).read_bytes() for png, name in embedded)
    assert not re.search(r"https?://|<script|<link|@import|url\(|src=\"(?!data:)", page), \
        "the page must be self-contained"
    assert f"store <b>{STORE}</b>" in page and f"task <b>{TASK}</b>" in page and "generated 20" in page
    with connect(f"127.0.0.1:{fixture_server.port}", store=STORE) as client:
        stats = client.get_statistics(TASK)
    table = statistics_table(page)
    for label, value in (("packs", f"{stats['total']:,}"), ("positive (ΔJ ≥ 0)", f"{stats['positive']:,}"),
                         ("ΔJ mean", f"{stats['delta_j_mean']:.4g}"), ("trust mean", f"{stats['trust_mean']:.4g}")):
        assert f"<th>{label}</th><td class=\"num\">{value}</td>" in table
    for engine, n in stats["engine_types"].items():
        assert f"{engine}: {n:,}" in table

    # The embedded repository on the same folder: the same table and the same plots.
    code, out, err = run_report("--task", TASK, "--out", str(local_out), "--data-dir", str(data_root),
                                "--store", STORE, "--quiet")
    assert code == 0 and out == "" and err == ""
    local_page = (local_out / "index.html").read_text(encoding="utf-8")
    assert statistics_table(local_page) == table
    assert sorted(p.name for p in local_out.iterdir()) == sorted(PLOTS + ["index.html"])


def test_collected_points_and_summaries_match_the_repository(data_root):
    copy_fixture(data_root, "drawer_vase_datapacks.jsonl")
    with DataPackRepo(str(data_root / STORE)) as repo:
        data = report.collect(repo, TASK, STORE, "local")
        stats = repo.get_statistics(TASK)
        matrix = SkillDataPackAdapter(repo).compute_skill_value_matrix(TASK)
        packs = repo.query(TASK, limit=None)
    positive_dj, positive_trust = data.points["positive"]
    negative_dj, _ = data.points["negative"]
    assert len(positive_dj) == stats["positive"] and len(negative_dj) == stats["negative"]
    assert data.points_skipped == 0
    assert min(positive_dj) >= 0 > max(negative_dj)
    assert sum(positive_dj) + sum(negative_dj) == pytest.approx(stats["delta_j_mean"] * stats["total"])
    first_positive = next(p for p in packs if p.bucket == "positive")
    assert (positive_dj[0], positive_trust[0]) == (first_positive.attribution.delta_J,
                                                   first_positive.attribution.trust_score)
    assert data.value_matrix == matrix
    assert data.energy_by_bucket["positive"]["n_packs"] == stats["positive"]
    assert data.statistics_by_bucket["negative"]["total"] == stats["negative"]


def test_no_packs_and_missing_store_are_errors_that_write_nothing(data_root, tmp_path):
    copy_fixture(data_root, "drawer_vase_datapacks.jsonl")
    out_dir = tmp_path / "out"
    (data_root / STORE / "empty_task_datapacks.jsonl").touch()  # a task that exists and holds no packs
    code, _, err = run_report("--task", "empty_task", "--out", str(out_dir), "--data-dir", str(data_root),
                              "--store", STORE)
    assert code == 1 and "no packs of task 'empty_task'" in err
    code, _, err = run_report("--task", "no_such_task", "--out", str(out_dir), "--data-dir", str(data_root),
                              "--store", STORE)
    assert code == 1 and "NOT_FOUND TASK_NOT_FOUND: no task 'no_such_task'" in err  # issue 13
    code, _, err = run_report("--task", TASK, "--out", str(out_dir), "--data-dir", str(data_root),
                              "--store", "elsewhere")
    assert code == 1 and "NOT_FOUND STORE_NOT_FOUND: no store 'elsewhere'" in err
    assert not (data_root / "elsewhere").exists() and not out_dir.exists()
    code, _, err = run_report("--task", "../x", "--out", str(out_dir), "--data-dir", str(data_root))
    assert code == 2 and "not a task name" in err  # a usage error (cli/common.py)


def test_unreachable_server_is_an_error(tmp_path):
    code, _, err = run_report("--task", TASK, "--out", str(tmp_path / "o"), "--target", "127.0.0.1:1")
    assert code == 1 and err.startswith("datapack report: error:")


def test_missing_matplotlib_names_the_report_extra(tmp_path):
    script = textwrap.dedent(f"""
        import sys

        class BlockMatplotlib:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "matplotlib":
                    raise ImportError("No module named 'matplotlib' (blocked)")

        sys.meta_path.insert(0, BlockMatplotlib())
        from datapack_server.launcher import main
        sys.exit(main(["report", "--task", "drawer_vase", "--out", {str(tmp_path / "o")!r}, "--data-dir",
                       {str(tmp_path)!r}]))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "pip install 'datapack[report]'" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


def test_report_is_a_datapack_verb():
    args = cli.build_parser().parse_args(["report", "--task", TASK, "--out", "r", "--target", "h:1", "--store", "s"])
    assert args.func is report.run and (args.task, args.out, args.target, args.store) == (TASK, "r", "h:1", "s")
