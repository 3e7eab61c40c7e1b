"""Naming rules shared by the client and the server (schema.md §7.1)."""
from __future__ import annotations

import re
from typing import Any

_TASK_NAME_RE = re.compile(r"[A-Za-z0-9_.\-]{1,128}\Z")


def task_name_ok(name: Any) -> bool:
    """1-128 of [A-Za-z0-9_.-], no "..": a task name is never a path."""
    return type(name) is str and _TASK_NAME_RE.match(name) is not None and ".." not in name


def store_ok(store: Any) -> bool:
    """A store path: "" (the data root) or "/"-separated segments that are each
    valid task names (repository.md §1)."""
    if store == "":
        return True
    return type(store) is str and all(task_name_ok(seg) for seg in store.split("/"))
