"""The skill analyses of SkillDataPackAdapter (docs/adapter.md §3), computed on a
task's in-memory index: `analyze(st, method, spec, catalogue, **args)` runs one.

Every analysis is `fn(st, spec, catalogue, **args)`:

* `st` – a caught-up TaskState whose lock the caller holds (`Store.reading`);
* `spec` – an optional FilterSpec slice (None = every pack), applied first with
  `match`, so a result equals the result on a store holding only the slice;
* `catalogue` – the task's skill catalogue {id: name};
* `args` – arguments already validated by `datapack_client.adapter`.

Selections, sorting and aggregates run on the index's numpy columns; interned
columns (traces, tag sets, condition tags, skill_contribs) are evaluated once
per distinct value and broadcast. Per-skill aggregates come from one grouped
pass per interned trace; over every pack (no slice) such aggregates are kept
per index state (`common.per_index_state`) until a pack is added or revised.
A method that wants the best few packs walks the task's cached ΔJ order, one
that wants the first few in append order tests the first rows only
(`common.best_by_delta_j`, `common.first_passing`). Records are read only for
the packs a method returns or samples, with one read per run of adjacent
lines, and returned packs parse their line when first read
(`common.packs_at`), so a result of many packs costs reading their lines.
Results are plain Python values in the shapes of docs/adapter.md (floats are
`float`, ints `int`).

The analyses live by family: skill_statistics.py (§3.1, §3.2), training.py
(§3.3 – §3.5, §3.8, §3.9), skill_values.py (§3.6, §3.7), selections.py
(§3.10, §3.12, §3.14), summaries.py (§3.13, §3.15, §3.16); common.py holds
what they share. `METHODS` maps the adapter's method names to them.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from datapack_client.errors import invalid
from datapack_server.analytics.selections import (
    get_datapack_ids_for_skill,
    query_by_attribution_ranges,
    query_by_energy_driver_tags,
)
from datapack_server.analytics.skill_statistics import get_all_skills_performance, get_skill_statistics
from datapack_server.analytics.skill_values import compute_skill_value_matrix, recommend_skill_for_condition
from datapack_server.analytics.summaries import get_env_type_statistics, skill_report, summarize_energy_usage
from datapack_server.analytics.training import (
    extract_contrastive_pairs,
    generate_skill_curriculum,
    get_skill_failure_modes,
    get_skill_sequence_patterns,
    get_skill_training_data,
)

METHODS: dict[str, Callable[..., Any]] = {
    "get_skill_statistics": get_skill_statistics,
    "get_all_skills_performance": get_all_skills_performance,
    "get_skill_training_data": get_skill_training_data,
    "get_skill_failure_modes": get_skill_failure_modes,
    "get_skill_sequence_patterns": get_skill_sequence_patterns,
    "compute_skill_value_matrix": compute_skill_value_matrix,
    "recommend_skill_for_condition": recommend_skill_for_condition,
    "extract_contrastive_pairs": extract_contrastive_pairs,
    "generate_skill_curriculum": generate_skill_curriculum,
    "query_by_energy_driver_tags": query_by_energy_driver_tags,
    "query_by_attribution_ranges": query_by_attribution_ranges,
    "get_env_type_statistics": get_env_type_statistics,
    "get_datapack_ids_for_skill": get_datapack_ids_for_skill,
    "summarize_energy_usage": summarize_energy_usage,
    "skill_report": skill_report,
}


def analyze(st, method: str, spec, catalogue: dict, **args):
    """Run one analysis on a caught-up, locked TaskState."""
    fn = METHODS.get(method)
    if fn is None:
        raise invalid("method", "ARGUMENT_INVALID", f"unknown analysis {method!r}")
    return fn(st, spec, catalogue, **args)


__all__ = ["METHODS", "analyze"]
