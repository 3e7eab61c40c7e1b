"""The options the verbs share, how they open a store, and how a verb runs.

Every verb that reads a store names it the same way (common.STORE_OPTIONS_HELP): a local folder
(`--datapack-dir data/datapacks/phase_c`, or `--data-dir data/datapacks --store phase_c` as `serve`
names its data root) opened in-process, or a store of a running server (`--target localhost:50051
--store phase_c`); both give the same results. query, stats, export, import and report take all
of them (add_location_arguments); validate and verify, which read files, the local ones. The
filter options are the arguments of query() (docs/repository.md §7), shared by query, stats and
export. Exit statuses: common.py.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any, TextIO

from datapack_client.errors import DataPackError
from datapack_client.records import schema
from datapack_client.records.query import SORT_FIELDS
from datapack_client.records.validation_rules import store_ok
from datapack_server.cli.common import EXIT_FAILURE, EXIT_USAGE, add_verb_parser, error_label

VerbBody = Callable[[argparse.Namespace, TextIO, TextIO], int]


class UsageError(Exception):
    """A usage error of a data verb: the command line is wrong (exit status 2)."""


class CommandFailure(Exception):
    """A failure that is not the command line's fault: a store folder that does not exist,
    an input that cannot be read (exit status 1)."""


def _floats(text: str) -> list[float]:
    """An argparse type: numbers separated by commas."""
    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None


def positive_int(text: str) -> int:
    """An argparse type: an integer > 0."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n <= 0:
        raise argparse.ArgumentTypeError(f"expected an integer > 0, got {text!r}")
    return n


