"""Issue 13, item 4: stores, tasks and data directories that do not exist.

Reads of a missing store or task raise NOT_FOUND (STORE_NOT_FOUND /
TASK_NOT_FOUND) naming the closest existing names, on the request field,
embedded and remote alike, and create nothing; appends still create stores and
tasks, and the server logs each new one once; a missing data directory
(`DataPackRepo(base_dir)`, `datapack serve --data-dir`, a verb's local folder)
is refused unless creation is asked for; every reading verb of the command
line exits 1 with the NOT_FOUND message on one line (docs/repository.md §1).
"""
from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import shutil
import subprocess
import sys

import pytest

from datapack_client import SkillDataPackAdapter, connect
from datapack_client.errors import FailedPreconditionError, NotFoundError
from datapack_server import DataPackRepo
from datapack_server.api.app import ServerConfig, build_server
from datapack_server.cli.main import main as datapack_main

from .conftest import STORE, ServerProcess, copy_fixture, make_pack
from .test_ingest_flows import drawer_episode, econ

TASK = "drawer_vase"
FIXTURE = "drawer_vase_datapacks.jsonl"
EMPTY_STATISTICS = {"total": 0, "positive": 0, "negative": 0}


def tree(root) -> dict:
    """{path: size or "dir"} of everything under root (what a read must leave as it was)."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for n in dirs:
            out[os.path.join(folder, n)] = "dir"
        for n in files:
            out[os.path.join(folder, n)] = os.path.getsize(os.path.join(folder, n))
    return out


def task_reads(repo, task: str) -> dict:
    """Every read of the repository API and of the adapter that names a task
    (and the revision and export that need one), by name."""
    a = SkillDataPackAdapter(repo)
    return {
        "query": lambda: repo.query(task),
        "query(filters)": lambda: repo.query(task, bucket="positive", sort_by="delta_j", limit=None),
        "iter_all": lambda: list(repo.iter_all(task)),
        "load_all": lambda: repo.load_all(task),
        "get_positive_for_skill": lambda: repo.get_positive_for_skill(task, 0),
        "get_negative_for_skill": lambda: repo.get_negative_for_skill(task, 0),
        "get": lambda: repo.get(task, "p-0"),
        "get_history": lambda: repo.get_history(task, "p-0"),
        "get_statistics": lambda: repo.get_statistics(task),
        "get_statistics(slice)": lambda: repo.get_statistics(task, bucket="negative"),
        "update_training_usage": lambda: repo.update_training_usage(task, ["p-0"], wm_role="wm_train"),
        "export_portable": lambda: repo.export_portable(task),
        "get_skill_statistics": lambda: a.get_skill_statistics(task, 3),
        "get_all_skills_performance": lambda: a.get_all_skills_performance(task),
        "get_skill_training_data": lambda: a.get_skill_training_data(task, 3),
        "get_skill_failure_modes": lambda: a.get_skill_failure_modes(task, 3),
        "get_skill_sequence_patterns": lambda: a.get_skill_sequence_patterns(task),
        "compute_skill_value_matrix": lambda: a.compute_skill_value_matrix(task),
        "recommend_skill_for_condition": lambda: a.recommend_skill_for_condition(task, ["normal"]),
        "extract_contrastive_pairs": lambda: a.extract_contrastive_pairs(task, 3),
        "generate_skill_curriculum": lambda: a.generate_skill_curriculum(task, 3),
        "query_by_energy_driver_tags": lambda: a.query_by_energy_driver_tags(task, ["energy_driver:long_reach"]),
        "query_by_source_type": lambda: a.query_by_source_type(task, "real"),
        "query_by_attribution_ranges": lambda: a.query_by_attribution_ranges(task, min_delta_mpl=0.0),
        "get_env_type_statistics": lambda: a.get_env_type_statistics(task),
        "get_datapack_ids_for_skill": lambda: a.get_datapack_ids_for_skill(task, 3),
        "summarize_energy_usage": lambda: a.summarize_energy_usage(task),
    }


def store_reads(repo) -> dict:
    """The reads that name only the store."""
    return {"list_tasks": repo.list_tasks, "list_baselines": repo.list_baselines}


def not_found(call, reason: str, field: str) -> str:
    with pytest.raises(NotFoundError) as ei:
        call()
    err = ei.value
    assert (err.code, err.reason) == ("NOT_FOUND", reason)
    assert [(v.field, v.reason) for v in err.violations] == [(field, reason)]
    return err.message


@pytest.fixture
def seeded(data_root):
    """The reference drawer_vase task in <data_root>/phase_c."""
    copy_fixture(data_root, FIXTURE)
    return data_root


@pytest.fixture
def served(seeded):
    running = build_server(ServerConfig(data_dir=str(seeded), port=0, max_workers=16, workers=0))
    yield running
    running.stop(0)


@pytest.fixture(params=["embedded", "remote"])
def on_phase_c(request, seeded):
    """(a repository on the seeded store phase_c, how messages name that store)."""
    if request.param == "embedded":
        with DataPackRepo(str(seeded / STORE)) as r:
            yield r, str(seeded / STORE)
    else:
        running = build_server(ServerConfig(data_dir=str(seeded), port=0, max_workers=16, workers=0))
        with connect(f"127.0.0.1:{running.port}", store=STORE, timeout=30) as c:
            yield c, STORE
        running.stop(0)


# ----------------------------------------------------------------------------- reads of a missing task

def test_every_read_of_a_missing_task_is_task_not_found_naming_the_closest(on_phase_c, seeded):
    repo, store_name = on_phase_c
    before = tree(seeded.parent)
    for name, call in task_reads(repo, "drawer_vas").items():
        message = not_found(call, "TASK_NOT_FOUND", "task_name")
        assert message == f"no task 'drawer_vas' in store {store_name!r}; did you mean 'drawer_vase'?", name
    assert tree(seeded.parent) == before  # nothing created, not even the lock or checksum folders
    # Without a close name the store's tasks are listed.
    assert not_found(lambda: repo.query("dishwashing"), "TASK_NOT_FOUND", "task_name") == \
        f"no task 'dishwashing' in store {store_name!r} (tasks: 'drawer_vase')"
    # The store itself is there: store-level reads answer.
    assert repo.list_tasks() == [TASK] and "synthetic_nominal" in repo.list_baselines()


def test_an_invalid_task_name_is_still_invalid_argument_before_not_found(on_phase_c):
    repo, _ = on_phase_c
    from datapack_client.errors import InvalidArgumentError
    with pytest.raises(InvalidArgumentError) as ei:
        repo.query("../drawer_vase")
    assert ei.value.reason == "TASK_NAME_INVALID"


def test_a_task_exists_when_its_file_does_even_empty_or_all_corrupt(on_phase_c, seeded):
    """docs/repository.md §1: existence is the task file's; what it holds is
    `datapack verify`'s business. An empty file or one whose lines are all
    corrupt is a task that reads empty, not NOT_FOUND."""
    repo, _ = on_phase_c
    (seeded / STORE / "empty_task_datapacks.jsonl").touch()
    (seeded / STORE / "garbled_datapacks.jsonl").write_bytes(b"{not json\n\x00\x01\n")
    for task in ("empty_task", "garbled"):
        assert repo.query(task) == [] and repo.load_all(task) == []
        assert repo.get_statistics(task) == EMPTY_STATISTICS
        assert SkillDataPackAdapter(repo).summarize_energy_usage(task) == {"n_packs": 0}
        with pytest.raises(NotFoundError) as ei:
            repo.get(task, "x")
        assert ei.value.reason == "PACK_NOT_FOUND"  # the task is there; the pack is not
    assert sorted(repo.list_tasks()) == ["drawer_vase", "empty_task", "garbled"]


# ----------------------------------------------------------------------------- reads of a missing store

def test_every_read_of_a_missing_store_is_store_not_found_over_the_wire(served, seeded):
    before = tree(seeded.parent)
    with connect(f"127.0.0.1:{served.port}", store="phase_x", timeout=30) as c:
        reads = {**task_reads(c, TASK), **store_reads(c)}
        for name, call in reads.items():
            message = not_found(call, "STORE_NOT_FOUND", "store")
            assert message == "no store 'phase_x' in the data directory; did you mean 'phase_c'?", name
    with connect(f"127.0.0.1:{served.port}", store="elsewhere/deep", timeout=30) as c:
        assert not_found(c.list_tasks, "STORE_NOT_FOUND", "store") == \
            "no store 'elsewhere/deep' in the data directory (stores: 'phase_c')"
    assert tree(seeded.parent) == before
    assert not (seeded / "phase_x").exists()


def test_a_missing_store_on_an_empty_data_root_says_there_are_none(data_root):
    running = build_server(ServerConfig(data_dir=str(data_root), port=0, max_workers=8, workers=0))
    try:
        with connect(f"127.0.0.1:{running.port}", store="phase_c", timeout=30) as c:
            assert not_found(lambda: c.query(TASK), "STORE_NOT_FOUND", "store") == \
                "no store 'phase_c' in the data directory (there are no stores yet)"
            # An append creates it; then the task reads.
            c.append(make_pack("first"))
            assert [p.pack_id for p in c.query(TASK)] == ["first"]
    finally:
        running.stop(0)


def test_the_embedded_repository_whose_folder_was_removed_says_so(tmp_path):
    folder = tmp_path / "store"
    repo = DataPackRepo(str(folder), create=True)
    repo.append(make_pack("a"))
    for f in os.listdir(folder):
        path = folder / f
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    folder.rmdir()
    try:
        assert not_found(lambda: repo.query(TASK), "STORE_NOT_FOUND", "store") == \
            f"the repository folder {str(folder)!r} no longer exists"
        assert not_found(repo.list_tasks, "STORE_NOT_FOUND", "store")
    finally:
        repo.close()


def test_the_asyncio_client_gets_the_same_not_found(served):
    """The third client (connect_async): the same reasons, fields and messages."""
    from datapack_client import AsyncSkillDataPackAdapter, connect_async

    async def outcomes(store: str, task: str) -> dict:
        async with connect_async(f"127.0.0.1:{served.port}", store, timeout=30) as c:
            a = AsyncSkillDataPackAdapter(c)
            calls = {"query": lambda: c.query(task), "iter_all": lambda: _drain(c.iter_all(task)),
                     "get": lambda: c.get(task, "p-0"), "get_history": lambda: c.get_history(task, "p-0"),
                     "get_statistics": lambda: c.get_statistics(task),
                     "update_training_usage": lambda: c.update_training_usage(task, ["p-0"], wm_role="wm_train"),
                     "export_portable": lambda: c.export_portable(task),
                     "get_skill_statistics": lambda: a.get_skill_statistics(task, 3),
                     "summarize_energy_usage": lambda: a.summarize_energy_usage(task),
                     "list_tasks": c.list_tasks, "list_baselines": c.list_baselines}
            out = {}
            for name, call in calls.items():
                try:
                    out[name] = await call()
                except NotFoundError as err:
                    out[name] = (err.reason, tuple(v.field for v in err.violations), err.message)
            return out

    async def _drain(packs):
        return [p async for p in packs]

    missing_task = asyncio.run(outcomes(STORE, "drawer_vas"))
    expected = ("TASK_NOT_FOUND", ("task_name",),
                "no task 'drawer_vas' in store 'phase_c'; did you mean 'drawer_vase'?")
    store_level = ("list_tasks", "list_baselines")
    assert {k: v for k, v in missing_task.items() if k not in store_level} == \
        {k: expected for k in missing_task if k not in store_level}
    assert missing_task["list_tasks"] == [TASK]  # the store is there
    missing_store = asyncio.run(outcomes("phase_x", TASK))
    assert set(missing_store.values()) == {("STORE_NOT_FOUND", ("store",),
                                            "no store 'phase_x' in the data directory; did you mean 'phase_c'?")}


# ----------------------------------------------------------------------------- appends create and are logged

def test_appends_create_stores_and_tasks_and_the_server_logs_each_once(data_root, caplog):
    caplog.set_level(logging.INFO, logger="datapack.server")
    running = build_server(ServerConfig(data_dir=str(data_root), port=0, max_workers=8, workers=0))
    try:
        with connect(f"127.0.0.1:{running.port}", store="fresh/phase_d", timeout=30) as c:
            c.append_batch([make_pack("a1"), make_pack("a2")])
            c.append_batch([make_pack("a3"), make_pack("a1")])  # the task and store exist now
            with c.stream_appender(batch_size=2) as s:
                for i in range(5):
                    s.append(make_pack(f"s{i}", task_name="streamed"))
            c.ingest_episodes([drawer_episode(i) for i in range(3)], econ(), {"mpl": 10.0, "error": 0.05, "ep": 2.0})
            assert c.list_tasks() == [TASK, "streamed"]
        with connect(f"127.0.0.1:{running.port}", store="fresh/phase_d", timeout=30) as c:
            c.append(make_pack("other", task_name="third"))
    finally:
        running.stop(0)
    created = [r.getMessage() for r in caplog.records if r.getMessage().startswith("created ")]
    assert created == ["created store 'fresh/phase_d'",
                       "created task 'drawer_vase' in store 'fresh/phase_d'",
                       "created task 'streamed' in store 'fresh/phase_d'",
                       "created task 'third' in store 'fresh/phase_d'"]
    assert all(r.levelno == logging.INFO for r in caplog.records if r.getMessage().startswith("created "))
    assert (data_root / "fresh" / "phase_d" / f"{TASK}_datapacks.jsonl").is_file()


def test_embedded_appends_create_tasks(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="datapack.server")
    with DataPackRepo(str(tmp_path / "s"), create=True) as repo:
        repo.append(make_pack("a"))
        repo.append(make_pack("b"))
        assert repo.list_tasks() == [TASK]
    created = [r.getMessage() for r in caplog.records if r.getMessage().startswith("created ")]
    assert created == [f"created the repository folder {tmp_path / 's'}",
                       f"created task 'drawer_vase' in store {str(tmp_path / 's')!r}"]


# ----------------------------------------------------------------------------- missing data directories

def test_repository_on_a_missing_folder_is_refused_unless_create(tmp_path):
    missing = tmp_path / "does" / "not" / "exist"
    with pytest.raises(NotFoundError) as ei:
        DataPackRepo(str(missing))
    err = ei.value
    assert err.reason == "DATA_DIR_NOT_FOUND" and str(missing) in err.message and "create=True" in err.message
    assert [v.field for v in err.violations] == ["base_dir"]
    assert not (tmp_path / "does").exists()  # nothing created
    with DataPackRepo(str(missing), create=True) as repo:
        assert missing.is_dir() and repo.list_tasks() == []
    with DataPackRepo(str(missing)) as repo:  # exists now: no create needed
        assert repo.list_tasks() == []
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(FailedPreconditionError) as ei2:
        DataPackRepo(str(tmp_path / "a_file"), create=True)
    assert ei2.value.reason == "DATA_DIR_NOT_A_FOLDER"


def test_server_on_a_missing_data_dir_is_refused_unless_create(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(NotFoundError) as ei:
        build_server(ServerConfig(data_dir=str(missing), port=0, workers=0))
    assert ei.value.reason == "DATA_DIR_NOT_FOUND" and str(missing) in ei.value.message
    assert not missing.exists()
    running = build_server(ServerConfig(data_dir=str(missing), port=0, workers=0, create_data_dir=True))
    try:
        assert missing.is_dir()
        with connect(f"127.0.0.1:{running.port}", store="", timeout=30) as c:
            assert c.list_tasks() == []
    finally:
        running.stop(0)


def test_serve_command_on_a_missing_data_dir_exits_1_unless_create(tmp_path):
    missing = tmp_path / "nowhere"
    proc = subprocess.run([sys.executable, "-m", "datapack_server", "serve", "--data-dir", str(missing), "--port",
                           "0", "--workers", "0"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"datapack: the data directory {str(missing)!r} does not exist (create it, or pass --create to datapack "
        "serve; in-process: ServerConfig.create_data_dir)"]
    assert not missing.exists()
    server = ServerProcess(missing, "--create", "--workers", "0").start(timeout=120)
    try:
        assert missing.is_dir()
        with connect(server.target, store=STORE, timeout=30) as c:
            c.append(make_pack("x"))
            assert c.get(TASK, "x").pack_id == "x"
    finally:
        assert server.terminate(60) == 0


# ----------------------------------------------------------------------------- the command line

def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = datapack_main(list(argv))
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


VERBS = {  # each reading verb's arguments besides the location and --task
    "query": [], "stats": [], "export": ["--out", "{tmp}/out.parquet"], "report": ["--out", "{tmp}/report"],
    "validate": [], "export-portable": [],
}


@pytest.fixture(params=["local", "remote"])
def location(request, seeded):
    """The seeded data root named with --data-dir, or through a server with --target."""
    if request.param == "local":
        yield ["--data-dir", str(seeded)], str(seeded / STORE)
    else:
        running = build_server(ServerConfig(data_dir=str(seeded), port=0, max_workers=16, workers=0))
        yield ["--target", f"127.0.0.1:{running.port}"], STORE
        running.stop(0)


@pytest.mark.parametrize("verb", list(VERBS))
def test_reading_verbs_exit_1_with_the_not_found_message(verb, location, tmp_path):
    loc, store_name = location
    if verb == "validate" and loc[0] == "--target":
        # validate reads task files: it is local only, and says so as a usage error.
        code, _out, err = run_cli(verb, *loc, "--store", STORE, "--task", "drawer_vas")
        assert code == 2 and "--target" in err, err
        return
    if verb == "export-portable" and loc[0] == "--data-dir":
        loc = ["--datapack-dir", store_name]  # its local form names the store folder
    extra = [a.replace("{tmp}", str(tmp_path)) for a in VERBS[verb]]
    store_opt = [] if loc[0] == "--datapack-dir" else ["--store", STORE]
    code, out, err = run_cli(verb, *loc, *store_opt, "--task", "drawer_vas", *extra)
    assert code == 1, err
    assert err.splitlines() == [f"datapack {verb}: error: NOT_FOUND TASK_NOT_FOUND: no task 'drawer_vas' in store "
                                f"{store_name!r}; did you mean 'drawer_vase'?"]
    if loc[0] != "--datapack-dir":
        code, out, err = run_cli(verb, *loc, "--store", "phase_x", "--task", TASK, *extra)
        assert code == 1, err
        assert err.splitlines() == [f"datapack {verb}: error: NOT_FOUND STORE_NOT_FOUND: no store 'phase_x' in the "
                                    "data directory; did you mean 'phase_c'?"]
    assert not (tmp_path / "out.parquet").exists() and not (tmp_path / "report").exists()


def test_a_missing_local_folder_exits_1_naming_it(tmp_path):
    missing = tmp_path / "nope"
    code, _, err = run_cli("query", "--datapack-dir", str(missing), "--task", TASK)
    assert code == 1 and err.splitlines() == [
        f"datapack query: error: NOT_FOUND DATA_DIR_NOT_FOUND: --datapack-dir {str(missing)!r} does not exist "
        "(reading creates nothing; `datapack import` creates a store folder)"]
    code, _, err = run_cli("stats", "--data-dir", str(missing), "--store", STORE, "--task", TASK)
    assert code == 1 and "NOT_FOUND DATA_DIR_NOT_FOUND: --data-dir" in err
    assert not missing.exists()


def test_the_installed_command_says_it_in_one_line_without_a_traceback(served):
    proc = subprocess.run([sys.executable, "-m", "datapack_server", "query", "--target", f"127.0.0.1:{served.port}",
                           "--store", "phase_x", "--task", TASK], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.splitlines() == ["datapack query: error: NOT_FOUND STORE_NOT_FOUND: no store 'phase_x' in "
                                        "the data directory; did you mean 'phase_c'?"]
