"""The per-record part of the portable export (docs/portable.md §7 steps 1-3): which
portable fields a source record gets. Writing the output store is the caller's
job; this stays a deterministic function of the record, the raw files and the
options so that re-running an export never produces a second version."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from datapack_server.portable.raw_inputs import load_raw_inputs
from datapack_server.portable.repr_tokens import repr_tokens
from datapack_server.portable.rgb_features import FramesUnusable, rgb_features_v1
from datapack_server.portable.scene_tracks import UnsupportedTracks, scene_tracks_payload
from datapack_server.portable.slice_labels import slice_labels_v1

PORTABLE = "2.1-portable"
REPR = "2.2-repr"

REUSED = "reused_existing"
COMPUTED = "computed"
SKIPPED_MISSING_RAW = "skipped_missing_raw"
SKIPPED_MISSING_INPUTS = "skipped_missing_inputs"
SKIPPED_BAD_INPUTS = "skipped_bad_inputs"


class OptionError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_positive_number(value) -> bool:
    # bool is an int subclass, and NaN/inf would pass "> 0" or break round().
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and value > 0)


@dataclass(frozen=True)
class ExportOptions:
    stride_seconds: float = 1.0
    source_fps: float | None = None
    store_temporal: bool = False
    token_dim: int = 64
    pool_size: tuple[int, int] = (4, 4)
    repr_names: tuple[str, ...] = ()
    # Resolved folders raw data may be read from (a server's --raw-root); None:
    # anywhere the process can read (the embedded and command-line exports).
    raw_roots: tuple[str, ...] | None = None

    def validate(self) -> None:
        """Raises OptionError naming the first invalid field."""
        if not _is_positive_number(self.stride_seconds):
            raise OptionError("stride_seconds", "must be a number > 0")
        if self.source_fps is not None and not _is_positive_number(self.source_fps):
            raise OptionError("source_fps", "must be a number > 0")
        if not isinstance(self.store_temporal, bool):
            raise OptionError("store_temporal", "must be a boolean")
        if not _is_int(self.token_dim) or self.token_dim < 1:
            raise OptionError("token_dim", "must be an integer >= 1")
        if (not isinstance(self.pool_size, (tuple, list)) or len(self.pool_size) != 2
                or not all(_is_int(v) and v >= 1 for v in self.pool_size)):
            raise OptionError("pool_size", "must be two integers >= 1")
        if not isinstance(self.repr_names, (tuple, list)) or not all(isinstance(n, str) and n for n in self.repr_names):
            raise OptionError("repr_names", "must be non-empty names")


@dataclass
class RecordOutcome:
    outcome: str
    fields: dict = field(default_factory=dict)
    unstrided_no_fps: bool = False
    repr_computed: bool = False


def _non_empty_dict(value) -> bool:
    return isinstance(value, dict) and bool(value)


def portable_fields(record: dict, options: ExportOptions,
                    cwd: str | os.PathLike | None = None) -> RecordOutcome:
    has_repr = _non_empty_dict(record.get("repr_tokens"))
    if (all(_non_empty_dict(record.get(k)) for k in ("scene_tracks_v1", "rgb_features_v1", "slice_labels_v1"))
            and (not options.repr_names or has_repr)):
        return RecordOutcome(REUSED, {"schema_version": REPR if has_repr else PORTABLE})

    raw = load_raw_inputs(record.get("raw_data_path"), cwd, options.raw_roots)
    if raw.problem is not None:
        return RecordOutcome(f"skipped_{raw.problem}")

    fps = options.source_fps or raw.fps
    assert raw.tracks is not None  # load_raw_inputs reports missing tracks as a problem
    height, width = options.pool_size
    try:
        tracks = scene_tracks_payload(raw.tracks)
        fields: dict[str, object] = {
            "scene_tracks_v1": tracks,
            "rgb_features_v1": rgb_features_v1(
                raw.frames, token_dim=options.token_dim, pool_size=(height, width),
                stride_seconds=options.stride_seconds, source_fps=fps, store_temporal=options.store_temporal),
            "slice_labels_v1": slice_labels_v1(record.get("condition"), tracks),
        }
        if options.repr_names:
            fields["repr_tokens"] = repr_tokens(list(options.repr_names), raw.frames)
    except (FramesUnusable, UnsupportedTracks):
        return RecordOutcome(SKIPPED_BAD_INPUTS)
    fields["schema_version"] = REPR if options.repr_names else PORTABLE
    return RecordOutcome(COMPUTED, fields, unstrided_no_fps=fps is None,
                         repr_computed=bool(options.repr_names))
