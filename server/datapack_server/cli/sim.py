"""`datapack sim`: the headless PyBullet drawer + vase simulator streaming into the service.

    datapack sim --episodes N --workers W --target HOST:PORT [--store S] [--task drawer_vase]
                 [--seed S] [--raw-dir DIR] [--narrate] [--bench] [--quiet] [--json]
    datapack sim --episodes N [--datapack-dir DIR | --data-dir ROOT --store S] ...   # no server: embedded

The store is named as for every verb (common.STORE_OPTIONS_HELP); without --target the default
is data/datapacks/default (`--output-dir` is the older name of --datapack-dir).

Exit status (common.py): 0 ok; 1 pybullet missing, a worker failed, the store could not be
reached or packs were rejected; 2 usage. Importing this module does not import pybullet,
so `datapack --help` works without the `sim` extra.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, TextIO

from datapack_client.records.validation_rules import store_ok, task_name_ok
from datapack_server.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    Parser,
    Progress,
    add_verb_parser,
    int_at_least,
    isatty,
)

DATA_ROOT, DEFAULT_STORE = "data/datapacks", "default"  # as `datapack build`: served under the store's name
SIM_EXITS = "0 ok; 1 pybullet missing, a worker failed, the store unreachable or packs rejected"


_positive = int_at_least(1)
_count = int_at_least(0)


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--episodes", type=_count, default=10, metavar="N", help="episodes to simulate (default 10)")
    p.add_argument("--workers", type=_positive, default=1, metavar="W",
                   help="simulator processes, each streaming over its own connection (default 1)")
    p.add_argument("--target", default=None, metavar="HOST:PORT", help="stream into this server")
    p.add_argument("--store", default=None, metavar="NAME",
                   help=f"the store on --target or below --data-dir (default {DEFAULT_STORE})")
    p.add_argument("--data-dir", default=None, metavar="ROOT",
                   help=f"without --target: the data root of --store (default {DATA_ROOT})")
    p.add_argument("--datapack-dir", "--output-dir", dest="output_dir", default=None, metavar="DIR",
                   help=f"without --target: append to this embedded store folder "
                        f"(default {DATA_ROOT}/{DEFAULT_STORE})")
    p.add_argument("--task", default="drawer_vase", metavar="T", help="task name (default drawer_vase)")
    p.add_argument("--seed", type=_count, default=0, metavar="S",
                   help="seed: episode k's condition and policy parameters depend on (seed, k) only")
    p.add_argument("--raw-dir", default=None, metavar="DIR",
                   help="write each episode's RGB frames and pose tracks here (portable layout) and set "
                        "raw_data_path, so `datapack export-portable` embeds their features")
    p.add_argument("--narrate", action="store_true",
                   help="add a SIMA annotation narrating the executed skills")
    p.add_argument("--frame-every", type=_positive, default=24, metavar="K",
                   help="one RGB frame and track sample every K physics steps (240 Hz; default 24: 10 fps)")
    p.add_argument("--image-size", type=_positive, default=32, metavar="PX", help="frame size (default 32)")
    p.add_argument("--token-file", default=None, metavar="PATH", help="bearer token file (with --target)")
    p.add_argument("--bench", action="store_true",
                   help="print episodes/s end to end (process start included; also with --quiet)")
    p.add_argument("--quiet", action="store_true", help="print only errors (no summary, no progress bar)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    return p


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    problem = _usage_error(args)
    if problem is not None:
        print(f"datapack sim: error: {problem}", file=err)
        return EXIT_USAGE
    try:
        from datapack_server.sim._quiet import import_pybullet
        import_pybullet()
    except ImportError:
        print("datapack sim: error: needs pybullet (pip install 'datapack[sim]')", file=err)
        return EXIT_FAILURE
    from datapack_server.sim.runner import SimConfig, run_simulation

    raw_dir = os.path.abspath(args.raw_dir) if args.raw_dir else None
    config = SimConfig(episodes=args.episodes, workers=args.workers, target=args.target, store=args.store,
                       output_dir=args.output_dir, task=args.task, seed=args.seed, raw_dir=raw_dir,
                       narrate=args.narrate, frame_every=args.frame_every, image_size=args.image_size,
                       token_file=args.token_file)
    bar = Progress(err, args.episodes, "simulating", not args.quiet and not args.json and isatty(err))
    try:
        report = run_simulation(config, progress=lambda done, _total: bar.update(done))
    finally:
        bar.close()
    for line in report.errors:
        print(f"datapack sim: {line}", file=err)
    if args.json:
        print(json.dumps(report.to_dict()), file=out)
    else:
        if not args.quiet:
            _print_summary(out, report, args)
        if args.bench:
            r = report
            print(f"bench: {r.episodes} episodes, {r.workers} worker(s), {r.wall_seconds:.2f} s end to end, "
                  f"{r.episodes_per_second:.2f} episodes/s, {r.sim_seconds / max(r.wall_seconds, 1e-9):.1f}x "
                  f"real time", file=out)
    return EXIT_FAILURE if report.errors else EXIT_OK


def _usage_error(args: argparse.Namespace) -> str | None:
    """What is wrong with the options, or None; sets args.store and args.output_dir."""
    if not task_name_ok(args.task):
        return f"--task {args.task!r} is not a valid task name"
    if args.target and (args.output_dir or args.data_dir):
        return "give either --target [--store NAME] or a local --datapack-dir / --data-dir, not both"
    if args.output_dir and (args.data_dir or args.store is not None):
        return "--datapack-dir is the store; --data-dir and --store name one another way"
    args.store = DEFAULT_STORE if args.store is None else args.store
    if not store_ok(args.store):
        return f"--store {args.store!r} is not a valid store path"
    if not args.target and not args.output_dir:
        root = args.data_dir or DATA_ROOT
        args.output_dir = os.path.join(root, *args.store.split("/")) if args.store else root
    return None


def _print_summary(out: TextIO, r, args) -> None:
    n = r.episodes
    pct = (lambda k: f"{100.0 * k / n:.1f}%") if n else (lambda k: "0.0%")
    where = f"{args.target} store {args.store or '(root)'}" if args.target else args.output_dir
    print(f"episodes: {n} ({r.workers} worker{'s' if r.workers != 1 else ''}) -> {where}", file=out)
    print(f"positive: {r.positive} ({pct(r.positive)})", file=out)
    print(f"negative: {r.negative} ({pct(r.negative)})", file=out)
    print(f"created: {r.created}  already_present: {r.already_present}", file=out)
    print("failures by reason:" + ("" if r.failures else " none"), file=out)
    for reason, k in sorted(r.failures.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {reason}: {k}", file=out)
    print(f"simulated: {r.sim_seconds:.1f} s in {r.wall_seconds:.1f} s wall", file=out)
    print(f"episodes/s: {r.episodes_per_second:.2f}", file=out)


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    parser = add_arguments(Parser(prog="datapack sim", description="headless PyBullet drawer + vase simulator",
                                  exits=SIM_EXITS))
    return run(parser.parse_args(argv), out, err)


def register(sub: Any) -> argparse.ArgumentParser:
    """Register `sim` on the `datapack` command's subparsers."""
    p = add_verb_parser(sub, "sim", "simulate drawer + vase episodes in PyBullet and stream them into a store",
                        "headless PyBullet drawer + vase simulator (README: Simulator)", exits=SIM_EXITS)
    add_arguments(p)
    p.set_defaults(func=run)
    return p


__all__ = ["add_arguments", "main", "register", "run"]
