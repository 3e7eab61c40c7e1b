"""Raw episode inputs behind a record's `raw_data_path` (docs/portable.md §2): a
directory with `metadata.json`, or a single `.npz` file.

Loading never raises: the export counts every problem as a skip, so each
outcome is reported through `RawInputs.problem` instead.
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datapack_server.portable.scene_tracks import PREFIX, UnsupportedTracks, check_version

MISSING_RAW = "missing_raw"
MISSING_INPUTS = "missing_inputs"
BAD_INPUTS = "bad_inputs"

FRAME_KEYS = ("rgb_frames", "frames")
# Kinds whose tolist() values are JSON-representable; anything else (bytes,
# complex, datetimes) could not be stored in a scene_tracks_v1 payload.
TRACK_KINDS = "biufU"


@dataclass
class RawInputs:
    frames: np.ndarray | None
    tracks: dict[str, np.ndarray] | None
    fps: float | None
    problem: str | None


class _Bad(Exception):
    pass


def _read_npz(path: Path, wanted: Callable[[str], bool]) -> dict[str, np.ndarray]:
    """The wanted arrays, fully read so the file is closed on return."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError("a single .npy array, not an npz archive")
        with loaded as npz:
            return {key: npz[key] for key in npz.files if wanted(key)}
    # A damaged archive surfaces as zipfile, zlib, OS, EOF or value errors
    # depending on where the damage is; all of them mean the same here.
    except Exception as exc:
        raise _Bad(f"{path}: {exc}") from exc


def _positive_fps(value) -> float | None:
    if isinstance(value, np.ndarray):
        if value.size != 1 or value.dtype.kind not in "iuf":
            return None
        value = value.ravel()[0].item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) and value > 0 else None


def _pick_frames(arrays: dict[str, np.ndarray]) -> np.ndarray | None:
    for key in FRAME_KEYS:
        if key in arrays:
            return arrays[key]
    return None


def allowed(path: Path, roots: tuple[str, ...] | None) -> bool:
    """True when roots is None (no restriction) or the path, symbolic links
    resolved, lies under one of the roots (themselves resolved paths).

    A server confines raw reads this way: raw_data_path comes from records
    that clients wrote, and must not make it read any file it can."""
    if roots is None:
        return True
    real = os.path.realpath(path)
    return any(os.path.commonpath([real, root]) == root for root in roots)


def _resolve(entry, raw_dir: Path, cwd: Path, roots: tuple[str, ...] | None = None) -> Path | None:
    if not isinstance(entry, str) or not entry:
        return None
    path = Path(entry)
    if path.is_absolute():
        return path if allowed(path, roots) and path.is_file() else None
    for base in (raw_dir, cwd):
        if allowed(base / path, roots) and (base / path).is_file():
            return base / path
    return None


def _from_directory(raw_dir: Path, cwd: Path, roots: tuple[str, ...] | None = None):
    meta_path = raw_dir / "metadata.json"
    if not allowed(meta_path, roots) or not meta_path.is_file():
        return None, None, None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _Bad(f"{meta_path}: {exc}") from exc
    if not isinstance(meta, dict):
        return None, None, None
    rgb_path = _resolve(meta.get("rgb_video_path"), raw_dir, cwd, roots)
    tracks_path = _resolve(meta.get("scene_tracks_path"), raw_dir, cwd, roots)
    if rgb_path is None or tracks_path is None:
        return None, None, None
    frames = _pick_frames(_read_npz(rgb_path, lambda key: key in FRAME_KEYS))
    tracks = _read_npz(tracks_path, lambda key: key.startswith(PREFIX))
    return frames, tracks, _positive_fps(meta.get("fps"))


def _from_npz(path: Path):
    arrays = _read_npz(path, lambda key: key in FRAME_KEYS or key == "fps" or key.startswith(PREFIX))
    tracks = {key: value for key, value in arrays.items() if key.startswith(PREFIX)}
    fps = _positive_fps(arrays["fps"]) if "fps" in arrays else None
    return _pick_frames(arrays), tracks, fps


def frames_usable(frames: np.ndarray) -> bool:
    """The shape rule of docs/portable.md §4.1, plus non-empty images and a numeric
    dtype: anything else would make the encoder fail or produce NaNs."""
    return (frames.ndim == 4 and frames.size > 0 and frames.dtype.kind in "biuf"
            and (frames.shape[-1] == 3 or frames.shape[1] == 3))


def load_raw_inputs(raw_data_path: str | None, cwd: str | os.PathLike | None = None,
                    roots: tuple[str, ...] | None = None) -> RawInputs:
    """The raw inputs at raw_data_path; with roots, a path (or a file its
    metadata names) outside them counts as missing, exactly like an absent
    one, so an export does not even tell whether such a file exists."""
    if not isinstance(raw_data_path, str) or not raw_data_path:
        return RawInputs(None, None, None, MISSING_RAW)
    base = Path(cwd) if cwd is not None else Path.cwd()
    path = Path(raw_data_path)
    if not path.is_absolute():
        path = base / path
    if not allowed(path, roots):
        return RawInputs(None, None, None, MISSING_INPUTS)
    try:
        if path.is_dir():
            frames, tracks, fps = _from_directory(path, base, roots)
        elif path.is_file() and path.suffix.lower() == ".npz":
            frames, tracks, fps = _from_npz(path)
        else:
            return RawInputs(None, None, None, MISSING_INPUTS)
    except _Bad:
        return RawInputs(None, None, None, BAD_INPUTS)
    if frames is None or not tracks:
        return RawInputs(frames, tracks or None, fps, MISSING_INPUTS)
    problem = None
    if not frames_usable(frames) or any(a.dtype.kind not in TRACK_KINDS for a in tracks.values()):
        problem = BAD_INPUTS
    elif PREFIX + "version" in tracks:
        try:
            check_version(tracks[PREFIX + "version"])
        except UnsupportedTracks:
            problem = BAD_INPUTS
    return RawInputs(frames, tracks, fps, problem)
