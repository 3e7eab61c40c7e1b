"""Training material for one skill: samples, failure modes, sequence patterns,
contrastive pairs and a curriculum (docs/adapter.md §3.3 – §3.5, §3.8, §3.9).
"""
from __future__ import annotations

import numpy as np

from datapack_client.records.model import copy_json
from datapack_client.records.query import FilterSpec
from datapack_server.analytics.common import (
    best_by_delta_j,
    entry_has_skill,
    first_seen,
    mean_of,
    offset_norms,
    packs_at,
    served_condition,
    string_tags,
    trace_entries,
)


def get_skill_training_data(st, spec, catalogue, skill_id: int, bucket: str, min_trust: float,
                            top_k: int | None) -> list[dict]:
    ix = st.index
    v = ix.view
    f = FilterSpec(bucket=bucket, skill_id=skill_id, min_trust=min_trust)
    picked = best_by_delta_j(ix, spec, f, bucket == "positive", top_k).tolist()
    dj, trust, w_econ = v("delta_j"), v("trust"), v("w_econ")
    samples = []
    for pos, pack in zip(picked, packs_at(st, picked)):
        rec = pack.json_object()  # the served record (read once, not copied)
        # Read from the record at its first entry of the skill, shared by all its entries.
        condition: dict | None = None
        tags: list = []
        for e in trace_entries(rec):
            if not entry_has_skill(e, skill_id):
                continue
            if condition is None:
                condition, tags = served_condition(rec), string_tags(rec)
            params = e.get("params")
            duration = e.get("duration")
            metrics = e.get("local_metrics")
            samples.append({
                "pack_id": rec["pack_id"],
                "skill_id": skill_id,
                "params": copy_json(params) if type(params) is dict else {},
                "duration": duration if type(duration) is int else 0,
                "local_metrics": copy_json(metrics) if type(metrics) is dict else {},
                "delta_j": float(dj[pos]),
                "trust_score": float(trust[pos]),
                "w_econ": float(w_econ[pos]),
                "condition": copy_json(condition),
                "semantic_tags": list(tags),
            })
    return samples


def get_skill_failure_modes(st, spec, catalogue, skill_id: int, top_k: int | None) -> list[dict]:
    ix = st.index
    f = FilterSpec(bucket="negative", skill_id=skill_id, min_trust=0.9, include_counterfactual=True)  # with a plan
    picked = best_by_delta_j(ix, spec, f, False, top_k).tolist()
    dj = ix.view("delta_j")
    out = []
    for pos, pack in zip(picked, packs_at(st, picked)):
        rec = pack.json_object()  # the served record (read once, not copied)
        cond = served_condition(rec)
        entry = None
        for e in trace_entries(rec):
            if entry_has_skill(e, skill_id):
                entry = e
        source = rec.get("counterfactual_source")
        out.append({
            "pack_id": rec["pack_id"],
            "delta_j": float(dj[pos]),
            "semantic_tags": string_tags(rec),
            "condition": {"vase_offset": copy_json(cond.get("vase_offset")),
                          "drawer_friction": cond.get("drawer_friction"),
                          "lighting_profile": cond.get("lighting_profile"),
                          "occlusion_level": cond.get("occlusion_level")},
            "counterfactual": copy_json(rec.get("counterfactual_plan")),
            "counterfactual_source": source if type(source) is str else None,
            "skill_entry": copy_json(entry),
        })
    return out


def get_skill_sequence_patterns(st, spec, catalogue, bucket: str, top_k: int | None) -> dict:
    ix = st.index
    picked = best_by_delta_j(ix, spec, FilterSpec(bucket=bucket, min_trust=0.0), bucket == "positive", top_k)
    codes = ix.view("trace")[picked]
    traces = ix.cats["trace"].values
    if not len(codes):
        return {}
    counts = np.bincount(codes, minlength=len(traces))
    return {tuple(traces[c]): int(counts[c]) for c in first_seen(codes)}


def extract_contrastive_pairs(st, spec, catalogue, skill_id: int, n_pairs: int | None) -> list[tuple]:
    ix = st.index
    v = ix.view
    pos = best_by_delta_j(ix, spec, FilterSpec(bucket="positive", skill_id=skill_id, min_trust=0.9), True, n_pairs)
    neg = best_by_delta_j(ix, spec, FilterSpec(bucket="negative", skill_id=skill_id, min_trust=0.9,
                                               include_counterfactual=True), False, n_pairs)
    if not len(pos) or not len(neg):
        return []
    off, fric, light, occl = v("c_offset"), v("c_friction"), v("c_light"), v("c_occlusion")
    # The pool: N in its order; chosen negatives are removed.
    pool = neg.copy()
    p_off, p_fric, p_light, p_occl = off[pool], fric[pool], light[pool], occl[pool]
    pairs = []
    for p in pos.tolist():
        if not len(pool):
            break
        diff = p_off - off[p]
        dist = np.sqrt(diff[:, 0] * diff[:, 0] + diff[:, 1] * diff[:, 1] + diff[:, 2] * diff[:, 2])
        sim = (1.0 / (1.0 + dist) + 1.0 / (1.0 + 10.0 * np.abs(p_fric - fric[p]))
               + (p_light == light[p]).astype(np.float64) + 1.0 / (1.0 + 5.0 * np.abs(p_occl - occl[p]))) / 4.0
        better = sim > -1.0  # NaN similarities never win
        if not better.any():
            continue
        j = int(np.argmax(np.where(better, sim, -np.inf)))  # first maximum: the earliest negative wins ties
        pairs.append((p, int(pool[j])))
        pool = np.delete(pool, j)
        p_off, p_fric, p_light, p_occl = (np.delete(p_off, j, axis=0), np.delete(p_fric, j),
                                          np.delete(p_light, j), np.delete(p_occl, j))
        if n_pairs is not None and len(pairs) >= n_pairs:
            break
    packs = packs_at(st, [x for pair in pairs for x in pair])  # one read for all of them
    return list(zip(packs[0::2], packs[1::2]))


def generate_skill_curriculum(st, spec, catalogue, skill_id: int, n_levels: int) -> list[dict]:
    ix = st.index
    v = ix.view
    ranked = best_by_delta_j(ix, spec, FilterSpec(bucket="positive", skill_id=skill_id, min_trust=0.9), True, None)
    if not len(ranked):
        return []
    norm = offset_norms(ix)[ranked]
    fric = v("c_friction")[ranked]
    occl = v("c_occlusion")[ranked]
    difficulty = 10.0 * norm + 5.0 * fric + 10.0 * occl
    by = np.argsort(difficulty, kind="stable")
    n = len(ranked)
    per = n // n_levels
    packs = packs_at(st, ranked[by].tolist())  # every level's packs in one read, in level order
    levels: list[dict] = []
    for i in range(n_levels):
        a = i * per
        b = (i + 1) * per if i < n_levels - 1 else n
        if b <= a:
            continue
        sel = by[a:b]
        levels.append({
            "level": len(levels),
            "difficulty": mean_of(difficulty[sel]),
            "n_samples": int(b - a),
            "datapacks": packs[a:b],
            "conditions_summary": {"avg_offset": mean_of(norm[sel]), "avg_friction": mean_of(fric[sel]),
                                   "avg_occlusion": mean_of(occl[sel])},
        })
    return levels
