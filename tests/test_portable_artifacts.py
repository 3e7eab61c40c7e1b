"""Portable artifacts other than the RGB encoder (docs/portable.md §2, §3, §5, §6 and
the per-record part of §7)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from datapack_server.portable.export import ExportOptions, OptionError, portable_fields
from datapack_server.portable.raw_inputs import load_raw_inputs
from datapack_server.portable.repr_tokens import parse_repr_names, repr_tokens
from datapack_server.portable.rgb_features import rgb_features_v1
from datapack_server.portable.scene_tracks import UnsupportedTracks, scene_tracks_payload, tracks_arrays
from datapack_server.portable.slice_labels import motion_score, slice_labels_v1
from datapack_server.portable.synthetic_raw import write_raw_episode

P = "scene_tracks_v1/"
LABEL_KEYS = ["schema_version", "occlusion_level", "occlusion_threshold", "occlusion_bucket", "is_occluded",
              "motion_score", "motion_thresholds", "motion_bucket", "is_dynamic", "is_static"]


# ----------------------------------------------------------------------------- slice labels (§5)

def example_tracks(dtype=np.float64):
    poses_t = np.zeros((3, 2, 3), dtype=dtype)
    poses_t[:, 0, 0] = [0.0, 0.1, 0.2]
    poses_t[0, 1, 0] = poses_t[2, 1, 0] = 1.0
    converged = np.array([[True, True], [True, False], [True, True]])
    return poses_t, converged


def test_spec_example_masks_unobserved_entries():
    poses_t, converged = example_tracks()
    payload = {P + "version": ["v1"], P + "poses_t": poses_t.tolist(), P + "converged": converged.tolist()}
    labels = slice_labels_v1({"occlusion_level": 0.6}, payload)
    assert list(labels) == LABEL_KEYS
    assert labels == {
        "schema_version": "2.1-portable", "occlusion_level": 0.6, "occlusion_threshold": 0.5,
        "occlusion_bucket": "mid", "is_occluded": True, "motion_score": (0.1 + (0.2 - 0.1)) / 2,
        "motion_thresholds": {"dynamic": 0.15, "static": 0.05}, "motion_bucket": "mid",
        "is_dynamic": False, "is_static": False}
    assert motion_score(poses_t, None) == pytest.approx(0.55)
    assert slice_labels_v1({}, {P + "poses_t": poses_t.tolist()})["is_dynamic"] is True


def test_float32_tracks_use_the_exact_doubles():
    poses_t, converged = example_tracks(np.float32)
    payload = scene_tracks_payload({"poses_t": poses_t, "converged": converged})
    x = poses_t[:, 0, 0].astype(np.float64)
    assert slice_labels_v1(None, payload)["motion_score"] == ((x[1] - x[0]) + (x[2] - x[1])) / 2


@pytest.mark.parametrize("level,bucket,occluded", [
    (0.33, "mid", False), (np.nextafter(0.33, 0), "low", False),
    (0.66, "high", True), (np.nextafter(0.66, 0), "mid", True),
    (0.5, "mid", True), (np.nextafter(0.5, 0), "mid", False), (0, "low", False), (1, "high", True)])
def test_occlusion_boundaries(level, bucket, occluded):
    labels = slice_labels_v1({"occlusion_level": float(level)}, None)
    assert (labels["occlusion_bucket"], labels["is_occluded"]) == (bucket, occluded)


def moving_payload(step: float) -> dict:
    return {P + "poses_t": [[[0.0, 0.0, 0.0]], [[step, 0.0, 0.0]]], P + "converged": [[True], [True]]}


@pytest.mark.parametrize("step,bucket,dynamic,static", [
    (0.05, "mid", False, True), (np.nextafter(0.05, 0), "low", False, True),
    (np.nextafter(0.05, 1), "mid", False, False),
    (0.15, "high", True, False), (np.nextafter(0.15, 0), "mid", False, False),
    (np.nextafter(0.15, 1), "high", True, False), (0.0, "low", False, True)])
def test_motion_boundaries(step, bucket, dynamic, static):
    labels = slice_labels_v1(None, moving_payload(float(step)))
    assert labels["motion_score"] == float(step)
    assert (labels["motion_bucket"], labels["is_dynamic"], labels["is_static"]) == (bucket, dynamic, static)


def test_motion_score_edge_cases():
    assert motion_score([[[0.0, 0.0, 0.0]]], None) == 0.0                        # T = 1
    assert motion_score(np.zeros((0, 0, 3)), np.zeros((0, 0), bool)) == 0.0       # empty result
    assert motion_score([[0.0, 1.0], [2.0, 3.0]], None) == 0.0                     # not 3-D
    assert motion_score(None, None) == 0.0
    poses = [[[0.0, 0.0, 0.0]], [[3.0, 4.0, 0.0]]]
    assert motion_score(poses, [[True], [False]]) == 0.0                           # no valid pair
    assert motion_score(poses, [[True, True], [True, True]]) == 5.0                # wrong shape: all observed
    assert motion_score(poses, [True, False]) == 5.0


def test_no_tracks_gives_null_motion_labels():
    for payload in (None, {}):
        labels = slice_labels_v1({"occlusion_level": 0.2}, payload)
        assert list(labels) == LABEL_KEYS
        assert [labels[k] for k in ("motion_score", "motion_bucket", "is_dynamic", "is_static")] == [None] * 4
        assert labels["motion_thresholds"] == {"dynamic": 0.15, "static": 0.05}


@pytest.mark.parametrize("condition", [None, {}, {"occlusion_level": None}, {"occlusion_level": True},
                                       {"occlusion_level": "0.9"}, {"occlusion_level": [0.9]}])
def test_wrong_type_occlusion_counts_as_zero(condition):
    labels = slice_labels_v1(condition, None)
    assert labels["occlusion_level"] == 0.0 and type(labels["occlusion_level"]) is float
    assert labels["occlusion_bucket"] == "low" and labels["is_occluded"] is False


def test_integer_occlusion_is_recorded_as_float():
    labels = slice_labels_v1({"occlusion_level": 1}, None)
    assert type(labels["occlusion_level"]) is float and labels["is_occluded"] is True


def test_unsupported_tracks_version_is_rejected():
    with pytest.raises(UnsupportedTracks):
        slice_labels_v1(None, {P + "version": ["v2"], P + "poses_t": []})
    with pytest.raises(UnsupportedTracks):
        tracks_arrays({"version": []})
    assert tracks_arrays({P + "version": ["v1"], "poses_t": [1]}) == {"version": ["v1"], "poses_t": [1]}


# ----------------------------------------------------------------------------- scene tracks payload (§3)

def test_scene_tracks_payload_values_and_key_order():
    arrays = {
        P + "version": np.array(["v1"]),
        "track_ids": np.array(["a", "bb"]),
        P + "class_ids": np.array([2, -1], dtype=np.int32),
        P + "scales": np.array([[0.3, 1.0]], dtype=np.float32),
        P + "z_shape": np.array([[[0.1]]], dtype=np.float16),
        P + "converged": np.array([[True, False]]),
    }
    payload = scene_tracks_payload(arrays)
    assert list(payload) == [P + "version", P + "track_ids", P + "class_ids", P + "scales", P + "z_shape",
                             P + "converged"]
    assert payload[P + "scales"] == [[0.30000001192092896, 1.0]]
    assert payload[P + "z_shape"] == [[[float(np.float16(0.1))]]] and payload[P + "z_shape"][0][0][0] != 0.1
    assert payload[P + "converged"] == [[True, False]]
    assert payload[P + "track_ids"] == ["a", "bb"] and type(payload[P + "track_ids"][0]) is str
    assert payload[P + "class_ids"] == [2, -1] and type(payload[P + "class_ids"][0]) is int
    assert type(payload[P + "converged"][0][0]) is bool
    assert json.loads(json.dumps(payload)) == payload


# ----------------------------------------------------------------------------- raw inputs (§2)

def tracks_arrays_v1(t=4, k=2, version="v1"):
    poses_t = np.zeros((t, k, 3), np.float32)
    poses_t[:, 0, 0] = np.arange(t) * 0.25
    return {P + "version": np.array([version]), P + "track_ids": np.array([f"t{i}" for i in range(k)]),
            P + "poses_t": poses_t, P + "converged": np.ones((t, k), bool)}


def frames(t=4, h=8, w=8):
    return (np.arange(t * h * w * 3) % 251).astype(np.uint8).reshape(t, h, w, 3)


def write_dir(root, metadata, rgb=None, tracks=None):
    root.mkdir(parents=True, exist_ok=True)
    if rgb is not None:
        np.savez(root / "rgb.npz", rgb_frames=rgb)
    if tracks is not None:
        np.savez(root / "tracks.npz", **tracks)
    if metadata is not None:
        (root / "metadata.json").write_text(json.dumps(metadata))
    return root


META = {"rgb_video_path": "rgb.npz", "scene_tracks_path": "tracks.npz", "fps": 4}


def test_directory_with_relative_paths_resolved_against_the_raw_dir(tmp_path):
    raw = write_dir(tmp_path / "raw" / "ep0", META, frames(), tracks_arrays_v1())
    other = tmp_path / "elsewhere"
    other.mkdir()
    # Same names in the working directory must lose to the raw directory's files.
    np.savez(other / "rgb.npz", rgb_frames=frames(t=9))
    for path_arg, cwd in ((str(raw), other), ("raw/ep0", tmp_path)):
        inputs = load_raw_inputs(path_arg, cwd=cwd)
        assert inputs.problem is None and inputs.fps == 4.0
        assert np.array_equal(inputs.frames, frames())
        assert list(inputs.tracks) == list(tracks_arrays_v1())
        assert inputs.tracks[P + "poses_t"].dtype == np.float32


def test_directory_paths_fall_back_to_the_working_directory(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    np.savez(shared / "tracks.npz", **tracks_arrays_v1())
    raw = write_dir(tmp_path / "raw", {"rgb_video_path": "rgb.npz", "scene_tracks_path": "shared/tracks.npz"},
                    frames())
    inputs = load_raw_inputs(str(raw), cwd=tmp_path)
    assert inputs.problem is None and inputs.fps is None
    assert load_raw_inputs(str(raw), cwd=shared).problem == "missing_inputs"


def test_directory_absolute_paths_and_frames_key(tmp_path):
    np.savez(tmp_path / "video.npz", frames=frames(t=2))
    np.savez(tmp_path / "t.npz", **tracks_arrays_v1(), other=np.zeros(3))
    raw = write_dir(tmp_path / "raw", {"rgb_video_path": str(tmp_path / "video.npz"),
                                       "scene_tracks_path": str(tmp_path / "t.npz"), "fps": "10"})
    inputs = load_raw_inputs(str(raw))
    assert inputs.problem is None and inputs.frames.shape[0] == 2 and inputs.fps is None
    assert "other" not in inputs.tracks


@pytest.mark.parametrize("metadata,rgb,tracks", [
    (None, True, True),                                               # no metadata.json
    ({"rgb_video_path": "rgb.npz"}, True, True),                      # missing key
    ({"rgb_video_path": "rgb.npz", "scene_tracks_path": 3}, True, True),
    (META, True, False),                                              # missing file
    (META, False, True),
    (["rgb.npz", "tracks.npz"], True, True),                          # not an object
])
def test_directory_with_absent_inputs(tmp_path, metadata, rgb, tracks):
    raw = write_dir(tmp_path / "raw", metadata, frames() if rgb else None, tracks_arrays_v1() if tracks else None)
    assert load_raw_inputs(str(raw)).problem == "missing_inputs"


def test_directory_without_track_keys_or_frames_keys(tmp_path):
    raw = write_dir(tmp_path / "a", META, frames(), {"poses_t": np.zeros((1, 1, 3))})
    assert load_raw_inputs(str(raw)).problem == "missing_inputs"
    raw = write_dir(tmp_path / "b", META, None, tracks_arrays_v1())
    np.savez(raw / "rgb.npz", video=frames())
    assert load_raw_inputs(str(raw)).problem == "missing_inputs"


def test_npz_with_rgb_frames_preferred_and_fps(tmp_path):
    path = tmp_path / "ep.npz"
    np.savez(path, rgb_frames=frames(t=3), frames=frames(t=5), fps=np.array([2.5]), **tracks_arrays_v1())
    inputs = load_raw_inputs("ep.npz", cwd=tmp_path)
    assert inputs.problem is None and inputs.frames.shape[0] == 3 and inputs.fps == 2.5
    assert set(inputs.tracks) == set(tracks_arrays_v1())


@pytest.mark.parametrize("fps,expected", [(np.float64(12.0), 12.0), (np.array(7), 7.0), (np.array(0.0), None),
                                          (np.array([1.0, 2.0]), None), (np.array(-3.0), None),
                                          (np.array("10"), None), (None, None)])
def test_npz_with_frames_and_fps_forms(tmp_path, fps, expected):
    extra = {} if fps is None else {"fps": fps}
    np.savez(tmp_path / "ep.npz", frames=frames(), **tracks_arrays_v1(), **extra)
    inputs = load_raw_inputs(str(tmp_path / "ep.npz"))
    assert inputs.problem is None and inputs.fps == expected and inputs.frames.shape == (4, 8, 8, 3)


def test_npz_missing_tracks_or_frames(tmp_path):
    np.savez(tmp_path / "a.npz", rgb_frames=frames())
    np.savez(tmp_path / "b.npz", **tracks_arrays_v1())
    assert load_raw_inputs(str(tmp_path / "a.npz")).problem == "missing_inputs"
    assert load_raw_inputs(str(tmp_path / "b.npz")).problem == "missing_inputs"


def test_missing_raw_and_other_paths(tmp_path):
    assert load_raw_inputs(None).problem == "missing_raw"
    assert load_raw_inputs("").problem == "missing_raw"
    assert load_raw_inputs(str(tmp_path / "nope")).problem == "missing_inputs"
    (tmp_path / "ep.txt").write_text("x")
    assert load_raw_inputs("ep.txt", cwd=tmp_path).problem == "missing_inputs"


@pytest.mark.parametrize("bad", [frames()[..., 0], np.zeros((2, 8, 8, 4), np.uint8), np.zeros((0, 8, 8, 3)),
                                 np.zeros((2, 0, 8, 3)), np.array([[[["a", "b", "c"]]]])])
def test_unusable_frames(tmp_path, bad):
    np.savez(tmp_path / "ep.npz", rgb_frames=bad, **tracks_arrays_v1())
    assert load_raw_inputs(str(tmp_path / "ep.npz")).problem == "bad_inputs"


def test_channels_first_frames_are_usable(tmp_path):
    np.savez(tmp_path / "ep.npz", rgb_frames=np.zeros((2, 3, 8, 8), np.float32), **tracks_arrays_v1())
    assert load_raw_inputs(str(tmp_path / "ep.npz")).problem is None


def test_corrupt_files_are_bad_inputs(tmp_path):
    (tmp_path / "ep.npz").write_bytes(b"PK\x03\x04 definitely not a zip archive")
    assert load_raw_inputs(str(tmp_path / "ep.npz")).problem == "bad_inputs"
    np.save(tmp_path / "plain.npy", frames())
    (tmp_path / "plain.npy").rename(tmp_path / "plain.npz")
    assert load_raw_inputs(str(tmp_path / "plain.npz")).problem == "bad_inputs"
    good = tmp_path / "good.npz"
    np.savez(good, rgb_frames=frames(), **tracks_arrays_v1())
    (tmp_path / "cut.npz").write_bytes(good.read_bytes()[:-200])
    assert load_raw_inputs(str(tmp_path / "cut.npz")).problem == "bad_inputs"
    raw = write_dir(tmp_path / "raw", None, frames(), tracks_arrays_v1())
    (raw / "metadata.json").write_text("{not json")
    assert load_raw_inputs(str(raw)).problem == "bad_inputs"


def test_unsupported_tracks_version_is_bad_inputs(tmp_path):
    np.savez(tmp_path / "ep.npz", rgb_frames=frames(), **tracks_arrays_v1(version="v2"))
    assert load_raw_inputs(str(tmp_path / "ep.npz")).problem == "bad_inputs"


# ----------------------------------------------------------------------------- repr tokens (§6)

def test_parse_repr_names():
    assert parse_repr_names(" vision_rgb, ,geometry_bev,,vision_rgb ") == ["vision_rgb", "geometry_bev"]
    assert parse_repr_names("") == []


def test_repr_tokens_vision_rgb_and_unsupported():
    tokens = repr_tokens(["vision_rgb", "geometry_bev"], frames(t=5))
    assert list(tokens) == ["vision_rgb", "geometry_bev"]
    rgb = tokens["vision_rgb"]
    assert list(rgb) == ["version", "dim", "num_tokens", "pooling", "features", "metadata"]
    assert (rgb["version"], rgb["dim"], rgb["num_tokens"], rgb["pooling"], rgb["metadata"]) == \
        ("vision_rgb::v1", 64, 5, "mean", {"pool_size": [4, 4]})
    assert rgb["features"] == rgb_features_v1(frames(t=5), source_fps=None)["features"]
    assert tokens["geometry_bev"] == {"version": "geometry_bev::v1", "error": "representation not supported"}


# ----------------------------------------------------------------------------- per-record export (§7)

@pytest.mark.parametrize("kwargs,field", [
    ({"token_dim": 0}, "token_dim"), ({"token_dim": True}, "token_dim"), ({"token_dim": 2.0}, "token_dim"),
    ({"pool_size": (0, 4)}, "pool_size"), ({"pool_size": (4,)}, "pool_size"), ({"pool_size": (4, False)}, "pool_size"),
    ({"stride_seconds": 0}, "stride_seconds"), ({"stride_seconds": -1.0}, "stride_seconds"),
    ({"stride_seconds": "1"}, "stride_seconds"), ({"stride_seconds": float("nan")}, "stride_seconds"),
    ({"source_fps": 0.0}, "source_fps"), ({"source_fps": True}, "source_fps"),
    ({"source_fps": float("inf")}, "source_fps"), ({"store_temporal": 1}, "store_temporal"),
    ({"repr_names": ("",)}, "repr_names")])
def test_invalid_options(kwargs, field):
    with pytest.raises(OptionError) as err:
        ExportOptions(**kwargs).validate()
    assert err.value.field == field and isinstance(err.value, ValueError)


def test_valid_options():
    ExportOptions().validate()
    ExportOptions(stride_seconds=2, source_fps=30, store_temporal=True, token_dim=1, pool_size=(1, 2),
                  repr_names=("vision_rgb",)).validate()


ARTIFACTS = {"scene_tracks_v1": {P + "version": ["v1"]}, "rgb_features_v1": {"dim": 64},
             "slice_labels_v1": {"schema_version": "2.1-portable"}}


def test_reuse_of_existing_artifacts():
    record = {**ARTIFACTS, "raw_data_path": None}
    out = portable_fields(record, ExportOptions())
    assert (out.outcome, out.fields) == ("reused_existing", {"schema_version": "2.1-portable"})
    with_repr = {**record, "repr_tokens": {"vision_rgb": {"version": "vision_rgb::v1"}}}
    for options in (ExportOptions(), ExportOptions(repr_names=("vision_rgb",))):
        out = portable_fields(with_repr, options)
        assert (out.outcome, out.fields, out.repr_computed) == ("reused_existing", {"schema_version": "2.2-repr"},
                                                                False)
    # Requested repr tokens the record lacks, or an empty artifact, force recomputation.
    assert portable_fields(record, ExportOptions(repr_names=("vision_rgb",))).outcome == "skipped_missing_raw"
    assert portable_fields({**record, "slice_labels_v1": {}}, ExportOptions()).outcome == "skipped_missing_raw"


def test_skips(tmp_path):
    assert portable_fields({}, ExportOptions()) == portable_fields({"raw_data_path": ""}, ExportOptions())
    assert portable_fields({}, ExportOptions()).outcome == "skipped_missing_raw"
    assert portable_fields({"raw_data_path": "nope"}, ExportOptions(), cwd=tmp_path).outcome == \
        "skipped_missing_inputs"
    np.savez(tmp_path / "bad.npz", rgb_frames=np.zeros((2, 8, 8, 4)), **tracks_arrays_v1())
    out = portable_fields({"raw_data_path": "bad.npz"}, ExportOptions(), cwd=tmp_path)
    assert (out.outcome, out.fields) == ("skipped_bad_inputs", {})


def test_computed_fields_with_metadata_fps(tmp_path):
    raw = write_raw_episode(tmp_path, "ep", seed=3, frames=30, fps=10.0)
    record = {"raw_data_path": raw, "condition": {"occlusion_level": 0.7}}
    out = portable_fields(record, ExportOptions())
    assert out.outcome == "computed" and not out.unstrided_no_fps and not out.repr_computed
    assert set(out.fields) == {"scene_tracks_v1", "rgb_features_v1", "slice_labels_v1", "schema_version"}
    assert out.fields["schema_version"] == "2.1-portable"
    rgb = out.fields["rgb_features_v1"]
    assert (rgb["stride_seconds"], rgb["stride_frames"], rgb["source_fps"], rgb["num_tokens"]) == (1.0, 10, 10.0, 3)
    labels = out.fields["slice_labels_v1"]
    assert labels["occlusion_bucket"] == "high" and labels["is_occluded"] is True
    inputs = load_raw_inputs(raw)
    assert out.fields["scene_tracks_v1"] == scene_tracks_payload(inputs.tracks)
    # --source-fps overrides the raw metadata.
    rgb5 = portable_fields(record, ExportOptions(source_fps=5.0, store_temporal=True))
    assert rgb5.fields["rgb_features_v1"]["stride_frames"] == 5
    assert len(rgb5.fields["rgb_features_v1"]["features_temporal"]) == 6


def test_unknown_fps_is_unstrided(tmp_path):
    raw = write_raw_episode(tmp_path, "ep", seed=3, frames=12, fps=None, layout="npz")
    out = portable_fields({"raw_data_path": raw}, ExportOptions(stride_seconds=0.5, token_dim=8, pool_size=(2, 2)))
    assert out.outcome == "computed" and out.unstrided_no_fps
    rgb = out.fields["rgb_features_v1"]
    assert (rgb["stride_seconds"], rgb["stride_frames"], rgb["source_fps"], rgb["num_tokens"]) == \
        (None, None, None, 12)
    assert rgb["dim"] == 8 and len(rgb["features"]) == 8 and rgb["pool_size"] == [2, 2]


def test_repr_tokens_requested(tmp_path):
    raw = write_raw_episode(tmp_path, "ep", seed=1, frames=6)
    options = ExportOptions(repr_names=tuple(parse_repr_names("vision_rgb,geometry_bev")))
    out = portable_fields({"raw_data_path": raw}, options)
    assert out.outcome == "computed" and out.repr_computed
    assert out.fields["schema_version"] == "2.2-repr"
    tokens = out.fields["repr_tokens"]
    assert list(tokens) == ["vision_rgb", "geometry_bev"]
    assert tokens["vision_rgb"]["num_tokens"] == 6 and "error" in tokens["geometry_bev"]


def test_export_is_deterministic(tmp_path):
    paths = [write_raw_episode(tmp_path / d, "ep", seed=7, layout="dir") for d in ("a", "b")]
    record = {"raw_data_path": paths[0], "condition": {"occlusion_level": 0.4}}
    options = ExportOptions(repr_names=("vision_rgb",))
    first = portable_fields(record, options)
    assert portable_fields(record, options) == first
    assert portable_fields({**record, "raw_data_path": paths[1]}, options) == first
    assert json.dumps(first.fields) == json.dumps(portable_fields(record, options).fields)


# ----------------------------------------------------------------------------- synthetic raw episodes

@pytest.mark.parametrize("layout", ["dir", "npz"])
def test_synthetic_episode_loads_and_exports(tmp_path, layout):
    raw = write_raw_episode(tmp_path, "ep", seed=2, frames=20, tracks=3, height=24, width=16, fps=5.0,
                            layout=layout, occlusion_level=0.25)
    inputs = load_raw_inputs(raw)
    assert inputs.problem is None and inputs.fps == 5.0
    assert inputs.frames.shape == (20, 24, 16, 3) and inputs.frames.dtype == np.uint8
    tracks = {k[len(P):]: v for k, v in inputs.tracks.items()}
    assert list(tracks) == ["version", "track_ids", "entity_types", "class_ids", "poses_R", "poses_t", "scales",
                            "visibility", "occlusion", "ir_loss", "converged", "class_names", "summary_json"]
    shapes = {"poses_R": (20, 3, 3, 3), "poses_t": (20, 3, 3), "scales": (20, 3), "converged": (20, 3)}
    assert all(tracks[k].shape == s for k, s in shapes.items())
    assert all(tracks[k].dtype == np.float32 for k in ("poses_R", "poses_t", "scales", "visibility", "occlusion",
                                                       "ir_loss"))
    hidden = ~tracks["converged"]
    assert hidden.any() and not tracks["poses_t"][hidden].any() and (tracks["scales"][hidden] == 1).all()
    assert json.loads(str(tracks["summary_json"][0]))["num_tracks"] == 3
    out = portable_fields({"raw_data_path": raw, "condition": {"occlusion_level": 0.25}}, ExportOptions())
    assert out.outcome == "computed" and out.fields["rgb_features_v1"]["stride_frames"] == 5


def test_synthetic_motion_labels(tmp_path):
    def labels(**kwargs):
        raw = write_raw_episode(tmp_path, f"ep{len(list(tmp_path.iterdir()))}", **kwargs)
        return slice_labels_v1(None, scene_tracks_payload(load_raw_inputs(raw).tracks))

    scores = [labels(seed=seed)["motion_score"] for seed in range(8)]
    assert any(s >= 0.15 for s in scores) and all(s > 0.05 for s in scores)
    still = labels(seed=0, moving=False)
    assert still["motion_score"] < 0.05 and still["is_static"] is True


def test_synthetic_episode_without_tracks_is_an_empty_result(tmp_path):
    inputs = load_raw_inputs(write_raw_episode(tmp_path, "ep", seed=0, tracks=0, layout="npz"))
    assert inputs.problem is None and inputs.tracks[P + "poses_t"].shape == (0, 0, 3)
    assert slice_labels_v1(None, scene_tracks_payload(inputs.tracks))["motion_score"] == 0.0
