"""Arguments and results of the portable export (docs/portable.md §7), shared by
the embedded repository, the client and the server (one rule set, like query.py;
their wire form is in datapack_client.wire.export)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from datapack_client.errors import invalid

COUNTERS = ("exported", "created", "revised", "already_present", "reused_existing", "skipped_missing_raw",
            "skipped_missing_inputs", "skipped_bad_inputs", "unstrided_no_fps", "conflicts", "rejected_invalid",
            "repr_tokens_computed")
# A summary names the packs it did not write (conflicts, rejected_invalid) as
# {pack_id, counter, reason, message}: the first NOT_WRITTEN_NAMED of them.
NOT_WRITTEN_NAMED = 100


@dataclass(frozen=True)
class ExportArgs:
    output_store: str | None = None  # None: revise the packs in place
    max_episodes: int | None = None
    stride_seconds: float = 1.0
    source_fps: float | None = None
    store_temporal: bool = False
    token_dim: int = 64
    pool_size: tuple = (4, 4)
    repr_names: tuple = ()


def _int(name: str, v: Any) -> int:
    if type(v) is not int or v < 1:
        raise invalid(name, "ARGUMENT_INVALID", f"{name} must be an integer ≥ 1, got {v!r}")
    return v


def _positive(name: str, v: Any) -> float:
    if type(v) not in (int, float) or not math.isfinite(v) or v <= 0:
        raise invalid(name, "ARGUMENT_INVALID", f"{name} must be a finite number > 0, got {v!r}")
    return float(v)


def make_export_args(output_store=None, max_episodes=None, stride_seconds=1.0, source_fps=None,
                     store_temporal=False, token_dim=64, pool_size=(4, 4), include_repr_tokens=()) -> ExportArgs:
    # What a store name may be depends on the transport (a folder in-process, a
    # path under the data root on a server, which checks it there).
    if output_store is not None and (type(output_store) is not str or not output_store):
        raise invalid("output_store", "STORE_INVALID", f"output_store must be a non-empty string, got {output_store!r}")
    if max_episodes is not None:
        _int("max_episodes", max_episodes)
    if type(store_temporal) is not bool:
        raise invalid("store_temporal", "ARGUMENT_INVALID", f"store_temporal must be a boolean, got {store_temporal!r}")
    if type(pool_size) not in (list, tuple) or len(pool_size) != 2:
        raise invalid("pool_size", "ARGUMENT_INVALID", f"pool_size must be two integers ≥ 1, got {pool_size!r}")
    if type(include_repr_tokens) is str:  # "vision_rgb,geometry_bev" as on the command line
        include_repr_tokens = include_repr_tokens.split(",")
    if type(include_repr_tokens) not in (list, tuple) or not all(type(n) is str for n in include_repr_tokens):
        raise invalid("include_repr_tokens", "ARGUMENT_INVALID",
                      f"include_repr_tokens must be representation names, got {include_repr_tokens!r}")
    # docs/portable.md §6: blanks are ignored; a repeated name is computed once.
    names = tuple(dict.fromkeys(n.strip() for n in include_repr_tokens if n.strip()))
    return ExportArgs(output_store, max_episodes, _positive("stride_seconds", stride_seconds),
                      None if source_fps is None else _positive("source_fps", source_fps), store_temporal,
                      _int("token_dim", token_dim), (_int("pool_size", pool_size[0]), _int("pool_size", pool_size[1])),
                      names)
