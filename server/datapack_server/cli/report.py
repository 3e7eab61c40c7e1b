"""`datapack report`: PNG plots and a self-contained index.html of one task.

    datapack report (--datapack-dir DIR | --data-dir ROOT [--store S] | --target HOST:PORT [--store S])
                    --task drawer_vase --out report/ [--quiet] [--json]

Reads through the public repository API only, so the same code reports on a
local store (the embedded DataPackRepo) and on a running server (the thin
client), named as every verb names a store (options.py): one unlimited query
for the per-pack points (ΔJ, trust, bucket; the heavy artifacts stay on the
server), get_statistics for the table and the counts, and the adapter's value
matrix and energy summaries. No pack is written (a local store may save its
index snapshot, a cache, as any embedded repository does).

Files in --out: value_matrix.png, delta_j_histogram.png, trust_vs_delta_j.png,
energy_per_limb.png, energy_per_skill.png (each energy plot only when some pack
records that breakdown), pack_counts.png and index.html, which is self-contained:
the same PNGs embedded as data: URIs, inline style, no script, no link to any
other file (it can be mailed or moved alone).

matplotlib is the `report` extra (`pip install 'datapack[report]'`); it is
imported only when a report is drawn, with the object-oriented API (no pyplot,
no global backend: Figure.savefig renders PNG with Agg).

Exit status (common.py): 0 written; 1 no packs, a store or task that does not
exist, matplotlib missing, the store or server could not be read or the folder
written; 2 usage.
"""
from __future__ import annotations

import argparse
import base64
import datetime as _dt
import html
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from datapack_client.adapter import BUCKETS, SkillDataPackAdapter, SkillValueMatrix
from datapack_client.records.validation_rules import task_name_ok
from datapack_server.cli.common import EXIT_OK, Parser, Progress, add_verb_parser, isatty
from datapack_server.cli.options import (
    CommandFailure,
    UsageError,
    add_location_arguments,
    location_label,
    open_repo,
    run_guarded,
)

MISSING_MATPLOTLIB = ("datapack report needs matplotlib, which is the report extra: "
                      "pip install 'datapack[report]'")

# Okabe–Ito palette: distinguishable with the common colour-vision deficiencies.
# Positive is blue and negative vermillion everywhere, matching the heatmap's
# diverging map (RdBu: red below zero, blue above).
BUCKET_COLOURS = {"positive": "#0072B2", "negative": "#D55E00"}
BUCKET_MARKERS = {"positive": "o", "negative": "^"}
DELTA_J_LABEL = "ΔJ (change in objective J, objective units)"
# Cells annotated with their value and count up to this many; beyond, the
# numbers would be too small to read and the colour alone carries the matrix.
ANNOTATE_MAX_CELLS = 150
# Above this many points the scatter is rasterised inside the PNG anyway; the
# markers shrink so that dense regions stay readable.
DENSE_SCATTER = 5000


class ReportError(CommandFailure):
    """A report that cannot be made (exit status 1), with a message for the user."""


@dataclass
class ReportData:
    """Everything a report shows, read once from a repository."""

    task: str
    store: str
    source: str  # the server address or the local store folder
    generated_at: str  # UTC, ISO 8601 to the second
    statistics: dict
    statistics_by_bucket: dict  # bucket -> get_statistics over that bucket
    value_matrix: SkillValueMatrix
    energy_by_bucket: dict  # bucket -> summarize_energy_usage over that bucket
    points: dict = field(default_factory=dict)  # bucket -> (ΔJ list, trust list)
    points_skipped: int = 0  # packs whose ΔJ or trust is missing or not finite


