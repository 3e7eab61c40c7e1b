"""Portable artifacts on the wire: PackedObject exactness, sizes, strictness."""
from __future__ import annotations

import math

import numpy as np
import pytest

from datapack_client.wire import codec

from datapack_client.wire import fastdecode

from datapack_client.records import jsonio
from datapack_client.records.model import json_equal
from datapack_client.wire.packed import pack_object, unpack_object
from datapack_client.proto.datapack.v1 import datapack_pb2 as pb
from datapack_server.portable.scene_tracks import scene_tracks_payload
from datapack_server.portable.synthetic_raw import write_raw_episode
from datapack_server.portable.raw_inputs import load_raw_inputs

from .jsoncheck import float_bits as bits
from .conftest import make_pack


def roundtrip(d: dict) -> dict:
    msg = pb.PackedObject(**pack_object(d))
    return unpack_object(pb.PackedObject.FromString(msg.SerializeToString()))




@pytest.mark.parametrize("value, kind", [
    ([0.30000001192092896, -0.0, 1.5], pb.PACKED_ARRAY_KIND_FLOAT32),  # float32 values written as doubles
    ([0.1, 0.2], pb.PACKED_ARRAY_KIND_FLOAT64),  # not float32-exact
    ([1e300, 1.0], pb.PACKED_ARRAY_KIND_FLOAT64),  # out of float32 range
    ([[1, 2, 3], [4, 5, 6]], pb.PACKED_ARRAY_KIND_INT64),
    ([[True, False]], pb.PACKED_ARRAY_KIND_BOOL),
    (["v1"], pb.PACKED_ARRAY_KIND_STRING),
    ([[[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]]], pb.PACKED_ARRAY_KIND_FLOAT32),
])
def test_rectangular_arrays_travel_packed_and_come_back_identical(value, kind):
    msg = pb.PackedObject(**pack_object({"a": value}))
    assert msg.entries[0].WhichOneof("value") == "array"
    assert msg.entries[0].array.kind == kind
    back = roundtrip({"a": value})
    assert json_equal(back, {"a": value}) and bits(back) == bits({"a": value})


@pytest.mark.parametrize("value", [
    [], [[]], [[1.0], [1.0, 2.0]],  # empty, ragged
    [1, 2.0], [True, 1], [1.0, "x"], [None], [{"a": 1}],  # mixed kinds
    [2 ** 63],  # beyond int64 (orjson, hence the store, stops at 2**64)
    "text", 3, 2.5, None, True,
])
def test_everything_else_travels_as_json_text_and_is_kept_exactly(value):
    d = {"k": value}
    msg = pb.PackedObject(**pack_object(d))
    assert msg.entries[0].WhichOneof("value") == "json"
    back = roundtrip(d)
    assert json_equal(back, d)


def test_nested_objects_and_key_order_are_kept():
    d = {"z": 1, "a": {"features": [0.5, 0.25], "metadata": {"pool_size": [4, 4]}}, "m": [1.0, 2.0]}
    back = roundtrip(d)
    assert list(back) == ["z", "a", "m"] and list(back["a"]) == ["features", "metadata"]
    assert json_equal(back, d)


def test_nan_travels_leniently_but_is_refused_on_the_strict_append_path():
    d = {"x": [1.0, float("nan"), float("inf")]}
    back = roundtrip(d)
    assert math.isnan(back["x"][1]) and back["x"][2] == math.inf
    rec = make_pack("nan-pack").to_dict()
    rec["rgb_features_v1"] = {"features": [0.5, float("nan")]}
    msg = codec.dict_to_message(rec)
    with pytest.raises(codec.JsonTextError) as err:
        fastdecode.decode_record(msg, strict=True)
    assert err.value.field == "rgb_features_v1.features"


def test_shape_that_does_not_hold_the_values_is_an_error():
    msg = pb.PackedObject(entries=[pb.PackedEntry(key="a", array=pb.PackedArray(
        kind=pb.PACKED_ARRAY_KIND_INT64, shape=[2, 2], int_values=[1, 2, 3]))])
    with pytest.raises(ValueError, match="shape"):
        unpack_object(msg)


def _big_tracks(tmp_path) -> dict:
    raw = write_raw_episode(tmp_path, "big", seed=7, frames=300, tracks=5, height=8, width=8)
    return scene_tracks_payload(load_raw_inputs(raw).tracks)


def test_a_300_frame_5_track_record_is_far_below_the_message_limit_and_exact(tmp_path):
    rec = make_pack("big-pack", schema_version="2.1-portable").to_dict()
    rec["scene_tracks_v1"] = _big_tracks(tmp_path)
    rec["rgb_features_v1"] = {"encoder": "vision_rgb::deterministic_pool_v1", "dim": 64,
                              "features": [float(np.float32(x)) for x in np.linspace(-1, 1, 64)],
                              "features_temporal": [[float(np.float32(i * 0.01 + j)) for j in range(64)]
                                                    for i in range(300)]}
    msg = codec.dict_to_message(rec)
    json_bytes = len(jsonio.dumps(rec))
    wire = msg.ByteSize()
    # The poses, visibility, ... arrays go as 4-byte floats: under half the JSON text,
    # and ~1/100 of the 64 MiB message limit the server and client configure.
    assert wire < json_bytes / 2 and wire < 640 * 1024, (wire, json_bytes)
    back = fastdecode.decode_record(pb.DataPackMeta.FromString(msg.SerializeToString()), strict=True)
    assert bits(back["scene_tracks_v1"]) == bits(rec["scene_tracks_v1"])
    assert bits(back["rgb_features_v1"]) == bits(rec["rgb_features_v1"])
    assert json_equal(back, rec)


def test_a_portable_artifact_that_is_not_an_object_travels_verbatim():
    rec = make_pack("odd-artifact").to_dict()
    rec["scene_tracks_v1"] = "not an object"
    rec["repr_tokens"] = [1, 2]
    msg = codec.dict_to_message(rec)
    assert not msg.HasField("scene_tracks_v1") and "scene_tracks_v1" in msg.verbatim_json
    assert json_equal(fastdecode.decode_record(msg), rec)
