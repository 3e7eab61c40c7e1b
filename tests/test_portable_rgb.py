"""rgb_features_v1 / vision_rgb::deterministic_pool_v1 against docs/portable.md §4.6."""
from __future__ import annotations

import numpy as np
import pytest

from datapack_server.portable.rgb_features import (FramesUnusable, _bins, frame_features, normalise_frames,
                                                   projection_matrix, rgb_features_v1)

TOL = 1e-5


def test_projection_matrix_fingerprint():
    w = projection_matrix(54, 64)
    assert w.dtype == np.float32 and w.shape == (54, 64)
    assert np.allclose(w[0, 0:4], [0.0171097, -0.0179772, 0.0871505, 0.0142751], atol=1e-7)
    assert abs(w[1, 0] - 0.0447671) < 1e-7 and abs(w[53, 63] - (-0.0544170)) < 1e-7
    w64 = w.astype(np.float64)
    assert abs(w64.sum() - (-9.5306478)) < 1e-6
    assert abs(np.abs(w64).sum() - 379.0843407) < 1e-5
    assert abs((w64 ** 2).sum() - 64.5528474) < 1e-5


def test_adaptive_pooling_bins_match_the_spec_examples():
    assert _bins(6, 4) == [(0, 2), (1, 3), (3, 5), (4, 6)]
    assert _bins(10, 4) == [(0, 3), (2, 5), (5, 8), (7, 10)]
    assert _bins(8, 4) == [(0, 2), (2, 4), (4, 6), (6, 8)]


def case_a():
    t, h, w, c = np.meshgrid(np.arange(3), np.arange(8), np.arange(8), np.arange(3), indexing="ij")
    return ((50 * t + 17 * h + 9 * w + 71 * c) % 256).astype(np.uint8)


def case_b():
    t, c, h, w = np.meshgrid(np.arange(5), np.arange(3), np.arange(6), np.arange(10), indexing="ij")
    return (((t + 1) * (h + 2) * (w + 3) * (c + 1) % 97) / 97).astype(np.float32)


def check(payload, first4, last, total, norm):
    f = np.array(payload["features"])
    assert np.allclose(f[0:4], first4, atol=TOL), f[0:4]
    assert abs(f[63] - last) < TOL
    assert abs(f.sum() - total) < 1e-4 and abs(np.linalg.norm(f) - norm) < 1e-4


def test_case_a_channels_last_uint8():
    x = normalise_frames(case_a())
    feats = frame_features(x)
    assert np.allclose(feats[0, 0:6], [0.0509804, 0.1215686, 0.1921569, 0.2627451, 0.1843137, 0.2549020], atol=TOL)
    assert np.allclose(feats[0, 48:54], [0.3568628, 0.6352941, 0.5843138, 0.1728384, 0.1728384, 0.3500206],
                       atol=TOL)
    p = rgb_features_v1(case_a(), stride_seconds=1.0, source_fps=None)
    assert p["num_tokens"] == 3 and p["stride_seconds"] is None and p["stride_frames"] is None
    assert p["source_fps"] is None
    check(p, [-0.410105, 0.009135, -0.273972, 0.249638], -0.021949, -4.479850, 4.226493)
    assert list(p) == ["encoder", "dim", "pooling", "token_dim", "pool_size", "stride_seconds", "stride_frames",
                       "source_fps", "num_tokens", "features"]


def test_case_b_channels_first_float_not_rescaled():
    feats = frame_features(normalise_frames(case_b()))
    assert np.allclose(feats[0, 0:6], [0.1030928, 0.1546392, 0.2319588, 0.2835051, 0.1443299, 0.2164948], atol=TOL)
    assert np.allclose(feats[0, 48:54], [0.3479381, 0.4792096, 0.5104811, 0.1942930, 0.2478768, 0.2640765],
                       atol=TOL)
    p = rgb_features_v1(case_b())
    assert p["num_tokens"] == 5
    check(p, [-0.433134, -0.036812, -0.306727, 0.444517], -0.133317, -5.161942, 4.187568)


def test_case_b_with_stride():
    p = rgb_features_v1(case_b(), stride_seconds=1.0, source_fps=2.0, store_temporal=True)
    assert (p["stride_frames"], p["num_tokens"], p["source_fps"], p["stride_seconds"]) == (2, 3, 2.0, 1.0)
    check(p, [-0.406859, -0.035283, -0.250317, 0.388719], -0.160749, -5.151403, 4.006156)
    assert len(p["features_temporal"]) == 3 and len(p["features_temporal"][0]) == 64


@pytest.mark.parametrize("fps,stride", [(2.5, 2), (3.5, 4), (0.4, 1)])
def test_stride_rounds_half_to_even(fps, stride):
    assert rgb_features_v1(case_b(), stride_seconds=1.0, source_fps=fps)["stride_frames"] == stride


def test_unusable_frames():
    with pytest.raises(FramesUnusable):
        normalise_frames(np.zeros((2, 4, 5, 6)))
    with pytest.raises(FramesUnusable):
        normalise_frames(np.zeros((4, 5, 6)))
