"""One convention for every `datapack` verb (cli/common.py): the exit statuses
(0 ok, 1 findings or failure, 2 usage) in `datapack --help` and each verb's help,
the same store-location options, and the first-use papercuts: `| head`, a port in
use, `build --generate-synthetic 0`, skipped episode files, the default build
store, statuses printed once, `export --out x.parquet`, what export-portable did
and which packs it did not write, `report --datapack-dir`."""
from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import sys

import pytest

from datapack_client import connect
from datapack_client.errors import NotFoundError, UnavailableError
from datapack_server import DataPackRepo
from datapack_server.api.app import ServerConfig, build_server
from datapack_server.cli import main as cli
from datapack_server.cli import serve
from datapack_server.cli.common import error_label
from datapack_server.portable.synthetic_raw import write_raw_episode

from .conftest import ROOT, STORE, copy_fixture, make_pack, scaled

TASK = "drawer_vase"
REF_FILE = "drawer_vase_datapacks.jsonl"
VERBS = ("serve", "build", "export-portable", "verify", "query", "stats", "validate", "import", "export", "report",
         "health", "sim")
STORE_READERS = ("query", "stats", "export", "import", "report", "export-portable")


def run_cli(*argv: str) -> tuple[int, str, str]:
    """`datapack ARGV` in-process; (status, stdout, stderr), argparse exits included."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(list(argv))
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def subprocess_env() -> dict:
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "server"), str(ROOT / "client")]))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ref_store(data_root):
    copy_fixture(data_root, REF_FILE)
    return data_root


# ----------------------------------------------------------------------------- help and statuses

def test_help_lists_every_verb_with_its_purpose_and_the_exit_statuses():
    proc = subprocess.run([sys.executable, "-m", "datapack_server", "--help"], capture_output=True, text=True,
                          timeout=scaled(60), env=subprocess_env())
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    for verb in VERBS:
        (line,) = [x for x in lines if x.strip().split(" ")[0] == verb]
        assert len(line.split()) > 2 or lines[lines.index(line) + 1].strip(), f"{verb} has no purpose line"
    text = " ".join(proc.stdout.split())
    assert "0 ok; 1 findings or failure" in text and "2 usage" in text
    assert "--datapack-dir DIR" in text and "--data-dir ROOT --store NAME" in text and "--target HOST:PORT" in text


def test_every_verb_help_states_the_convention():
    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command").choices
    assert set(subparsers) == set(VERBS)
    for verb, sub in subparsers.items():
        text = " ".join(sub.format_help().split())
        assert "exit status (every verb): 0 ok; 1 findings or failure" in text, verb
        assert "2 usage" in text, verb


def test_every_store_reading_verb_takes_the_same_location_options():
    subparsers = next(a for a in cli.build_parser()._actions if a.dest == "command").choices
    for verb in STORE_READERS:
        options = {o for a in subparsers[verb]._actions for o in a.option_strings}
        assert {"--datapack-dir", "--data-dir", "--store", "--target", "--token-file", "--tls-ca"} <= options, verb
    for verb in ("validate", "verify"):  # they read files: the local forms
        options = {o for a in subparsers[verb]._actions for o in a.option_strings}
        assert {"--datapack-dir", "--data-dir", "--store"} <= options, verb


@pytest.mark.parametrize("verb", VERBS)
def test_an_unknown_option_is_a_usage_error_in_every_verb(verb):
    code, out, err = run_cli(verb, "--no-such-option")
    assert code == 2 and out == "" and "error:" in err, (verb, code, err)


def test_usage_errors_exit_2_and_failures_1_across_verbs(ref_store, tmp_path):
    store = str(ref_store / STORE)
    usage = [
        ("query", "--task", TASK),  # no store named
        ("stats", "--datapack-dir", store, "--data-dir", str(ref_store), "--task", TASK),
        ("export", "--datapack-dir", store, "--task", TASK, "--out", str(tmp_path / "x.data")),
        ("report", "--datapack-dir", store, "--task", "../x", "--out", str(tmp_path / "r")),
        ("export-portable", "--datapack-dir", store, "--store", "x", "--task", TASK),
        ("verify", "--datapack-dir", store, "--store", "x"),
        ("validate", str(tmp_path / "missing.jsonl")),
        ("import", str(tmp_path / "missing.jsonl"), "--datapack-dir", store),
        ("build", "--generate-synthetic", "0"),
        ("sim", "--task", "a/b"),
        ("health", "--timeout", "soon"),
    ]
    for argv in usage:
        code, _, err = run_cli(*argv)
        assert code == 2 and "error" in err, (argv, code, err)
    failures = [
        ("validate", "--datapack-dir", store),  # findings: the reference file breaks today's invariants
        ("import", str(ref_store / STORE / REF_FILE), "--datapack-dir", str(tmp_path / "imported"), "--quiet"),
        ("query", "--datapack-dir", str(ref_store / "nope"), "--task", TASK),
        ("stats", "--target", f"127.0.0.1:{closed_port()}", "--task", TASK),
    ]
    for argv in failures:
        code, _, err = run_cli(*argv)
        assert code == 1, (argv, code, err)


def test_verify_findings_exit_1_and_it_takes_a_store_folder(data_root):
    with DataPackRepo(str(data_root / STORE), create=True) as repo:
        repo.append_batch([make_pack(f"v{i}") for i in range(3)])
    code, out, _ = run_cli("verify", "--datapack-dir", str(data_root / STORE))
    assert code == 0 and "1 task file(s), 0 with findings" in out
    path = data_root / STORE / f"{TASK}_datapacks.jsonl"
    data = bytearray(path.read_bytes())
    data[data.index(b'"delta_J":') + len(b'"delta_J":')] ^= 1  # one digit changed: a checksum mismatch
    path.write_bytes(bytes(data))
    code, out, _ = run_cli("verify", "--datapack-dir", str(data_root / STORE), "--task", TASK)
    assert code == 1 and "CHECKSUM_MISMATCH" in out


# ------------------------------------------------------------------------------------- | head

@pytest.fixture(params=["local", "remote"])
def ref_location(request, ref_store, server):
    if request.param == "local":
        return ["--datapack-dir", str(ref_store / STORE)]
    return ["--target", f"127.0.0.1:{server.port}", "--store", STORE]


def test_a_reader_that_leaves_ends_the_command_quietly(ref_location):
    """`datapack query ... | head -1`: 600 packs of JSON (megabytes, far over a pipe's
    buffer), the reader closes after one line: status 0 and nothing on stderr."""
    proc = subprocess.Popen([sys.executable, "-m", "datapack_server", "query", *ref_location, "--task", TASK,
                             "--all", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=subprocess_env())
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    code = proc.wait(scaled(60))
    assert json.loads(first)["task_name"] == TASK
    assert code == 0 and err == b"", err.decode()


# --------------------------------------------------------------------------------- port in use

def test_a_port_in_use_is_one_line_naming_the_address(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert serve.address_in_use("127.0.0.1", port)
        proc = subprocess.run([sys.executable, "-m", "datapack_server", "serve", "--data-dir", str(data),
                               "--port", str(port), "--workers", "0"], capture_output=True, text=True,
                              timeout=scaled(60), env=subprocess_env())
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        f"datapack: cannot start: 127.0.0.1:{port} is already in use (another server?); "
        "pick another --port, or --port 0 for a free one"]
    assert not serve.address_in_use("127.0.0.1", port)  # released: free again
    assert not serve.address_in_use("127.0.0.1", 0)


def test_a_port_taken_after_the_check_is_said_the_same_way(tmp_path, monkeypatch, capsys):
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setattr(serve, "address_in_use", lambda host, port: False)  # lose the race on purpose
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["serve", "--data-dir", str(data), "--port", str(port), "--workers", "0"]) == 1
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port} is already in use" in err and "Traceback" not in err


# ----------------------------------------------------------------------------------------- build

def test_build_generate_synthetic_0_is_a_usage_error_about_that_option(tmp_path):
    code, out, err = run_cli("build", "--generate-synthetic", "0", "--datapack-dir", str(tmp_path / "s"))
    assert code == 2 and out == ""
    assert err.splitlines()[-1] == ("datapack build: error: argument --generate-synthetic: "
                                    "expected an integer >= 1, got '0'")
    assert not (tmp_path / "s").exists()


def test_build_names_the_files_it_does_not_read(tmp_path):
    episodes = tmp_path / "episodes"
    episodes.mkdir()
    (episodes / "run1_episodes.json").write_text(json.dumps([{"mpl": 11.0, "error_rate": 0.02, "ep": 2.0}]))
    (episodes / "run2.json").write_text(json.dumps([{"mpl": 9.0, "error_rate": 0.02, "ep": 2.0}]))
    (episodes / "notes.txt").write_text("not episodes")
    code, _, err = run_cli("build", "--data-dir", str(episodes), "--datapack-dir", str(tmp_path / "s"),
                           "--baseline", "synthetic_nominal", "--quiet")
    assert code == 0, err
    assert f"skipped 2 file(s) of {episodes} not named *episode*.json: notes.txt, run2.json" in err
    with DataPackRepo(str(tmp_path / "s")) as repo:
        assert repo.get_statistics(TASK)["total"] == 1


def test_build_default_store_is_a_named_store_below_the_data_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli("build", "--generate-synthetic", "3")
    assert code == 0, err
    assert "appending to data/datapacks/default" in err
    assert (tmp_path / "data/datapacks/default" / f"{TASK}_datapacks.jsonl").is_file()
    assert not list((tmp_path / "data/datapacks").glob("*.jsonl")), "nothing at the data root"
    code, _, err = run_cli("build", "--generate-synthetic", "3", "--store", "phase_x", "--quiet")
    assert code == 0 and err == ""
    assert (tmp_path / "data/datapacks/phase_x" / f"{TASK}_datapacks.jsonl").is_file()
    code, _, err = run_cli("build", "--generate-synthetic", "3", "--store", "x", "--datapack-dir", "elsewhere")
    assert code == 2 and "--datapack-dir is the store" in err


def test_build_through_a_server_defaults_to_the_same_store_name(server, data_root):
    code, _, err = run_cli("build", "--generate-synthetic", "4", "--target", f"127.0.0.1:{server.port}")
    assert code == 0, err
    assert "appending to store 'default'" in err
    with connect(f"127.0.0.1:{server.port}", store="default") as c:
        assert c.get_statistics(TASK)["total"] == 4
    assert not list(data_root.glob("*.jsonl"))


# ---------------------------------------------------------------------------- statuses once

def test_error_label_names_a_status_once():
    assert error_label(UnavailableError("down", "UNAVAILABLE")) == "UNAVAILABLE"
    assert error_label(UnavailableError("down")) == "UNAVAILABLE"
    assert error_label(NotFoundError("no store", "STORE_NOT_FOUND")) == "NOT_FOUND STORE_NOT_FOUND"


def test_unreachable_server_errors_name_the_status_once(tmp_path):
    target = f"127.0.0.1:{closed_port()}"
    for argv in (("query", "--target", target, "--store", STORE, "--task", TASK),
                 ("build", "--generate-synthetic", "2", "--target", target, "--store", STORE, "--quiet"),
                 ("export-portable", "--target", target, "--store", STORE, "--task", TASK)):
        code, _, err = run_cli(*argv)
        assert code == 1 and "UNAVAILABLE" in err, (argv, err)
        assert "UNAVAILABLE UNAVAILABLE" not in err, err


# ----------------------------------------------------------------------------------------- export

def test_export_takes_the_format_from_the_extension(ref_location, tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    code, out, err = run_cli("export", *ref_location, "--task", TASK, "--out", str(tmp_path / "a.parquet"),
                             "--limit", "5")
    assert code == 0 and "(parquet," in out, err
    assert pq.read_table(tmp_path / "a.parquet").num_rows == 5
    code, out, err = run_cli("export", *ref_location, "--task", TASK, "--out", str(tmp_path / "a.arrow"),
                             "--limit", "4")
    assert code == 0 and "(arrow," in out, err
    with pa.OSFile(str(tmp_path / "a.arrow"), "rb") as fh:
        assert pa.ipc.open_file(fh).read_all().num_rows == 4
    code, _, err = run_cli("export", *ref_location, "--task", TASK, "--out", str(tmp_path / "a.data"))
    assert code == 2 and "give --format" in err
    code, _, err = run_cli("export", *ref_location, "--task", TASK, "--out", str(tmp_path / "b.parquet"),
                           "--format", "arrow")
    assert code == 2 and "does not match" in err and not (tmp_path / "b.parquet").exists()


# ---------------------------------------------------------------------------------- export-portable

def write_store_with_an_invalid_pack(folder, raw_dir) -> str:
    """Six packs with raw episodes written as a task file (as an older tool would), one
    negative pack without its counterfactual plan: the export cannot write it back."""
    folder.mkdir(parents=True)
    lines = []
    for i in range(6):
        p = make_pack(f"raw-{i}", delta_j=-1.0 if i == 2 else 1.0)
        p.raw_data_path = write_raw_episode(str(raw_dir), p.pack_id, seed=i, occlusion_level=0.1 * i, moving=True)
        d = p.to_dict()
        if i == 2:
            d["counterfactual_plan"] = None
        lines.append(json.dumps(d))
    (folder / f"{TASK}_datapacks.jsonl").write_text("\n".join(lines) + "\n")
    return "raw-2"


def test_export_portable_names_the_packs_it_does_not_write(data_root, tmp_path):
    bad = write_store_with_an_invalid_pack(data_root / STORE, tmp_path / "raw")
    running = build_server(ServerConfig(data_dir=str(data_root), port=0, max_workers=8, workers=0))
    try:
        target = f"127.0.0.1:{running.port}"
        code, out, err = run_cli("export-portable", "--target", target, "--store", STORE, "--task", TASK, "--json")
        summary = json.loads(out)
        assert code == 1, err
        assert (summary["revised"], summary["rejected_invalid"]) == (5, 1)
        (named,) = summary["not_written"]
        assert named["pack_id"] == bad and named["counter"] == "rejected_invalid"
        assert named["reason"] == "COUNTERFACTUAL_REQUIRED" and "counterfactual_plan" in named["message"]
        # The same answer through the public client, then the embedded repository.
        with connect(target, store=STORE) as c:
            assert c.export_portable(TASK)["not_written"] == [named]
    finally:
        running.stop(0)
    with DataPackRepo(str(data_root / STORE)) as repo:
        again = repo.export_portable(TASK)
    assert again["not_written"] == [named] and again["already_present"] == 5


def test_export_portable_says_what_a_rerun_did(data_root, tmp_path):
    bad = write_store_with_an_invalid_pack(data_root / STORE, tmp_path / "raw")
    loc = ["--data-dir", str(data_root), "--store", STORE, "--task", TASK, "--workers", "0"]
    code, out, _ = run_cli("export-portable", *loc)
    assert code == 1
    assert "result:  5 written, 0 already portable, 1 not written (0 conflicts, 1 rejected)" in out
    assert f"  {bad}: rejected_invalid: COUNTERFACTUAL_REQUIRED: counterfactual_plan: " in out
    code, out, _ = run_cli("export-portable", *loc)
    assert code == 1 and "result:  0 written, 5 already portable, 1 not written" in out
    # --output-store is a store next to the source, below --data-dir.
    code, out, _ = run_cli("export-portable", *loc, "--output-store", "portable", "--json")
    summary = json.loads(out)
    assert code == 1 and (summary["created"], summary["rejected_invalid"]) == (5, 1)
    assert summary["not_written"][0]["pack_id"] == bad
    assert (data_root / "portable" / f"{TASK}_datapacks.jsonl").is_file()


# ----------------------------------------------------------------------------------------- report

def test_report_takes_a_store_folder_and_embeds_its_plots(data_root, tmp_path):
    pytest.importorskip("matplotlib")
    with DataPackRepo(str(data_root / STORE), create=True) as repo:
        repo.append_batch([make_pack(f"r{i}", delta_j=(-1.0) ** i * (i + 1)) for i in range(12)])
    code, out, err = run_cli("report", "--datapack-dir", str(data_root / STORE), "--task", TASK,
                             "--out", str(tmp_path / "r"), "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["packs"] == 12 and summary["store"] == STORE
    page = (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    pngs = [f for f in summary["files"] if f.endswith(".png")]
    assert pngs and page.count('src="data:image/png;base64,') == len(pngs)
    assert not any(f'src="{name}"' in page for name in pngs)


def test_every_repository_names_the_packs_an_export_does_not_write(repo, data_root, tmp_path):
    """The summary's not_written, embedded, through the client and the asyncio client alike."""
    (data_root / STORE).rmdir()  # the fixture's empty folder: the store is written below as files
    bad = write_store_with_an_invalid_pack(data_root / STORE, tmp_path / "raw")
    summary = repo.export_portable(TASK)
    assert (summary["revised"], summary["rejected_invalid"]) == (5, 1)
    assert [(e["pack_id"], e["counter"], e["reason"]) for e in summary["not_written"]] == [
        (bad, "rejected_invalid", "COUNTERFACTUAL_REQUIRED")]
