"""`repr_tokens` (docs/portable.md §6). Only `vision_rgb` is computed here; the
earlier library's geometry representations are outside this service and get
the error entry that library wrote when a representation failed."""
from __future__ import annotations

from datapack_server.portable.rgb_features import rgb_features_v1

VISION_RGB = "vision_rgb"
UNSUPPORTED = "representation not supported"
_DIM = 64
_POOL = (4, 4)


def parse_repr_names(text: str) -> list[str]:
    """Comma-separated names in the given order; blanks and repeats dropped
    because the result keys a dict."""
    names: list[str] = []
    for part in text.split(","):
        name = part.strip()
        if name and name not in names:
            names.append(name)
    return names


def _vision_rgb(frames) -> dict:
    # No fps, so no stride: the token summarises every frame.
    rgb = rgb_features_v1(frames, token_dim=_DIM, pool_size=_POOL, source_fps=None)
    return {
        "version": f"{VISION_RGB}::v1",
        "dim": _DIM,
        "num_tokens": rgb["num_tokens"],
        "pooling": "mean",
        "features": rgb["features"],
        "metadata": {"pool_size": list(_POOL)},
    }


def repr_tokens(names: list[str], frames) -> dict:
    """Name -> payload, in the order of `names`. Raises FramesUnusable for
    frames the RGB encoder cannot read."""
    return {name: _vision_rgb(frames) if name == VISION_RGB
            else {"version": f"{name}::v1", "error": UNSUPPORTED}
            for name in names}
