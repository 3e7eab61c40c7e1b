"""Tables and JSON lines, as the data verbs print them."""
from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from typing import Any, TextIO

from datapack_client.records import jsonio
from datapack_server.cli.common import isatty


def cell(v: Any) -> str:
    """A value as a table cell: '-' for None, floats to 4 places, objects as compact JSON."""
    if v is None:
        return "-"
    if type(v) is float:
        return f"{v:.4f}" if abs(v) < 1e6 else f"{v:.4g}"
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"), ensure_ascii=False)
    text = str(v)
    # A stored string (an old line's id, a tag) must not break or restyle the table.
    return text if text.isprintable() else json.dumps(text)[1:-1]


def clip(text: str, width: int) -> str:
    """The text cut to `width` characters, ending in '…' when cut."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def format_table(headers: list[str], rows: list[list[str]], max_width: int | None = None,
                 right: Iterable[int] = (), keep: Iterable[int] = ()) -> list[str]:
    """Columns as wide as their widest cell; with max_width (a terminal), the
    widest text columns are narrowed (cells end in '…') until a line fits, the
    `keep` columns (the pack id) only once the others are down to 6; the
    `right` (number) columns never, since a cut number would read as another."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    if max_width is not None:
        excess = sum(widths) + 2 * (len(widths) - 1) - max_width
        floor = 6
        keep, fixed = set(keep), set(right)
        for group in ([i for i in range(len(widths)) if i not in keep and i not in fixed], sorted(keep - fixed)):
            while excess > 0 and group:
                # Level the widest columns down together, so no single column loses everything.
                i = max(group, key=lambda j: widths[j])
                if widths[i] <= floor:
                    break
                second = max([widths[j] for j in group if j != i] + [floor])
                cut = min(excess, max(widths[i] - second, 1))
                widths[i] -= cut
                excess -= cut
    right = set(right)

    def line(cells: list[str]) -> str:
        parts = []
        for i, c in enumerate(cells):
            c = clip(c, widths[i])
            parts.append(c.rjust(widths[i]) if i in right else c.ljust(widths[i]))
        return "  ".join(parts).rstrip()

    return [line(headers)] + [line(r) for r in rows]


def terminal_width(stream: TextIO) -> int | None:
    """The terminal's width when the stream is one, else None (no narrowing)."""
    return shutil.get_terminal_size().columns if isatty(stream) else None


def json_line(value: Any) -> str:
    """A value as one line of JSON (the stored records' encoding)."""
    return jsonio.dumps(value).decode()
