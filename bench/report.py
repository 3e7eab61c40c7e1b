"""Result rows, targets and the plain-text table."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import orjson

_OPS = {">=": lambda v, t: v >= t, "<=": lambda v, t: v <= t}


@dataclass
class Row:
    section: str
    metric: str
    size: int | None
    value: float | None
    unit: str
    target: str = ""
    ok: bool | None = None
    note: str = ""


def row(section: str, metric: str, size: int | None, value: float | None, unit: str,
        target: tuple[str, float] | None = None, note: str = "") -> Row:
    ok = None
    text = ""
    if target is not None:
        op, thr = target
        text = f"{op} {_fmt(thr)}"
        ok = value is not None and not math.isnan(value) and _OPS[op](value, thr)
    return Row(section, metric, size, value, unit, text, ok, note)


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and math.isnan(v):
        return "nan"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 0.1 or a == 0:
        return f"{v:.2f}"
    return f"{v:.3g}"


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else (
        f"{n // 1000}k" if n % 1000 == 0 else str(n))


def table(rows: list[Row]) -> str:
    head = ("section", "metric", "size", "value", "unit", "target", "ok", "note")
    body = [(r.section, r.metric, _size(r.size), _fmt(r.value), r.unit, r.target,
             "" if r.ok is None else ("PASS" if r.ok else "FAIL"), r.note) for r in rows]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    right = {3}

    def line(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out = [line(head), line(["-" * w for w in widths])]
    prev = None
    for cells, r in zip(body, rows):
        if prev is not None and r.section != prev:
            out.append("")
        out.append(line(cells))
        prev = r.section
    return "\n".join(out)


def write_json(path: str, meta: dict, rows: list[Row], details: dict) -> None:
    doc = {"meta": meta, "rows": [asdict(r) for r in rows], "details": details}
    with open(path, "wb") as f:
        f.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY))