def _condition(text: str) -> tuple[str, Any]:
    """KEY=VALUE with VALUE as JSON (0.3, true, [0,0,0], "x"), or else the plain string."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def add_location_arguments(p: argparse.ArgumentParser, task: str = "required") -> None:
    """The options naming a store (a folder or a server); task: "required", "optional" or "none"."""
    g = p.add_argument_group("store: a local folder or a running server")
    g.add_argument("--datapack-dir", metavar="DIR", help="the store folder, e.g. data/datapacks/phase_c")
    g.add_argument("--data-dir", metavar="ROOT", help="a data root (as `serve --data-dir`); the store is --store")
    g.add_argument("--target", metavar="HOST:PORT", help="a running server; the store is --store")
    g.add_argument("--store", metavar="NAME", default=None,
                   help="store path below the data root or on the server (default: the root itself)")
    g.add_argument("--token-file", metavar="PATH", help="with --target: file holding the bearer token")
    g.add_argument("--tls-ca", metavar="PEM", help="with --target: speak TLS, trusting this CA certificate")
    if task != "none":
        p.add_argument("--task", required=task == "required", metavar="T", help="task name, e.g. drawer_vase")


def add_filter_arguments(p: argparse.ArgumentParser, select: bool = True, default_all: bool = False) -> None:
    """The filters of query() (docs/repository.md §7); select=True adds sorting, limit and the view."""
    f = p.add_argument_group("filters (the arguments of query())")
    f.add_argument("--bucket", choices=schema.BUCKETS)
    f.add_argument("--engine-type", choices=schema.ENGINE_TYPES)
    f.add_argument("--skill-id", type=int, metavar="ID", help="packs whose skill trace uses this skill")
    f.add_argument("--min-trust", type=float, default=0.0, metavar="X", help="trust_score >= X (default 0)")
    f.add_argument("--min-delta-j", type=float, metavar="X")
    f.add_argument("--max-delta-j", type=float, metavar="X")
    f.add_argument("--min-mvd-score", type=float, metavar="X")
    f.add_argument("--source-type", choices=schema.SOURCE_TYPES)
    f.add_argument("--objective-vector", type=_floats, metavar="A,B,C[,D]",
                   help="packs whose objective vector has cosine similarity >= the threshold with this one")
    f.add_argument("--objective-similarity-threshold", type=float, default=0.9, metavar="X")
    f.add_argument("--condition", type=_condition, action="append", metavar="KEY=VALUE",
                   help="condition filter (repeatable); VALUE is JSON: 0.3, true, [0,0,0], or a plain string; "
                        "e.g. engine_type=isaac, drawer_friction_min=0.3, tags.lighting=dim")
    f.add_argument("--include-sima", action="store_true", help="only packs with a SIMA annotation")
    f.add_argument("--include-counterfactual", action="store_true", help="only packs with a counterfactual plan")
    f.add_argument("--wm-model-id", metavar="ID")
    f.add_argument("--wm-role", choices=schema.WM_ROLES)
    f.add_argument("--schema-version", choices=schema.SCHEMA_VERSIONS)
    for label in ("occluded", "dynamic", "static"):
        g = f.add_mutually_exclusive_group()
        g.add_argument(f"--is-{label}", dest=f"is_{label}", action="store_const", const=True, default=None,
                       help=f"portable slice: slice_labels_v1.is_{label} is true")
        g.add_argument(f"--not-{label}", dest=f"is_{label}", action="store_const", const=False,
                       help=f"portable slice: slice_labels_v1.is_{label} is false")
    f.add_argument("--occlusion-bucket", choices=schema.SLICE_BUCKETS)
    f.add_argument("--motion-bucket", choices=schema.SLICE_BUCKETS)
    if not select:
        return
    s = p.add_argument_group("order and size")
    s.add_argument("--sort-by", choices=SORT_FIELDS, help="default: append order")
    s.add_argument("--ascending", action="store_true", help="sort ascending (default descending)")
    n = s.add_mutually_exclusive_group()
    n.add_argument("--limit", type=positive_int, metavar="N",
                   help="at most N packs (default: all)" if default_all else "at most N packs (default 100)")
    n.add_argument("--all", action="store_true", help="every matching pack" + (" (the default)" if default_all else ""))
    s.add_argument("--include-artifacts", action="store_true",
                   help="also read the heavy portable artifacts (scene_tracks_v1, rgb_features_v1, repr_tokens)")


_FILTER_ARGS = ("bucket", "engine_type", "skill_id", "min_trust", "min_delta_j", "max_delta_j", "min_mvd_score",
                "source_type", "objective_vector", "objective_similarity_threshold", "include_sima",
                "include_counterfactual", "wm_model_id", "wm_role", "schema_version", "is_occluded", "is_dynamic",
                "is_static", "occlusion_bucket", "motion_bucket")


def filters_of(args: argparse.Namespace) -> dict:
    """The query()/get_statistics() keyword arguments the options give (defaults left out)."""
    defaults = {"min_trust": 0.0, "objective_similarity_threshold": 0.9, "include_sima": False,
                "include_counterfactual": False}
    out = {k: getattr(args, k) for k in _FILTER_ARGS
           if getattr(args, k) is not None and getattr(args, k) != defaults.get(k, None)}
    if args.condition:
        out["condition_filters"] = dict(args.condition)
    return out


def selection_of(args: argparse.Namespace, default_all: bool = False) -> dict:
    """filters_of plus sort, limit and view."""
    out = filters_of(args)
    if args.sort_by is not None:
        out["sort_by"] = args.sort_by
        out["sort_descending"] = not args.ascending
    if args.all or (default_all and args.limit is None):
        out["limit"] = None
    elif args.limit is not None:
        out["limit"] = args.limit
    if args.include_artifacts:
        out["include_artifacts"] = True
    return out


def check_location(args: argparse.Namespace) -> None:
    """Usage errors of the location options (exit 2): contradictory or malformed ones."""
    local = [o for o in ("datapack_dir", "data_dir") if getattr(args, o)]
    if args.target and local:
        raise UsageError("give either --target or a local folder (--datapack-dir / --data-dir), not both")
    if len(local) > 1:
        raise UsageError("give either --datapack-dir or --data-dir [--store], not both")
    if args.store is not None and not store_ok(args.store):
        raise UsageError(f"--store {args.store!r} is not a store path ('/'-separated names of [A-Za-z0-9_.-])")
    if (args.token_file or args.tls_ca) and not args.target:
        raise UsageError("--token-file and --tls-ca go with --target")
    if args.datapack_dir and args.store is not None:
        raise UsageError("--store names a store below --data-dir or on --target; --datapack-dir is the store")
    if not (args.target or local):
        raise UsageError("name the store: --datapack-dir DIR, --data-dir ROOT [--store S] or --target HOST:PORT "
                         "[--store S]")


def store_folder(args: argparse.Namespace, create: bool = False) -> str:
    """The local store folder the location options name (after check_location, without
    --target). A missing folder is NOT_FOUND (exit 1), the service's rule
    (service/stores.py): DATA_DIR_NOT_FOUND for --datapack-dir or --data-dir,
    STORE_NOT_FOUND naming the closest stores for --store; create=True
    (import) makes a missing store folder."""
    from datapack_server.service.stores import missing_store, require_data_dir
    if args.datapack_dir:
        path = args.datapack_dir
        require_data_dir(path, create=create, field="datapack_dir", label="--datapack-dir",
                         hint="reading creates nothing; `datapack import` creates a store folder")
        return path
    require_data_dir(args.data_dir, create=False, field="data_dir", label="--data-dir", hint="reading creates nothing")
    path = os.path.join(args.data_dir, *args.store.split("/")) if args.store else args.data_dir
    if not create and not os.path.isdir(path):
        raise missing_store(args.data_dir, args.store)
    return path


def location_label(args: argparse.Namespace) -> str:
    """Where the options point, for a summary: the server address or the store folder."""
    return args.target if args.target else os.path.abspath(store_folder(args))


def open_repo(args: argparse.Namespace, create: bool = False):
    """The repository the location options name: a DataPackRepo on a local
    folder, or a client of --target. create=True (import) makes a missing folder."""
    check_location(args)
    if args.target:
        from datapack_client.client import connect
        return connect(args.target, store=args.store or "", token_file=args.token_file,
                       root_certificates=args.tls_ca)
    path = store_folder(args, create)
    from datapack_server.repo import DataPackRepo
    return DataPackRepo(path, create=create)


def exit_status_of(exc: DataPackError) -> int:
    """A refused call's exit status: arguments the service refuses are usage (2), anything
    else (not found, unavailable, a failed write) a failure (1)."""
    return EXIT_USAGE if exc.code == "INVALID_ARGUMENT" else EXIT_FAILURE


def run_guarded(verb: str, body: VerbBody, args: argparse.Namespace, out: TextIO | None, err: TextIO | None) -> int:
    """Run a verb's body; a usage error, a refused call, a failure or an unreadable file is
    said on err in one line (and its violations) with the exit status of the convention."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        return body(args, out, err)
    except UsageError as exc:
        print(f"datapack {verb}: error: {exc}", file=err)
        return EXIT_USAGE
    except CommandFailure as exc:
        print(f"datapack {verb}: error: {exc}", file=err)
    except DataPackError as exc:
        print(f"datapack {verb}: error: {error_label(exc)}: {exc.message}", file=err)
        for v in exc.violations[:10]:
            if v.message != exc.message:  # one violation repeating the message: said once
                print(f"  {v.field}: {v.reason}: {v.message}", file=err)
        return exit_status_of(exc)
    except ImportError as exc:  # the optional export extra
        print(f"datapack {verb}: error: {exc}", file=err)
    except BrokenPipeError:
        raise  # the reader of stdout left: main() ends quietly
    except OSError as exc:
        print(f"datapack {verb}: error: {exc}", file=err)
    return EXIT_FAILURE


def add_output_arguments(p: argparse.ArgumentParser, quiet: bool = True) -> None:
    """--json, and --quiet unless quiet=False."""
    p.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    if quiet:
        p.add_argument("--quiet", action="store_true", help="print only errors (and the requested output)")


def add_verb(sub, name: str, help_text: str, description: str, body: VerbBody, exits: str = ""
             ) -> argparse.ArgumentParser:
    """A subparser for a data verb whose run is `body` guarded by run_guarded; `exits` says
    what 0 and 1 mean for it (the help adds the shared convention)."""
    p = add_verb_parser(sub, name, help_text, description, exits)

    def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
        return run_guarded(name, body, args, out, err)

    p.set_defaults(func=run)
    return p
