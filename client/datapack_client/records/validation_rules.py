"""Naming rules shared by the client and the server (docs/schema.md §7.1)."""
from __future__ import annotations

import re
from typing import Any

_TASK_NAME_RE = re.compile(r"[A-Za-z0-9_.\-]{1,128}\Z")
# Windows device names: a folder called like this cannot be created or copied
# there, whatever its extension (CON, con.txt, LPT1.tar).
_DEVICE_RE = re.compile(r"(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\..*)?\Z", re.IGNORECASE)
STORE_MAX_CHARS = 256
PACK_ID_MAX_CHARS = 256


def task_name_ok(name: Any) -> bool:
    """1-128 of [A-Za-z0-9_.-], no "..": a task name is never a path."""
    return type(name) is str and _TASK_NAME_RE.match(name) is not None and ".." not in name


def store_segment_ok(segment: Any) -> bool:
    """One folder of a store path: a task name that is neither hidden (".",
    the service's own ".datapack" folder) nor a Windows device name."""
    return task_name_ok(segment) and not segment.startswith(".") and _DEVICE_RE.match(segment) is None


def store_ok(store: Any) -> bool:
    """A store path: "" (the data root) or "/"-separated segments (at most 256
    characters in all) that are each valid folder names (docs/repository.md §1)."""
    if store == "":
        return True
    return (type(store) is str and len(store) <= STORE_MAX_CHARS
            and all(store_segment_ok(seg) for seg in store.split("/")))


def pack_id_ok(pack_id: Any) -> bool:
    """A new record's id: 1-256 printable characters. str.isprintable() refuses
    what can forge or hide text where the id is printed (logs, terminals):
    controls, format characters (bidi overrides, zero-width), separators other
    than the ASCII space, surrogates, private-use and unassigned code points.
    Any other string is still a valid lookup key (it never reaches the file
    system): reads just do not find it."""
    return type(pack_id) is str and 0 < len(pack_id) <= PACK_ID_MAX_CHARS and pack_id.isprintable()


def shown(value: Any, limit: int = 64) -> str:
    """repr() of a caller's value for an error message, cut to `limit`
    characters: a hostile 70 KB name must not be echoed into trailing metadata
    (gRPC clients refuse more than 8-16 KiB by default)."""
    if type(value) is str and len(value) > limit:
        return f"{value[:limit]!r}… ({len(value)} characters)"
    return repr(value)
