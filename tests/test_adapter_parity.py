"""SkillDataPackAdapter parity: every analysis on the drawer_vase reference
store gives identical results (values, order, Python types) and identical
errors embedded and through SkillAdapterService."""
from __future__ import annotations

import math

import pytest

from datapack_client import DataPackMeta, SkillDataPackAdapter, SkillValueMatrix, connect
from datapack_client.errors import DataPackError
from datapack_server import DataPackRepo

from .conftest import STORE, copy_fixture

CALLS = [
    ("get_skill_statistics", ("drawer_vase", 3), {}),
    ("get_skill_statistics", ("drawer_vase", 17), {}),
    ("get_all_skills_performance", ("drawer_vase",), {}),
    ("get_all_skills_performance", ("drawer_vase",), {"slice": {"engine_type": "isaac"}}),
    ("get_skill_training_data", ("drawer_vase", 3), {}),
    ("get_skill_training_data", ("drawer_vase", 4), {"bucket": "negative", "min_trust": 0.5, "top_k": None}),
    ("get_skill_failure_modes", ("drawer_vase", 4), {}),
    ("get_skill_sequence_patterns", ("drawer_vase",), {}),
    ("get_skill_sequence_patterns", ("drawer_vase", "negative"), {"top_k": None}),
    ("compute_skill_value_matrix", ("drawer_vase",), {}),
    ("compute_skill_value_matrix", ("drawer_vase", [4, 1]), {"slice": {"source_type": "real"}}),
    ("recommend_skill_for_condition", ("drawer_vase", ["offset_vase"]), {}),
    ("recommend_skill_for_condition", ("drawer_vase", []), {}),
    ("extract_contrastive_pairs", ("drawer_vase", 4), {"n_pairs": 5}),
    ("generate_skill_curriculum", ("drawer_vase", 4), {"n_levels": 3}),
    ("query_by_energy_driver_tags", ("drawer_vase", ["energy_driver:long_reach"]), {"limit": None}),
    ("query_by_energy_driver_tags", ("drawer_vase", ["energy_driver:long_reach", "energy_driver:high_friction"]),
     {"match_all": True, "bucket": "negative"}),
    ("query_by_source_type", ("drawer_vase", "synthetic"), {}),
    ("query_by_attribution_ranges", ("drawer_vase",), {"min_delta_mpl": 0.0, "limit": 20}),
    ("get_env_type_statistics", ("drawer_vase",), {}),
    ("get_datapack_ids_for_skill", ("drawer_vase", 2), {}),
    ("get_datapack_ids_for_skill", ("drawer_vase", 2), {"bucket": "positive", "slice": {"min_trust": 0.9}}),
    ("summarize_energy_usage", ("drawer_vase",), {}),
    ("summarize_energy_usage", ("empty_task",), {}),
]
ERRORS = [
    ("get_skill_statistics", ("drawer_vase", -1), {}),
    ("generate_skill_curriculum", ("drawer_vase", 4), {"n_levels": 0}),
    ("compute_skill_value_matrix", ("drawer_vase", [99]), {}),
    ("get_skill_failure_modes", ("drawer_vase", 4), {"top_k": 0}),
    ("get_skill_statistics", ("../etc", 1), {}),
    ("get_all_skills_performance", ("drawer_vase",), {"slice": {"bucket": "maybe"}}),
]


def plain(v):
    """Comparable form: packs by their JSON objects, floats exact (NaN == NaN)."""
    if isinstance(v, DataPackMeta):
        return ("pack", v.revision, v.to_json())
    if isinstance(v, SkillValueMatrix):
        return ("matrix", plain(v.__dict__))
    if isinstance(v, dict):
        return ("dict", [(plain(k), plain(x)) for k, x in v.items()])
    if isinstance(v, (list, tuple)):
        return (type(v).__name__, [plain(x) for x in v])
    if isinstance(v, float) and math.isnan(v):
        return ("nan",)
    return (type(v).__name__, v)


@pytest.fixture(scope="module")
def adapters(tmp_path_factory):
    from datapack_server.api.app import ServerConfig, build_server
    root = tmp_path_factory.mktemp("adapter_parity")
    copy_fixture(root, "drawer_vase_datapacks.jsonl")
    # "empty_task" exists (its file does) and holds no packs: the empty results.
    (root / STORE / "empty_task_datapacks.jsonl").touch()
    embedded = SkillDataPackAdapter(DataPackRepo(str(root / STORE)))
    running = build_server(ServerConfig(data_dir=str(root), port=0))
    remote = SkillDataPackAdapter(connect(f"127.0.0.1:{running.port}", store=STORE))
    yield embedded, remote
    running.stop(0)


@pytest.mark.parametrize("method,args,kwargs", CALLS, ids=[f"{m}-{i}" for i, (m, _a, _k) in enumerate(CALLS)])
def test_every_analysis_is_identical_embedded_and_remote(adapters, method, args, kwargs):
    embedded, remote = adapters
    a = getattr(embedded, method)(*args, **kwargs)
    b = getattr(remote, method)(*args, **kwargs)
    assert plain(a) == plain(b)


@pytest.mark.parametrize("method,args,kwargs", ERRORS, ids=[m for m, _a, _k in ERRORS])
def test_errors_are_identical_embedded_and_remote(adapters, method, args, kwargs):
    embedded, remote = adapters
    with pytest.raises(DataPackError) as e1:
        getattr(embedded, method)(*args, **kwargs)
    with pytest.raises(DataPackError) as e2:
        getattr(remote, method)(*args, **kwargs)
    assert (type(e1.value), e1.value.reason, e1.value.violations) == (type(e2.value), e2.value.reason,
                                                                       e2.value.violations)


def test_skill_report_file_is_identical(adapters, tmp_path):
    embedded, remote = adapters
    a = embedded.export_skill_report("drawer_vase", tmp_path / "a" / "report.json")
    b = remote.export_skill_report("drawer_vase", tmp_path / "b" / "report.json")
    assert plain(a) == plain(b)
    assert (tmp_path / "a" / "report.json").read_bytes() == (tmp_path / "b" / "report.json").read_bytes()