def collect(repo, task: str, store: str, source: str) -> ReportData:
    """Read a report's data through the repository API (embedded or remote)."""
    statistics = repo.get_statistics(task)
    if statistics["total"] == 0:
        raise ReportError(f"no packs of task {task!r} in store {store or '(data root)'!r}")
    adapter = SkillDataPackAdapter(repo)
    data = ReportData(
        task=task, store=store, source=source,
        generated_at=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        statistics=statistics,
        statistics_by_bucket={b: repo.get_statistics(task, bucket=b) for b in BUCKETS},
        value_matrix=adapter.compute_skill_value_matrix(task),
        energy_by_bucket={b: adapter.summarize_energy_usage(task, slice={"bucket": b}) for b in BUCKETS},
        points={b: ([], []) for b in BUCKETS},
    )
    # One unlimited query; each pack is reduced to three values at once, so the
    # records themselves need not outlive the loop (a remote client decodes
    # only the attribution of each received pack).
    for pack in repo.query(task, limit=None):
        attribution = pack.attribution
        delta_j = getattr(attribution, "delta_J", None) if attribution is not None else None
        trust = getattr(attribution, "trust_score", None) if attribution is not None else None
        if not (_finite(delta_j) and _finite(trust)) or pack.bucket not in data.points:
            data.points_skipped += 1
            continue
        dj_list, trust_list = data.points[pack.bucket]
        dj_list.append(float(delta_j))
        trust_list.append(float(trust))
    return data


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# --------------------------------------------------------------------------- drawing

def _matplotlib():
    """The Figure class and the style, or ReportError naming the extra."""
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ReportError(MISSING_MATPLOTLIB) from exc
    style = {
        "font.size": 11, "axes.titlesize": 13, "axes.titleweight": "bold", "axes.labelsize": 11,
        "xtick.labelsize": 10, "ytick.labelsize": 10, "legend.fontsize": 10, "figure.dpi": 100,
        "savefig.dpi": 130, "axes.spines.top": False, "axes.spines.right": False, "axes.grid": False,
    }
    return matplotlib, Figure, style


def render(data: ReportData, out_dir: str, progress: Callable[[int], None] | None = None) -> list[str]:
    """Write the PNGs and index.html into out_dir; returns the written file names."""
    matplotlib, Figure, style = _matplotlib()
    os.makedirs(out_dir, exist_ok=True)
    plots = [
        ("value_matrix.png", _value_matrix_figure),
        ("delta_j_histogram.png", _delta_j_histogram_figure),
        ("trust_vs_delta_j.png", _trust_scatter_figure),
        ("energy_per_limb.png", lambda F, d: _energy_figure(F, d, "limb_totals", "limb")),
        ("energy_per_skill.png", lambda F, d: _energy_figure(F, d, "skill_totals", "skill")),
        ("pack_counts.png", _pack_counts_figure),
    ]
    written: dict[str, bytes] = {}  # file name -> PNG, embedded in index.html
    with matplotlib.rc_context(style):
        for i, (name, draw) in enumerate(plots):
            fig = draw(Figure, data)
            if fig is not None:  # None: nothing of this kind is recorded (said in index.html)
                fig.savefig(_partial(out_dir, name), format="png", bbox_inches="tight", facecolor="white")
                os.replace(_partial(out_dir, name), os.path.join(out_dir, name))
                with open(os.path.join(out_dir, name), "rb") as png:
                    written[name] = png.read()
            if progress is not None:
                progress(i + 1)
    with open(_partial(out_dir, "index.html"), "w", encoding="utf-8") as f:
        f.write(index_html(data, written))
    os.replace(_partial(out_dir, "index.html"), os.path.join(out_dir, "index.html"))
    return list(written) + ["index.html"]


PLOT_COUNT = 6


def _partial(out_dir: str, name: str) -> str:
    # A reader of the folder never sees a half-written file under its final name.
    return os.path.join(out_dir, f".{name}.partial")


def _subtitle(data: ReportData) -> str:
    return f"task {data.task} · store {data.store or '(data root)'} · {data.statistics['total']:,} packs"


