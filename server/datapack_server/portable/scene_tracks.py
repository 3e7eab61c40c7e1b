"""`scene_tracks_v1` payloads (docs/portable.md §3): the scene-tracks arrays of a
raw episode as a JSON object, and the reverse lookup used by slice labels."""
from __future__ import annotations

import numpy as np

PREFIX = "scene_tracks_v1/"
SUPPORTED_VERSION = "v1"


class UnsupportedTracks(ValueError):
    """The payload's `version` is not "v1"."""


def _prefixed(key: str) -> str:
    return key if key.startswith(PREFIX) else PREFIX + key


def scene_tracks_payload(arrays: dict[str, np.ndarray]) -> dict:
    """Keys with the `scene_tracks_v1/` prefix, values as nested lists. tolist()
    widens float16/float32 to the exactly equal Python float, which is what the
    stored payloads (and their documented sizes) assume."""
    return {_prefixed(key): np.asarray(value).tolist() for key, value in arrays.items()}


def first_element(value) -> object:
    """The first element of a version field given as an array, a list or a bare
    string; None when there is none."""
    if isinstance(value, str):
        return value
    try:
        flat = np.asarray(value, dtype=object).ravel()
    except ValueError:
        return None
    return flat[0] if flat.size else None


def check_version(version) -> None:
    if first_element(version) != SUPPORTED_VERSION:
        raise UnsupportedTracks(f"unsupported scene tracks version {version!r}")


def tracks_arrays(payload: dict) -> dict[str, object]:
    """The payload's fields without the prefix; an explicitly prefixed key wins
    over an unprefixed duplicate because that is the stored form."""
    out: dict[str, object] = {}
    for key, value in payload.items():
        if key.startswith(PREFIX):
            out[key[len(PREFIX):]] = value
        elif PREFIX + key not in payload:
            out[key] = value
    if "version" in out:
        check_version(out["version"])
    return out
