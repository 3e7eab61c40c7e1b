"""`datapack stats`: get_statistics of a task or of the slice the filters select, optionally split.

    datapack stats LOCATION --task T [filters] [--by skill|engine|source] [--json]
"""
from __future__ import annotations

import argparse
from typing import Any, TextIO

from datapack_server.cli.common import EXIT_OK
from datapack_server.cli.options import (
    UsageError,
    add_filter_arguments,
    add_location_arguments,
    add_verb,
    filters_of,
    open_repo,
)
from datapack_server.cli.tables import cell, format_table, json_line, terminal_width

STAT_COLUMNS = ("total", "positive", "negative", "positive_ratio", "delta_j_mean", "delta_j_std", "delta_j_min",
                "delta_j_max", "trust_mean", "trust_std")
BY = {"skill": ("skill_id", "unique_skills"), "engine": ("engine_type", "engine_types"),
      "source": ("source_type", "source_types")}


def _stats(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    filters = filters_of(args)
    if args.by is not None and BY[args.by][0] in filters:
        option = "--" + BY[args.by][0].replace("_", "-")
        raise UsageError(f"--by {args.by} splits by {BY[args.by][0]}: leave out the {option} filter")
    repo = open_repo(args)
    try:
        overall = repo.get_statistics(args.task, **filters)
        if args.by is None:
            _print_statistics(out, overall, args.json)
            return EXIT_OK
        key, listing = BY[args.by]
        values = overall.get(listing) or ([] if args.by == "skill" else {})
        rows = []
        for v in (values if args.by == "skill" else list(values)):
            row: dict[str, Any] = {key: v}
            if args.by == "skill":
                from datapack_client.records.skills import skill_name
                row["skill_name"] = skill_name(args.task, v)
            row.update(repo.get_statistics(args.task, **filters, **{key: v}))
            rows.append(row)
    finally:
        repo.close()
    if args.json:
        for row in rows:
            out.write(json_line(row) + "\n")
        return EXIT_OK
    lead = [key] + (["skill_name"] if args.by == "skill" else [])
    headers = lead + list(STAT_COLUMNS)
    table = [[cell(r.get(c)) for c in headers] for r in rows]
    numbers, names = range(len(lead), len(headers)), range(len(lead))
    for text in format_table(headers, table, terminal_width(out), numbers, names):
        print(text, file=out)
    print(f"all: {overall['total']} pack(s); a pack counts once for each skill it uses" if args.by == "skill"
          else f"all: {overall['total']} pack(s)", file=out)
    return EXIT_OK


def _print_statistics(out: TextIO, stats: dict, as_json: bool) -> None:
    if as_json:
        out.write(json_line(stats) + "\n")
        return
    width = max(len(k) for k in stats)
    for k, v in stats.items():
        if isinstance(v, dict):
            text = ", ".join(f"{name} {n}" for name, n in v.items()) or "-"
        elif isinstance(v, list):
            text = ",".join(str(x) for x in v) or "-"
        else:
            text = cell(v)
        print(f"{k:<{width}}  {text}", file=out)


def register(sub) -> None:
    """Register `stats` on the `datapack` subparsers."""
    s = add_verb(sub, "stats", "statistics of a task or a slice (get_statistics)",
                 "get_statistics (docs/repository.md §9) over the task or the slice the filters select; --by "
                 "splits it per skill (packs whose trace uses it), engine type or source type.", _stats,
                 exits="0 printed; 1 the store or task does not exist or cannot be read")
    add_location_arguments(s)
    add_filter_arguments(s, select=False)
    s.add_argument("--by", choices=tuple(BY), help="one row per skill, engine type or source type")
    s.add_argument("--json", action="store_true", help="JSON: the statistics object, or one line per row with --by")