def _value_matrix_figure(Figure, data: ReportData):
    import numpy as np
    from matplotlib.colors import TwoSlopeNorm

    m = data.value_matrix
    values = m.to_numpy()
    counts = np.array(m.counts, dtype=np.int64).reshape(values.shape)
    rows, cols = values.shape
    if rows == 0:
        return None
    shown = np.ma.masked_where(counts == 0, values)  # a mean of no packs is no value
    limit = float(np.max(np.abs(values[counts > 0]))) if np.any(counts > 0) else 1.0
    limit = limit or 1.0
    annotate = rows * cols <= ANNOTATE_MAX_CELLS
    fig = Figure(figsize=(2.6 + 1.55 * cols, 1.9 + (0.62 if annotate else 0.32) * rows), layout="constrained")
    ax = fig.add_subplot()
    cmap = _colormap("RdBu").with_extremes(bad="#e6e6e6")
    image = ax.imshow(shown, cmap=cmap, norm=TwoSlopeNorm(vcenter=0.0, vmin=-limit, vmax=limit), aspect="auto")
    ax.set_xticks(range(cols), [c.replace("_", " ") for c in m.conditions])
    ax.set_yticks(range(rows), [f"{name} ({sid})" for sid, name in zip(m.skill_ids, m.skill_names)])
    ax.tick_params(axis="both", length=0)
    ax.set_xlabel("condition (first matching semantic tag; otherwise normal)")
    ax.set_ylabel("skill (id)")
    ax.set_xticks(np.arange(cols + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(rows + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="minor", length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if annotate:
        for r in range(rows):
            for c in range(cols):
                if counts[r, c] == 0:
                    ax.text(c, r, "no packs", ha="center", va="center", fontsize=8.5, color="#666666")
                    continue
                dark = abs(values[r, c]) / limit > 0.55  # white text on the saturated ends
                ax.text(c, r, f"{values[r, c]:+.2f}\nn={counts[r, c]}", ha="center", va="center",
                        fontsize=9, color="white" if dark else "#1a1a1a", linespacing=1.15)
    bar = fig.colorbar(image, ax=ax, shrink=0.9, pad=0.02)
    bar.set_label("mean ΔJ of the packs (objective units)")
    ax.set_title("Mean ΔJ per skill and condition")
    note = f"{_subtitle(data)} · blue: ΔJ ≥ 0, red: ΔJ < 0, grey: no packs"
    if m.skipped_entries:
        note += f" · {m.skipped_entries} skill entries skipped"
    fig.suptitle(note, fontsize=9.5, color="#444444", x=0.01, ha="left")
    return fig


def _colormap(name: str):
    from matplotlib import colormaps
    return colormaps[name]


def _delta_j_histogram_figure(Figure, data: ReportData):
    import numpy as np

    values = [v for b in BUCKETS for v in data.points[b][0]]
    if not values:
        return None
    edges = np.histogram_bin_edges(np.array(values), bins="auto")
    if len(edges) > 61:  # beyond ~60 bars the bins are noise to the eye
        edges = np.histogram_bin_edges(np.array(values), bins=60)
    if 0.0 > edges[0] and 0.0 < edges[-1]:
        # A bin edge at zero, so no bar mixes the two buckets.
        edges = np.unique(np.concatenate([edges, [0.0]]))
    fig = Figure(figsize=(9, 5), layout="constrained")
    ax = fig.add_subplot()
    for bucket in BUCKETS:
        dj = data.points[bucket][0]
        label = f"{bucket} (n={len(dj):,}" + (f", mean {np.mean(dj):+.2f})" if dj else ")")
        ax.hist(dj, bins=edges, color=BUCKET_COLOURS[bucket], alpha=0.85, edgecolor="white", linewidth=0.6,
                label=label)
    ax.axvline(0.0, color="#333333", linestyle="--", linewidth=1)
    ax.set_xlabel(DELTA_J_LABEL)
    ax.set_ylabel("packs per bin")
    ax.set_title("Distribution of ΔJ by bucket")
    ax.legend(title="bucket", frameon=False)
    ax.grid(axis="y", color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    fig.suptitle(_subtitle(data) + _skipped_note(data), fontsize=9.5, color="#444444", x=0.01, ha="left")
    return fig


def _skipped_note(data: ReportData) -> str:
    return f" · {data.points_skipped} packs without finite ΔJ/trust left out" if data.points_skipped else ""


def _trust_scatter_figure(Figure, data: ReportData):
    n = sum(len(data.points[b][0]) for b in BUCKETS)
    if n == 0:
        return None
    dense = n > DENSE_SCATTER
    fig = Figure(figsize=(9, 5.5), layout="constrained")
    ax = fig.add_subplot()
    for bucket in BUCKETS:
        dj, trust = data.points[bucket]
        ax.scatter(trust, dj, s=6 if dense else 22, alpha=0.35 if dense else 0.6, linewidths=0,
                   marker=BUCKET_MARKERS[bucket], color=BUCKET_COLOURS[bucket], rasterized=True,
                   label=f"{bucket} (n={len(dj):,})")
    ax.axhline(0.0, color="#333333", linestyle="--", linewidth=1)
    ax.set_xlabel("trust score (unitless)")
    ax.set_ylabel(DELTA_J_LABEL)
    ax.set_title("Trust against ΔJ, one point per pack")
    legend = ax.legend(title="bucket", frameon=False, markerscale=1.6 if not dense else 3)
    for handle in legend.legend_handles:  # the key at full colour, whatever the points' transparency
        handle.set_alpha(1.0)
    ax.grid(color="#e3e3e3", linewidth=0.8)
    ax.set_axisbelow(True)
    fig.suptitle(_subtitle(data) + _skipped_note(data), fontsize=9.5, color="#444444", x=0.01, ha="left")
    return fig


def _energy_figure(Figure, data: ReportData, key: str, what: str):
    """Grouped horizontal bars: mean Wh per pack for each name, per bucket. A
    pack that does not record a name counts as 0 Wh for it (the adapter's
    totals divided by the bucket's pack count)."""
    import numpy as np

    means: dict = {}
    for bucket in BUCKETS:
        summary = data.energy_by_bucket[bucket]
        n = summary.get("n_packs", 0)
        for name, total in (summary.get(key) or {}).items():
            means.setdefault(name, {b: 0.0 for b in BUCKETS})[bucket] = total / n if n else 0.0
    if not means:
        return None
    counts = {b: data.energy_by_bucket[b].get("n_packs", 0) for b in BUCKETS}
    # Largest mean over all packs first (each bucket weighted by its packs).
    names = sorted(means, key=lambda k: -sum(means[k][b] * counts[b] for b in BUCKETS))
    buckets = [b for b in BUCKETS if counts[b]]
    fig = Figure(figsize=(9, 1.5 + 0.32 * len(names) * len(buckets)), layout="constrained")
    ax = fig.add_subplot()
    height = 0.8 / len(buckets)
    y = np.arange(len(names))
    top = max(means[k][b] for k in names for b in buckets) or 1.0
    for i, bucket in enumerate(buckets):
        vals = [means[k][bucket] for k in names]
        pos = y + (i - (len(buckets) - 1) / 2) * height
        n = data.energy_by_bucket[bucket]["n_packs"]
        ax.barh(pos, vals, height=height * 0.92, color=BUCKET_COLOURS[bucket], label=f"{bucket} (n={n:,})")
        for p, v in zip(pos, vals):
            ax.text(v + top * 0.01, p, _wh(v), va="center", fontsize=9, color="#333333")
    ax.set_yticks(y, [str(k) for k in names])  # as stored, like the value matrix's skill names
    ax.invert_yaxis()  # largest first, at the top
    ax.set_xlim(0, top * 1.18)
    ax.set_xlabel("mean energy per pack (Wh)")
    ax.set_ylabel(what)
    ax.set_title(f"Energy per {what}, mean per pack by bucket")
    ax.legend(title="bucket", frameon=False, loc="lower right")
    ax.grid(axis="x", color="#e3e3e3", linewidth=0.8)
    ax.set_axisbelow(True)
    fig.suptitle(_subtitle(data), fontsize=9.5, color="#444444", x=0.01, ha="left")
    return fig


def _wh(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def _pack_counts_figure(Figure, data: ReportData):
    fig = Figure(figsize=(11, 1.9 + 0.5 * max(len(data.statistics.get("engine_types") or {}),
                                              len(data.statistics.get("source_types") or {}), 2)),
                 layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, key, what in zip(axes, ("engine_types", "source_types"), ("engine type", "source type")):
        totals = data.statistics.get(key) or {}
        names = sorted(totals, key=lambda k: -totals[k])
        left = [0] * len(names)
        for bucket in BUCKETS:
            per = data.statistics_by_bucket[bucket].get(key) or {}
            vals = [per.get(k, 0) for k in names]
            ax.barh(range(len(names)), vals, left=left, color=BUCKET_COLOURS[bucket], height=0.7, label=bucket)
            left = [a + b for a, b in zip(left, vals)]
        top = max(left, default=0) or 1
        for i, k in enumerate(names):
            ax.text(totals[k] + top * 0.01, i, f"{totals[k]:,}", va="center", fontsize=9.5)
        ax.set_yticks(range(len(names)), names)
        ax.invert_yaxis()
        ax.set_xlim(0, top * 1.15)
        ax.set_xlabel("packs")
        ax.set_title(f"Packs per {what}")
        ax.grid(axis="x", color="#e3e3e3", linewidth=0.8)
        ax.set_axisbelow(True)
    axes[1].legend(title="bucket", frameon=False, loc="lower right")
    fig.suptitle(_subtitle(data), fontsize=9.5, color="#444444", x=0.01, ha="left")
    return fig


# --------------------------------------------------------------------------- index.html

CAPTIONS = {
    "value_matrix.png": ("Mean ΔJ per skill × condition",
                         "Each cell is the mean ΔJ of the packs whose skill trace uses the skill, in the "
                         "condition of the column; n is their count. Blue cells gain, red cells lose."),
    "delta_j_histogram.png": ("ΔJ by bucket",
                              "How far packs improve (positive bucket, ΔJ ≥ 0) or worsen (negative) the "
                              "objective."),
    "trust_vs_delta_j.png": ("Trust against ΔJ", "One point per pack: are the large gains and losses trusted?"),
    "energy_per_limb.png": ("Energy per limb",
                            "Mean Wh per pack spent by each limb, positive against negative packs (a pack "
                            "that does not record a limb counts 0 Wh); largest overall first."),
    "energy_per_skill.png": ("Energy per skill",
                             "Mean Wh per pack spent in each skill (names as recorded in the packs' energy "
                             "breakdown), positive against negative packs; largest overall first."),
    "pack_counts.png": ("Packs per engine and source", "Where the packs come from, split by bucket."),
}
ABSENT = {
    "value_matrix.png": "No pack of this task has a skill trace, so there is no value matrix.",
    "energy_per_limb.png": "No pack of this task records energy per limb.",
    "energy_per_skill.png": "No pack of this task records energy per skill.",
}

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:2rem auto;
max-width:1100px;padding:0 1rem;color:#1a1a1a;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}.meta{color:#555;margin-top:0}
table{border-collapse:collapse;margin:1rem 0 2rem}th,td{padding:.3rem .8rem;border-bottom:1px solid #ddd;
text-align:left;vertical-align:top}th{font-weight:600;color:#333;white-space:nowrap}
td.num{font-variant-numeric:tabular-nums}
figure{margin:0 0 2.5rem}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#444;margin-top:.4rem}figcaption b{color:#1a1a1a}.absent{color:#666;font-style:italic}
"""

# Statistics rows in reading order, with their labels (docs/repository.md §9 keys).
STAT_ROWS = [
    ("total", "packs"), ("positive", "positive (ΔJ ≥ 0)"), ("negative", "negative (ΔJ < 0)"),
    ("positive_ratio", "positive ratio"), ("delta_j_mean", "ΔJ mean"), ("delta_j_std", "ΔJ std"),
    ("delta_j_min", "ΔJ min"), ("delta_j_max", "ΔJ max"), ("trust_mean", "trust mean"),
    ("trust_std", "trust std"), ("unique_skills", "skills used (ids)"), ("engine_types", "engine types"),
    ("source_types", "source types"), ("with_sima", "with SIMA annotation"),
    ("with_counterfactual", "negative with counterfactual plan"),
]


def _cell(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return html.escape(str(v))
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.4g}" if math.isfinite(v) else html.escape(str(v))
    if isinstance(v, dict):
        return ", ".join(f"{html.escape(str(k))}: {_cell(n)}" for k, n in v.items())
    if isinstance(v, (list, tuple)):
        return ", ".join(_cell(x) for x in v)
    return html.escape(str(v))


def index_html(data: ReportData, images: dict[str, bytes]) -> str:
    """The page: statistics table and the plots, each PNG embedded as a data: URI
    (the file name stays as its title), so the page needs no other file."""
    stats = data.statistics
    rows = [(label, stats[key]) for key, label in STAT_ROWS if key in stats]
    rows += [(key.replace("_", " "), v) for key, v in stats.items() if key not in dict(STAT_ROWS)]
    table = "\n".join(f"<tr><th>{html.escape(label)}</th><td class=\"num\">{_cell(v)}</td></tr>" for label, v in rows)
    figures = []
    for name, (title, caption) in CAPTIONS.items():
        if name in images:
            uri = "data:image/png;base64," + base64.b64encode(images[name]).decode("ascii")
            figures.append(f"<figure><img src=\"{uri}\" alt=\"{html.escape(title)}\" "
                           f"title=\"{html.escape(name)}\">"
                           f"<figcaption><b>{html.escape(title)}.</b> {html.escape(caption)}</figcaption></figure>")
        elif name in ABSENT:
            figures.append(f"<p class=\"absent\">{html.escape(ABSENT[name])}</p>")
    store = data.store or "(data root)"
    title = f"DataPack report: {data.task}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<p class="meta">task <b>{html.escape(data.task)}</b> · store <b>{html.escape(store)}</b> ·
from {html.escape(data.source)} · generated {html.escape(data.generated_at)}</p>
<h2>Statistics</h2>
<table>
{table}
</table>
<h2>Plots</h2>
{chr(10).join(figures)}
</body>
</html>
"""


# --------------------------------------------------------------------------- command line

REPORT_EXITS = "0 written; 1 no packs, a missing store or task, matplotlib missing, a folder that cannot be written"


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    add_location_arguments(p)
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the PNGs and index.html (created)")
    p.add_argument("--quiet", action="store_true", help="print only errors")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    return p


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    return run_guarded("report", _report, args, out, err)


def _report(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if not task_name_ok(args.task):
        raise UsageError(f"--task {args.task!r} is not a task name (1-128 of A-Z a-z 0-9 _ . -)")
    _matplotlib()  # before any reading: a missing extra is said at once
    repo = open_repo(args)  # refuses a missing folder, which the embedded repository would create
    try:
        store = args.store or (os.path.basename(os.path.normpath(args.datapack_dir)) if args.datapack_dir else "")
        data = collect(repo, args.task, store, location_label(args))
    finally:
        repo.close()
    bar = Progress(err, PLOT_COUNT, "plotting", not args.quiet and isatty(err))
    try:
        files = render(data, args.out, bar.update)
    except OSError as exc:
        raise ReportError(f"cannot write {args.out!r}: {exc}") from None
    finally:
        bar.close()
    summary = {"task": data.task, "store": data.store, "source": data.source, "packs": data.statistics["total"],
               "out": args.out, "files": files}
    if args.json:
        print(json.dumps(summary), file=out)
    elif not args.quiet:
        print(f"report of {summary['packs']:,} packs of {data.task} ({len(files) - 1} plots): "
              f"{os.path.join(args.out, 'index.html')}", file=out)
    return EXIT_OK


DESCRIPTION = ("PNG plots and a self-contained index.html (the PNGs embedded) of one task; needs "
               "datapack[report]")


def build_parser(prog: str = "datapack report") -> argparse.ArgumentParser:
    return add_arguments(Parser(prog=prog, description=DESCRIPTION, exits=REPORT_EXITS))


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    return run(build_parser().parse_args(argv), out, err)


def register(sub) -> argparse.ArgumentParser:
    p = add_verb_parser(sub, "report", "PNG plots and a self-contained index.html of one task", DESCRIPTION,
                        exits=REPORT_EXITS)
    add_arguments(p)
    p.set_defaults(func=run)
    return p
