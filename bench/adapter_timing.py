"""Latency of every skill-adapter analysis over gRPC (the adapter issue's
bench item): the public SkillDataPackAdapter on a remote repository, default
arguments, warm server. Target: <= 20 ms per call at 1M packs, except for
analyses whose time is bound by the size of their result (per_size.py)."""
from __future__ import annotations

import time

from .datagen import TASK

CALLS = [
    ("get_skill_statistics", (TASK, 3), {}),
    ("get_all_skills_performance", (TASK,), {}),
    ("get_skill_training_data", (TASK, 3), {}),
    ("get_skill_failure_modes", (TASK, 4), {}),
    ("get_skill_sequence_patterns", (TASK,), {}),
    ("compute_skill_value_matrix", (TASK,), {}),
    ("recommend_skill_for_condition", (TASK, ["offset_vase", "high_friction"]), {}),
    ("extract_contrastive_pairs", (TASK, 4), {}),
    ("generate_skill_curriculum", (TASK, 4), {}),
    ("query_by_energy_driver_tags", (TASK, ["energy_driver:long_reach"]), {}),
    ("query_by_attribution_ranges", (TASK,), {"min_delta_mpl": 0.0}),
    ("get_env_type_statistics", (TASK,), {}),
    ("get_datapack_ids_for_skill", (TASK, 2), {}),
    ("summarize_energy_usage", (TASK,), {}),
]


def _items(result) -> int | None:
    """Items in a list or dict result (None for other results)."""
    if isinstance(result, (list, dict)):
        return len(result)
    return None


def run(client, reps: int) -> dict:
    """name -> (p50 ms, p99 ms, reps, items in the result or None) or an error text."""
    from datapack_client import SkillDataPackAdapter
    from datapack_client.errors import DataPackError

    adapter = SkillDataPackAdapter(client)
    out = {}
    for name, args, kwargs in CALLS:
        fn = getattr(adapter, name)
        try:
            result = fn(*args, **kwargs)  # warm-up
            times = []
            deadline = time.monotonic() + 20.0  # bounded: heavy calls (large results) get fewer reps
            for _ in range(reps):
                t = time.perf_counter()
                fn(*args, **kwargs)
                times.append((time.perf_counter() - t) * 1000)
                if time.monotonic() > deadline:
                    break
            times.sort()
            out[name] = (times[len(times) // 2], times[min(len(times) - 1, int(0.99 * len(times)))], len(times),
                         _items(result))
        except DataPackError as exc:
            out[name] = f"{type(exc).__name__}: {exc.reason}"
    return out
