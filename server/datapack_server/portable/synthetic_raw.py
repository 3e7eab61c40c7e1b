"""Small synthetic raw episodes (docs/portable.md §2, §3) so the portable export can
run end to end without a simulator: coloured squares moving over a background,
with scene tracks describing them. Everything is a function of the seed."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from datapack_server.portable.scene_tracks import PREFIX

CLASS_NAMES = ("box", "vase", "handle")


def _scene_tracks(rng: np.random.Generator, frames: int, tracks: int, occlusion_level: float,
                  moving: bool, seed: int) -> dict[str, np.ndarray]:
    # An empty tracking result has no frames either (docs/portable.md §3).
    t, k = (frames, tracks) if tracks else (0, 0)
    start = rng.uniform(-1.0, 1.0, (k, 3))
    direction = rng.standard_normal((k, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    # Per-frame speeds straddle the dynamic threshold (0.15) so that some
    # seeds give dynamic episodes and others mid ones.
    speed = rng.uniform(0.05, 0.3, k) if moving else np.zeros(k)
    poses_t = start[None] + np.arange(t)[:, None, None] * (direction * speed[:, None])[None]

    observed = np.ones((t, k), dtype=bool)
    if k >= 2 and t >= 4:
        # The last track leaves view for a while, which is what motion
        # masking exists for.
        gap_start = int(rng.integers(1, t - 1))
        observed[gap_start:gap_start + max(1, t // 5), k - 1] = False

    entity_types = np.zeros(k, dtype=np.int32)
    if k >= 2:
        entity_types[-1] = 1
    class_ids = np.where(entity_types == 1, -1, np.arange(k) % len(CLASS_NAMES)).astype(np.int32)
    occlusion = np.clip(occlusion_level + rng.uniform(-0.05, 0.05, (t, k)), 0.0, 1.0)
    hidden = ~observed
    arrays = {
        "version": np.array(["v1"]),
        "track_ids": np.array([f"track_{i:03d}" for i in range(k)], dtype="<U16"),
        "entity_types": entity_types,
        "class_ids": class_ids,
        "poses_R": np.broadcast_to(np.eye(3), (t, k, 3, 3)) * observed[..., None, None],
        "poses_t": poses_t * observed[..., None],
        "scales": np.where(observed, np.broadcast_to(rng.uniform(0.5, 1.5, k), (t, k)), 1.0),
        "visibility": np.where(observed, 1.0 - occlusion, 0.0),
        "occlusion": np.where(observed, occlusion, 0.0),
        "ir_loss": np.where(observed, rng.uniform(0.01, 0.1, (t, k)), 0.0),
        "converged": observed,
        "class_names": np.array(CLASS_NAMES),
        "summary_json": np.array([json.dumps({"generator": "synthetic_raw", "seed": seed, "num_frames": t,
                                              "num_tracks": k, "num_hidden": int(hidden.sum())},
                                             sort_keys=True)]),
    }
    for key in ("poses_R", "poses_t", "scales", "visibility", "occlusion", "ir_loss"):
        arrays[key] = np.ascontiguousarray(arrays[key], dtype=np.float32)
    return arrays


def _render(rng: np.random.Generator, tracks: dict[str, np.ndarray], frames: int, height: int, width: int,
            occlusion_level: float) -> np.ndarray:
    rows, cols = np.mgrid[0:height, 0:width]
    base = rng.integers(0, 256, 3)
    background = np.stack([(base[c] + 96 * rows // height + 64 * cols // width) % 256 for c in range(3)], axis=-1)
    video = np.broadcast_to(background, (frames, height, width, 3)).astype(np.uint8)
    poses_t, observed = tracks["poses_t"], tracks["converged"]
    colours = rng.integers(0, 256, (poses_t.shape[1], 3))
    side = max(2, min(height, width) // 6)
    pixels_per_unit = min(height, width) / 4
    for t in range(min(frames, poses_t.shape[0])):
        for k in np.flatnonzero(observed[t]):
            x0 = int(poses_t[t, k, 0] * pixels_per_unit) % max(1, width - side + 1)
            y0 = int(poses_t[t, k, 1] * pixels_per_unit) % max(1, height - side + 1)
            video[t, y0:y0 + side, x0:x0 + side] = colours[k]
    video[:, :, :int(round(occlusion_level * width))] = 128
    return video


def write_raw_episode(out_dir: str | os.PathLike, name: str, *, seed: int, frames: int = 30, tracks: int = 3,
                      height: int = 32, width: int = 32, fps: float | None = 10.0, layout: str = "dir",
                      occlusion_level: float = 0.0, moving: bool = True) -> str:
    """Writes one episode and returns its raw_data_path: a directory holding
    metadata.json (with paths relative to it, so the folder can be moved),
    rgb.npz and tracks.npz for layout "dir"; `<name>.npz` for layout "npz"."""
    if layout not in ("dir", "npz"):
        raise ValueError(f"layout must be 'dir' or 'npz', got {layout!r}")
    if frames < 1 or tracks < 0 or height < 1 or width < 1:
        raise ValueError("frames, height and width must be >= 1 and tracks >= 0")
    rng = np.random.default_rng(seed)
    arrays = _scene_tracks(rng, frames, tracks, occlusion_level, moving, seed)
    video = _render(rng, arrays, frames, height, width, occlusion_level)
    prefixed = {PREFIX + key: value for key, value in arrays.items()}
    out = Path(out_dir)
    if layout == "npz":
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"{name}.npz"
        arrays_out: dict[str, np.ndarray] = {"rgb_frames": video, **prefixed}
        if fps is not None:
            arrays_out["fps"] = np.asarray(fps, dtype=np.float64)
        np.savez(path, **arrays_out)  # type: ignore[arg-type]  # numpy's stub types **kwds as bool
        return str(path)
    path = out / name
    path.mkdir(parents=True, exist_ok=True)
    np.savez(path / "rgb.npz", rgb_frames=video)
    np.savez(path / "tracks.npz", **prefixed)  # type: ignore[arg-type]  # numpy's stub types **kwds as bool
    metadata: dict[str, object] = {"rgb_video_path": "rgb.npz", "scene_tracks_path": "tracks.npz"}
    if fps is not None:
        metadata["fps"] = fps
    (path / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    return str(path)
