"""`slice_labels_v1` (docs/portable.md §5): occlusion and motion labels for curated
slice evaluations."""
from __future__ import annotations

import numpy as np

from datapack_server.portable.scene_tracks import tracks_arrays

SCHEMA_VERSION = "2.1-portable"
OCCLUSION_THRESHOLD = 0.5
DYNAMIC_THRESHOLD = 0.15
STATIC_THRESHOLD = 0.05


def motion_score(poses_t, converged) -> float:
    """Mean per-frame translation over pairs of consecutive frames in which the
    track was observed both times. Unobserved entries hold zeros, so including
    them would turn a track entering or leaving view into a huge jump."""
    try:
        p = np.asarray(poses_t, dtype=np.float64)
    except (ValueError, TypeError):
        return 0.0
    if p.ndim != 3 or p.shape[0] < 2:
        return 0.0
    try:
        m = np.asarray(converged, dtype=bool) if converged is not None else None
    except (ValueError, TypeError):
        m = None
    if m is None or m.shape != p.shape[:2]:
        m = np.ones(p.shape[:2], dtype=bool)
    valid = m[1:] & m[:-1]
    if not valid.any():
        return 0.0
    steps = np.linalg.norm(p[1:] - p[:-1], axis=-1)
    return float(steps[valid].mean())


def _occlusion_level(condition) -> float:
    value = condition.get("occlusion_level") if isinstance(condition, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    return float(value)


def slice_labels_v1(condition: dict | None, tracks_payload: dict | None) -> dict:
    """Raises UnsupportedTracks for a payload whose version is not "v1"."""
    occlusion = _occlusion_level(condition)
    motion = bucket = dynamic = static = None
    if tracks_payload:
        tracks = tracks_arrays(tracks_payload)
        motion = motion_score(tracks.get("poses_t"), tracks.get("converged"))
        # Bucket "low" ends strictly below the static threshold while is_static
        # includes it: kept so new labels compare with the stored ones.
        bucket = "low" if motion < STATIC_THRESHOLD else "mid" if motion < DYNAMIC_THRESHOLD else "high"
        dynamic = motion >= DYNAMIC_THRESHOLD
        static = motion <= STATIC_THRESHOLD
    return {
        "schema_version": SCHEMA_VERSION,
        "occlusion_level": occlusion,
        "occlusion_threshold": OCCLUSION_THRESHOLD,
        "occlusion_bucket": "low" if occlusion < 0.33 else "mid" if occlusion < 0.66 else "high",
        "is_occluded": occlusion >= OCCLUSION_THRESHOLD,
        "motion_score": motion,
        "motion_thresholds": {"dynamic": DYNAMIC_THRESHOLD, "static": STATIC_THRESHOLD},
        "motion_bucket": bucket,
        "is_dynamic": dynamic,
        "is_static": static,
    }
