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


def _aligned(head: tuple, body: list[tuple], right: set[int]) -> list[str]:
    """Header, rule and body lines, columns padded (those in `right` right-aligned)."""
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]

    def line(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return [line(head), line(["-" * w for w in widths]), *(line(cells) for cells in body)]


def _verdict(ok: bool | None) -> str:
    return "" if ok is None else ("PASS" if ok else "FAIL")


def table(rows: list[Row]) -> str:
    head = ("section", "metric", "size", "value", "unit", "target", "ok", "note")
    body = [(r.section, r.metric, _size(r.size), _fmt(r.value), r.unit, r.target, _verdict(r.ok), r.note)
            for r in rows]
    lines = _aligned(head, body, {3})
    out = lines[:2]
    prev = None
    for text, r in zip(lines[2:], rows):
        if prev is not None and r.section != prev:
            out.append("")
        out.append(text)
        prev = r.section
    return "\n".join(out)


def _ratio(x: float | None) -> str:
    return "" if x is None else f"{x:.2f}x"


def side_by_side(blocks: list[dict], n: int, reps: int, file_mb: float) -> str:
    """The bulk section: per measure, the peer lines, then the service lines
    with the speed ratios of each to the best and to the reference peer."""
    out = [f"bulk: {_size(n)} packs, {file_mb:,.0f} MB of JSONL, best of {reps}; ratios are speed ratios, "
           f"> 1 = the service is faster"]
    for b in blocks:
        out += ["", f"{b['title']} ({b['unit']}); best peer: {b['best_peer'] or 'none succeeded'}; "
                    f"reference: {b['reference']}"]
        head = ("", "who", b["unit"], "÷ best peer", "÷ reference", "target", "ok", "note")
        body = [("service" if x["side"] != "peer" else "peer", x["who"], _fmt(x["value"]), _ratio(x["ratio_best"]),
                 _ratio(x["ratio_ref"]), x["target"] or "", _verdict(x["ok"]), x["note"]) for x in b["lines"]]
        out += ["  " + t for t in _aligned(head, body, {2, 3, 4})]
    return "\n".join(out)


def top100_target(n: int) -> tuple[str, float]:
    """Filtered top-100 p50 over gRPC: <= 2 ms up to 100k packs, <= 3 ms beyond (1M)."""
    return ("<=", 2.0 if n <= 100_000 else 3.0)


# growth columns: (key, header, target as (op, value) or a function of the size)
GROWTH = (
    ("rss_snapshot", "RSS B/pack snap", ("<=", 500)),
    ("rss_scratch", "RSS B/pack scratch", ("<=", 500)),
    ("reopen_s", "reopen s snap", ("<=", 2.0)),
    ("reopen_scratch_s", "reopen s scratch", None),
    ("build_rate", "build packs/s 1 proc", None),
    ("server_build_rate", "build packs/s server", (">=", 50_000)),
    ("top100_p50_ms", "top100 p50 ms", top100_target),
    ("stats_p50_ms", "stats p50 ms", ("<=", 1.0)),
    ("bulk_rate", "iter packs/s", (">=", 60_000)),
    ("first_ms", "first pack ms", ("<=", 100.0)),
    ("client_rss_growth_mib", "client ΔRSS MiB", None),
)


def growth_target(spec, n: int):
    return spec(n) if callable(spec) else spec


def growth_table(points: list[dict]) -> str:
    """One row per store size; a figure that misses its target is marked '*'."""
    head = ("size", *(h for _, h, _ in GROWTH))
    body = []
    for p in points:
        cells = [_size(p["n"])]
        for key, _, spec in GROWTH:
            v, target = p.get(key), growth_target(spec, p["n"])
            miss = target is not None and not row("", "", None, v, "", target).ok
            cells.append("-" if v is None else _fmt(v) + ("*" if miss else ""))
        body.append(tuple(cells))
    legend = "targets: " + "; ".join(f"{h} {t[0]} {_fmt(t[1])}" for _, h, spec in GROWTH
                                     if (t := growth_target(spec, 1_000_000)) is not None)
    return "\n".join(["growth (* misses its target; '-' not measured or not available)",
                      *_aligned(head, body, set(range(1, len(head)))), legend + " (top100: <= 2 ms up to 100k)"
                      + "; iter: a full remote iter_query, pack_id read; reopen: server start + first query"])


def write_json(path: str, meta: dict, rows: list[Row], details: dict) -> None:
    doc = {"meta": meta, "rows": [asdict(r) for r in rows], "details": details}
    with open(path, "wb") as f:
        f.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY))
