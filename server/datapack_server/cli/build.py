"""`datapack build`: the builder script (docs/building.md §8).

    datapack build [--generate-synthetic N] [--seed S] [--data-dir DIR] [--task T] [--engine E]
                   [--baseline SPEC] [--verbose] [--quiet]
                   [--datapack-dir DIR | --store NAME | --target HOST:PORT --store NAME]

Builds one record per episode (the seeded synthetic generator of docs/building.md §9, or the
episode JSON files of `--data-dir`, §8.1: the builder script's name for its input folder) with
`build_datapack_meta_from_episode` and appends them to the embedded store `--datapack-dir`
(`--output-dir` is its older name; default data/datapacks/<--store>, the store `datapack serve`
serves under that name) in one atomic append_batch, or with `--target` to store `--store` of a
running server in chunks of TARGET_CHUNK packs (any number of packs). Exit status
(common.py, §8.4): 0 success; 1 an episode was rejected, a pack id conflicted, no complete
episode, or the store could not be written; 2 usage (an episode folder that does not exist or
holds no episode file included).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field, replace
from typing import Any, TextIO

from datapack_client.errors import AlreadyExistsError, DataPackError
from datapack_client.records.validation_rules import store_ok, task_name_ok
from datapack_server.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_USAGE,
    Parser,
    Progress,
    add_verb_parser,
    error_label,
    int_at_least,
    isatty,
)

ENGINES = ("pybullet", "isaac", "ue5")
DATA_ROOT = "data/datapacks"  # `datapack serve`'s default data root: a built store is served under its name
DEFAULT_STORE = "default"
_count = int_at_least(0)
_positive = int_at_least(1)


class UsageError(Exception):
    """A usage error of `datapack build` (exit status 2)."""


class BuildFailure(Exception):
    """Nothing to append: no complete episode (exit status 1)."""


def add_build_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--generate-synthetic", type=_positive, default=None, metavar="N",
                   help="generate N (>= 1) seeded synthetic episodes instead of reading --data-dir")
    p.add_argument("--seed", type=_count, default=0, metavar="S",
                   help="seed of the synthetic generator (default 0; ignored when reading files)")
    p.add_argument("--data-dir", default="data/episodes", metavar="DIR",
                   help="folder of episode JSON files (*episode*.json; other files are skipped and named; "
                        "default data/episodes)")
    p.add_argument("--datapack-dir", "--output-dir", dest="output_dir", default=None, metavar="DIR",
                   help=f"store folder to append to (default {DATA_ROOT}/<--store>)")
    p.add_argument("--task", default="drawer_vase", metavar="T",
                   help="task_name and env_type of every pack (default drawer_vase)")
    p.add_argument("--engine", default="pybullet", choices=ENGINES, help="engine_type (default pybullet)")
    p.add_argument("--baseline", default=None, metavar="SPEC",
                   help="mpl=X,error=Y,ep=Z[,wage_parity=W] | synthetic_nominal | FILE.json[#name]; "
                        "default synthetic_nominal with --generate-synthetic, required otherwise")
    p.add_argument("--verbose", action="store_true", help="also print the first 5 packs")
    p.add_argument("--target", default=None, metavar="HOST:PORT",
                   help="append through a running server instead of a local folder")
    p.add_argument("--store", default=None, metavar="NAME",
                   help=f"the store: {DATA_ROOT}/NAME locally, NAME on --target (default {DEFAULT_STORE})")
    p.add_argument("--quiet", action="store_true", help="print only errors (no summary, no progress bar)")
    p.add_argument("--raw-dir", default=None, metavar="DIR",
                   help="with --generate-synthetic: also write a small raw episode per pack (RGB frames with "
                        "moving coloured objects, scene tracks, occlusion) under DIR and set raw_data_path, "
                        "so `datapack export-portable` works without a simulator")
    return p


DESCRIPTION = ("build datapacks from episode JSON files or the seeded synthetic generator "
               "(episode file format: docs/building.md §8.2)")


BUILD_EXITS = ("0 every pack appended or already present; 1 an episode rejected, a pack id conflict, no complete "
               "episode, or the store could not be written")


def build_parser() -> argparse.ArgumentParser:
    return add_build_arguments(Parser(prog="datapack build", description=DESCRIPTION, exits=BUILD_EXITS))


@dataclass
class BuildReport:
    episodes_read: int = 0
    packs_built: int = 0
    positive: int = 0
    negative: int = 0
    created: int = 0
    already_present: int = 0
    conflicts: int = 0
    skipped_incomplete: int = 0
    rejected_invalid: int = 0
    conflict_ids: list[str] = field(default_factory=list)
    statistics: dict = field(default_factory=dict)

    def exit_status(self) -> int:
        if self.rejected_invalid or self.conflicts:
            return EXIT_REJECTED
        return EXIT_OK


def _pct(k: int, n: int) -> str:
    return f"{100.0 * k / n:.1f}%" if n else "0.0%"


def _fmt(v: Any) -> str:
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    return repr(v) if isinstance(v, float) else str(v)


def _print_summary(out: TextIO, task: str, r: BuildReport) -> None:
    print(f"episodes read: {r.episodes_read}", file=out)
    print(f"packs built: {r.packs_built}", file=out)
    print(f"positive: {r.positive} ({_pct(r.positive, r.packs_built)})", file=out)
    print(f"negative: {r.negative} ({_pct(r.negative, r.packs_built)})", file=out)
    print(f"created: {r.created}", file=out)
    print(f"already_present: {r.already_present}", file=out)
    print(f"conflicts: {r.conflicts}", file=out)
    print(f"skipped_incomplete: {r.skipped_incomplete}", file=out)
    print(f"rejected_invalid: {r.rejected_invalid}", file=out)
    print(f"statistics ({task}):", file=out)
    for k, v in r.statistics.items():
        print(f"  {k}: {_fmt(v)}", file=out)


def _print_verbose(out: TextIO, packs: list) -> None:
    for p in packs[:5]:
        a = p.attribution
        print(f"  {p.pack_id} bucket={p.bucket} delta_J={a.delta_J!r} trust={a.trust_score!r} "
              f"skills={p.get_skill_ids()} tags={list(p.semantic_tags or [])}", file=out)


def _open_repo(args: argparse.Namespace):
    if args.target:
        from datapack_client.client import connect

        return connect(args.target, store=args.store)
    from datapack_server.repo import DataPackRepo

    return DataPackRepo(args.output_dir, create=True)  # build writes its output store


def _append(repo, packs: list, report: BuildReport, err: TextIO) -> None:
    """One append_batch; on PACK_ID_CONFLICT drop the conflicting records and retry the rest (again
    while conflicts are reported: a batch over the message limit is sent in parts, and a part's
    error lists that part's conflicts only)."""
    while True:
        try:
            results = repo.append_batch(packs)
            break
        except AlreadyExistsError as exc:
            if exc.reason != "PACK_ID_CONFLICT":
                raise
            bad = {v.index for v in exc.violations if 0 <= v.index < len(packs)}
            if not bad:  # no details: nothing to remove, the retry could only fail the same way
                raise
            for j in sorted(bad):
                report.conflicts += 1
                report.conflict_ids.append(packs[j].pack_id)
                print(f"datapack build: conflict: pack_id {packs[j].pack_id!r} is already used by a different "
                      f"record; not appended", file=err)
            packs = [p for j, p in enumerate(packs) if j not in bad]
    for res in results:
        if res.status == "created":
            report.created += 1
        elif res.status == "already_present":
            report.already_present += 1


# Packs per append_batch with --target: each chunk is one message (atomic), so a conflict's retry
# re-sends only its chunk and the summary's counts stay exact; the client holds one chunk's messages
# at a time; a progress bar can follow. 20,000 synthetic packs were no slower in chunks of 2,000
# than in one call (which append_batch sends as two parts of up to 64 MiB).
TARGET_CHUNK = 2_000


def _append_all(args: argparse.Namespace, repo, packs: list, report: BuildReport, err: TextIO) -> None:
    """Every pack: one atomic append_batch into the local store; with --target in chunks."""
    if not args.target:
        _append(repo, packs, report, err)
        return
    progress = Progress(err, len(packs), "appending", not args.quiet and isatty(err))
    try:
        for start in range(0, len(packs), TARGET_CHUNK):
            try:
                _append(repo, packs[start:start + TARGET_CHUNK], report, err)
            except DataPackError as exc:
                raise _chunk_error(exc, start, len(packs)) from None
            progress.update(min(start + TARGET_CHUNK, len(packs)))
    finally:
        progress.close()


def _chunk_error(exc: DataPackError, start: int, total: int) -> DataPackError:
    """A chunk's error with its violations indexed among all packs, saying what is stored."""
    if not start:
        return exc
    message = (f"{exc.message} (the {start} packs before it, of {total}, are stored; running the same "
               f"command again appends the rest, the stored ones counting as already_present)")
    return type(exc)(message, exc.reason, [replace(v, index=v.index + start) for v in exc.violations])


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run `datapack build` for parsed arguments; returns the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        return _run(args, out, err)
    except UsageError as exc:
        print(f"datapack build: error: {exc}", file=err)
        return EXIT_USAGE
    except BuildFailure as exc:
        print(f"datapack build: error: {exc}", file=err)
        return EXIT_FAILURE


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    baseline = _check_arguments(args)
    _check_store(args, err)
    report = BuildReport()
    episodes = _read_episodes(args, report, err)
    packs = _build_packs(args, episodes, baseline, report, err)
    if args.raw_dir is not None:
        _write_raw_episodes(args, packs)
    report.packs_built = len(packs)
    report.positive = sum(1 for p in packs if p.bucket == "positive")
    report.negative = sum(1 for p in packs if p.bucket == "negative")
    if not packs and not report.rejected_invalid:
        raise BuildFailure(f"no complete episodes among {report.episodes_read} read")
    if not _store_packs(args, packs, report, err):
        return EXIT_FAILURE
    if not args.quiet:
        if args.verbose:
            print("first packs:", file=out)
            _print_verbose(out, packs)
        _print_summary(out, args.task, report)
    return report.exit_status()


def _check_arguments(args: argparse.Namespace):
    """Usage errors of the options; returns the Baseline that --baseline names."""
    from datapack_server.synthetic.episodes import BaselineSpecError, resolve_baseline

    if not task_name_ok(args.task):
        raise UsageError(f"--task {args.task!r} must be 1-128 characters of [A-Za-z0-9_.-] without '..'")
    if args.engine not in ENGINES:
        raise UsageError(f"--engine must be one of {', '.join(ENGINES)}")
    synthetic = args.generate_synthetic is not None
    spec = args.baseline if args.baseline is not None else ("synthetic_nominal" if synthetic else None)
    if spec is None:
        raise UsageError("--baseline is required when reading episode files of --data-dir "
                         "(mpl=X,error=Y,ep=Z[,wage_parity=W], a built-in name, or FILE.json[#name]); "
                         "or give --generate-synthetic N")
    try:
        return resolve_baseline(spec)
    except BaselineSpecError as exc:
        raise UsageError(str(exc)) from None


def _check_store(args: argparse.Namespace, err: TextIO) -> None:
    """Usage errors of the store options; sets args.store and args.output_dir (the local
    folder, default DATA_ROOT/<store>), and says a default destination on err."""
    if args.target and args.output_dir is not None:
        raise UsageError("give either --target [--store NAME] or a local --datapack-dir, not both")
    if args.output_dir is not None and args.store is not None:
        raise UsageError(f"--store names a store below {DATA_ROOT} or on --target; --datapack-dir is the store")
    if args.store is None and (args.target or args.output_dir is None):
        args.store = DEFAULT_STORE
        if not args.quiet:  # a default destination is said, so nobody has to look for it
            where = f"store {DEFAULT_STORE!r} of {args.target}" if args.target else \
                f"{os.path.join(DATA_ROOT, DEFAULT_STORE)} (store {DEFAULT_STORE!r} of `datapack serve`)"
            print(f"datapack build: appending to {where}; --store NAME or --datapack-dir DIR to choose",
                  file=err)
    if args.store is not None and not store_ok(args.store):
        raise UsageError(f"--store {args.store!r} is not a valid store path")
    if args.output_dir is None and not args.target:
        args.output_dir = os.path.join(DATA_ROOT, *args.store.split("/")) if args.store else DATA_ROOT


def _say_skipped_files(data_dir: str, read: list[str], err: TextIO) -> None:
    """Name the files of the folder that were not read: only *episode*.json files are
    episode files (docs/building.md §8.1), and a file left out must not go unnoticed."""
    read_names = {os.path.basename(p) for p in read}
    skipped = sorted(n for n in os.listdir(data_dir)
                     if n not in read_names and os.path.isfile(os.path.join(data_dir, n)))
    if skipped:
        shown = ", ".join(skipped[:10]) + (f" and {len(skipped) - 10} more" if len(skipped) > 10 else "")
        print(f"datapack build: skipped {len(skipped)} file(s) of {data_dir} not named *episode*.json: {shown}",
              file=err)


def _read_episodes(args: argparse.Namespace, report: BuildReport, err: TextIO) -> list[Any]:
    """The synthetic episodes, or those of the --data-dir files (unreadable files are skipped and said)."""
    from datapack_server.synthetic.episodes import generate_synthetic_episodes, load_episode_files

    if args.generate_synthetic is not None:
        episodes: list[Any] = generate_synthetic_episodes(args.generate_synthetic, seed=args.seed)
    else:
        try:
            loaded = load_episode_files(args.data_dir)
        except OSError as exc:
            raise UsageError(f"--data-dir: {exc}") from None
        _say_skipped_files(args.data_dir, loaded.files, err)
        for path, why in loaded.unreadable:
            print(f"datapack build: skipping {path}: not a JSON file ({why})", file=err)
        report.skipped_incomplete += len(loaded.unreadable)
        episodes = loaded.episodes
    report.episodes_read = len(episodes)
    if not episodes:
        raise UsageError(f"no episodes in {args.data_dir} (files named *episode*.json)")
    return episodes


def _build_packs(args: argparse.Namespace, episodes: list[Any], baseline, report: BuildReport,
                 err: TextIO) -> list:
    """One pack per complete episode; incomplete ones are counted, rejected ones counted and said."""
    from datapack_server.synthetic.episodes import IncompleteEpisodeError, build_pack, episode_to_builder_args

    progress = Progress(err, len(episodes), "building", not args.quiet and isatty(err))
    packs = []
    for i, e in enumerate(episodes):
        try:
            pack = build_pack(episode_to_builder_args(e, i, args.task, args.engine), baseline)
        except IncompleteEpisodeError:
            report.skipped_incomplete += 1
        except DataPackError as exc:
            report.rejected_invalid += 1
            print(f"datapack build: episode {i} rejected: {exc.reason}: {exc.message}", file=err)
        except (TypeError, ValueError) as exc:
            report.rejected_invalid += 1
            print(f"datapack build: episode {i} rejected: {exc}", file=err)
        else:
            packs.append(pack)
        progress.update(i + 1)
    progress.close()
    return packs


def _store_packs(args: argparse.Namespace, packs: list, report: BuildReport, err: TextIO) -> bool:
    """Append the packs and read the task's statistics; False (said on err) when the store failed."""
    try:
        repo = _open_repo(args)
    except DataPackError as exc:
        print(f"datapack build: cannot open the store ({error_label(exc)}): {exc.message}", file=err)
        return False
    try:
        _append_all(args, repo, packs, report, err)
        report.statistics = repo.get_statistics(args.task)
    except DataPackError as exc:
        print(f"datapack build: append failed ({error_label(exc)}): {exc.message}", file=err)
        for v in exc.violations[:20]:
            print(f"  [{v.index}] {v.pack_id}: {v.field}: {v.reason}: {v.message}", file=err)
        return False
    finally:
        repo.close()
    return True


def _write_raw_episodes(args: argparse.Namespace, packs: list) -> None:
    """Deterministic raw episodes (so a re-run builds identical packs): every
    third episode still, every fourth a single .npz instead of a folder."""
    from datapack_server.portable.synthetic_raw import write_raw_episode

    if args.generate_synthetic is None:
        raise UsageError("--raw-dir needs --generate-synthetic")
    os.makedirs(args.raw_dir, exist_ok=True)
    for i, pack in enumerate(packs):
        occlusion = pack.condition.occlusion_level
        path = write_raw_episode(args.raw_dir, pack.pack_id, seed=args.seed * 1_000_003 + i,
                                 occlusion_level=occlusion if type(occlusion) is float else 0.0,
                                 moving=i % 3 != 0, layout="npz" if i % 4 == 3 else "dir")
        pack.raw_data_path = os.path.abspath(path)


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run(args, out, err)


def register(sub: Any) -> argparse.ArgumentParser:
    """Register `build` on the `datapack` command's subparsers."""
    p = add_verb_parser(sub, "build", "build datapacks from episode files or the seeded synthetic generator",
                        DESCRIPTION, exits=BUILD_EXITS)
    add_build_arguments(p)
    p.set_defaults(func=run)
    return p


__all__ = ["BuildReport", "add_build_arguments", "build_parser", "main", "register", "run"]
