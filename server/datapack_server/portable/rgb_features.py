"""`rgb_features_v1` with the encoder `vision_rgb::deterministic_pool_v1`
(docs/portable.md §4): adaptive average pooling of each frame to ph x pw cells,
per-channel means and population standard deviations, a fixed seeded random
projection to D dimensions, optional temporal stride, mean over time.

All arithmetic is float32, as in the earlier library's PyTorch implementation
(which this reproduces within 1e-5 per component; tests pin the spec's
reference vectors and the projection matrix's fingerprint).
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

ENCODER = "vision_rgb::deterministic_pool_v1"


class FramesUnusable(ValueError):
    """The frames are not a (T, H, W, 3) or (T, 3, H, W) array."""


@lru_cache(maxsize=8)
def projection_matrix(features: int, dim: int) -> np.ndarray:
    """W (features x dim, float32): standard normals from default_rng(0), divided
    by max(1, sqrt(features)) in float32 (sqrt rounded to float32)."""
    w = np.random.default_rng(0).standard_normal((features, dim)).astype(np.float32)
    divisor = max(np.float32(1.0), np.float32(math.sqrt(features)))
    w = w / divisor
    w.setflags(write=False)
    return w


def normalise_frames(frames) -> np.ndarray:
    """(T, 3, H, W) float32 in [0, 1] (docs/portable.md §4.1)."""
    x = np.asarray(frames)
    if x.ndim != 4:
        raise FramesUnusable(f"frames must be a 4-D array, got shape {x.shape}")
    if x.shape[-1] == 3:
        x = x.transpose(0, 3, 1, 2)
    elif x.shape[1] != 3:
        raise FramesUnusable(f"frames must have 3 channels, got shape {x.shape}")
    x = x.astype(np.float32)
    if x.size and float(x.max()) > 1.5:
        x = x / np.float32(255.0)
    return x


def _bins(n: int, cells: int) -> list[tuple[int, int]]:
    """PyTorch adaptive-pooling bins: [floor(i*n/cells), ceil((i+1)*n/cells))."""
    return [((i * n) // cells, -((-(i + 1) * n) // cells)) for i in range(cells)]


def frame_features(x: np.ndarray, pool_size: tuple[int, int] = (4, 4)) -> np.ndarray:
    """(T, F) float32 per-frame features, F = 3·ph·pw + 6 (docs/portable.md §4.2)."""
    t, c, h, w = x.shape
    ph, pw = pool_size
    pooled = np.empty((t, c, ph, pw), dtype=np.float32)
    for i, (r0, r1) in enumerate(_bins(h, ph)):
        for j, (c0, c1) in enumerate(_bins(w, pw)):
            pooled[:, :, i, j] = x[:, :, r0:r1, c0:c1].mean(axis=(2, 3), dtype=np.float32)
    means = x.mean(axis=(2, 3), dtype=np.float32)
    stds = x.std(axis=(2, 3), dtype=np.float32)
    return np.concatenate([pooled.reshape(t, c * ph * pw), means, stds], axis=1).astype(np.float32)


def rgb_features_v1(frames, *, token_dim: int = 64, pool_size: tuple[int, int] = (4, 4),
                    stride_seconds: float | None = 1.0, source_fps: float | None = None,
                    store_temporal: bool = False) -> dict:
    """The `rgb_features_v1` payload of one episode's frames (keys in the order
    of docs/portable.md §4.5). The stride is applied only when source_fps is known."""
    x = normalise_frames(frames)
    feats = frame_features(x, pool_size)
    tokens = feats @ projection_matrix(feats.shape[1], token_dim)
    fps_known = source_fps is not None and source_fps > 0
    stride = None
    if source_fps is not None and source_fps > 0:
        stride = max(1, round((stride_seconds if stride_seconds is not None else 1.0) * source_fps))
        if stride > 1:
            tokens = tokens[::stride]
    pooled = tokens.mean(axis=0, dtype=np.float32) if len(tokens) else np.zeros(token_dim, np.float32)
    payload = {
        "encoder": ENCODER,
        "dim": token_dim,
        "pooling": "mean",
        "token_dim": token_dim,
        "pool_size": [pool_size[0], pool_size[1]],
        "stride_seconds": (stride_seconds if stride_seconds is not None else 1.0) if fps_known else None,
        "stride_frames": stride,
        "source_fps": source_fps if fps_known else None,
        "num_tokens": int(len(tokens)),
        "features": [float(v) for v in pooled],
    }
    if store_temporal:
        payload["features_temporal"] = [[float(v) for v in row] for row in tokens]
    return payload
