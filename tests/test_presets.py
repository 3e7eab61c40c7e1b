"""EconParams presets (docs/building.md §1.2.1): complete parameters by name,
the drawer/vase one equal to what `datapack build` uses, packs built with a
preset stored and served alike embedded and over gRPC (client-side building
and server-side ingest)."""
from __future__ import annotations

import dataclasses
import json

import pytest

import datapack_client
from datapack_client import ECON_PRESETS, Baseline, EconParams, InvalidArgumentError, build_datapack_meta_from_episode
from datapack_server.cli.main import main as datapack_main
from datapack_server.synthetic.episodes import (
    build_pack,
    episode_to_builder_args,
    generate_synthetic_episodes,
    script_econ_params,
)

from .test_ingest_flows import summary

REQUIRED = [f.name for f in dataclasses.fields(EconParams)[:15]]


@pytest.mark.parametrize("name", ["drawer_vase", "dishwashing"])
def test_a_preset_is_a_complete_econ_params(name):
    econ = EconParams.preset(name)
    assert type(econ) is EconParams and econ.preset == name
    assert all(getattr(econ, f) is not None for f in REQUIRED)
    assert econ.to_dict() == {**EconParams.from_dict(dict(ECON_PRESETS[name])).to_dict()}
    assert EconParams.from_preset(name) == econ
    assert EconParams.preset(name) is not EconParams.preset(name)  # a fresh instance each time


def test_presets_are_listed_exported_and_read_only():
    assert EconParams.presets() == tuple(ECON_PRESETS) == ("drawer_vase", "dishwashing")
    assert "ECON_PRESETS" in datapack_client.__all__ and datapack_client.ECON_PRESETS is ECON_PRESETS
    with pytest.raises(TypeError):
        ECON_PRESETS["drawer_vase"]["price_per_unit"] = 1.0  # type: ignore[index]
    econ = EconParams.preset("drawer_vase")
    econ.price_per_unit = 1.0  # the instance is the caller's to change
    assert EconParams.preset("drawer_vase").price_per_unit == 5.0


def test_the_field_named_preset_keeps_its_default():
    """`preset` is both the class's factory and the instance's name field."""
    plain = EconParams(**{f: ECON_PRESETS["drawer_vase"][f] for f in REQUIRED})
    assert plain.preset == "toy" and dataclasses.fields(EconParams)[15].default == "toy"
    assert EconParams.from_dict({f: 1 for f in REQUIRED}).preset == "toy"
    assert dataclasses.replace(EconParams.preset("dishwashing"), max_steps=10).preset == "dishwashing"


def test_overrides_replace_fields_and_are_checked():
    econ = EconParams.preset("drawer_vase", max_steps=500, preset="drawer_vase_long")
    assert (econ.max_steps, econ.preset, econ.price_per_unit) == (500, "drawer_vase_long", 5.0)
    with pytest.raises(InvalidArgumentError) as exc:
        EconParams.preset("drawer_vase", max_step=500)
    assert exc.value.violations[0].field == "econ_params.max_step"


@pytest.mark.parametrize("name", ["drawer_vas", "", "DRAWER_VASE", None, 3])
def test_an_unknown_preset_names_the_field_and_the_known_ones(name):
    with pytest.raises(InvalidArgumentError) as exc:
        EconParams.preset(name)
    err = exc.value
    assert err.reason == "ARGUMENT_INVALID" and [v.field for v in err.violations] == ["preset"]
    assert "drawer_vase" in err.message and "dishwashing" in err.message and repr(name) in err.message


def test_drawer_vase_is_what_datapack_build_uses(tmp_path, capsys):
    """`datapack build --generate-synthetic` builds every pack with the
    drawer_vase preset: rebuilding its episodes with EconParams.preset gives
    the stored packs exactly."""
    assert script_econ_params() == EconParams.preset("drawer_vase")
    store = tmp_path / "store"
    assert datapack_main(["build", "--generate-synthetic", "12", "--seed", "5", "--output-dir", str(store)]) == 0
    capsys.readouterr()
    stored = [json.loads(x) for x in (store / "drawer_vase_datapacks.jsonl").read_bytes().splitlines()]
    baseline = Baseline(10.0, 0.05, 2.0, 0.5, name="synthetic_nominal")
    rebuilt = []
    for i, e in enumerate(generate_synthetic_episodes(12, seed=5)):
        args = episode_to_builder_args(e, i, "drawer_vase", "pybullet")
        assert args["econ_params"] == EconParams.preset("drawer_vase")
        rebuilt.append(build_pack(dict(args, econ_params=EconParams.preset("drawer_vase")), baseline).to_dict())
    assert len(stored) == 12
    assert stored == rebuilt
    assert {(p["condition"]["econ_preset"], p["condition"]["price_per_unit"], p["condition"]["vase_break_cost"],
             p["condition"]["energy_price_kWh"]) for p in stored} == {("drawer_vase", 5.0, 50.0, 0.12)}


def _episode(i: int, mpl: float) -> dict:
    return {"episode_info": summary(i, mpl=mpl), "condition_profile": {"task": "dishwashing", "tags": []},
            "agent_profile": {"policy": "ppo_baseline"}, "env_type": "dishwashing",
            "created_at": "2025-06-01T12:00:00.000000+00:00"}


def test_dishwashing_preset_packs_stored_and_served(repo):
    """Phase B with the preset: built client-side and appended, and ingested
    (server-side building over gRPC), the packs carry the preset's economics
    and are the same either way."""
    econ = EconParams.preset("dishwashing")
    baseline = Baseline(10.0, 0.05, 2.0)
    episodes = [_episode(i, mpl=6.0 + 2 * i) for i in range(4)]
    built = [build_datapack_meta_from_episode(e["episode_info"], econ, e["condition_profile"], e["agent_profile"],
                                              env_type="dishwashing", baseline=baseline, created_at=e["created_at"])
             for e in episodes]
    assert [r.status for r in repo.append_batch(built)] == ["created"] * 4
    again = repo.ingest_episodes(episodes, EconParams.preset("dishwashing"), {"mpl": 10.0, "error": 0.05, "ep": 2.0})
    assert [r.status for r in again] == ["already_present"] * 4  # the same pack ids: the same packs
    stored = sorted(repo.load_all("dishwashing"), key=lambda p: p.pack_id)
    assert {p.pack_id: p.to_dict() for p in stored} == {p.pack_id: p.to_dict() for p in built}
    c = stored[0].condition
    assert (c.econ_preset, c.price_per_unit, c.vase_break_cost, c.energy_price_kWh) == ("dishwashing", 0.3, 1.0, 0.12)
    by_preset = repo.query("dishwashing", condition_filters={"econ_preset": "dishwashing"}, limit=None)
    assert {p.pack_id for p in by_preset} == {p.pack_id for p in built}
