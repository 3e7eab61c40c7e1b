"""The data verbs of the `datapack` command: query, stats, validate, import, export.

    datapack query    (--datapack-dir DIR | --data-dir ROOT [--store S] | --target HOST:PORT [--store S])
                      --task T [filters] [--sort-by F [--ascending]] [--limit N | --all]
                      [--include-artifacts] [--json] [--fields a,b.c]
    datapack stats    LOCATION --task T [filters] [--by skill|engine|source] [--json]
    datapack validate (FILE ... | --datapack-dir DIR | --data-dir ROOT [--store S]) [--task T] [--json] [--verbose]
    datapack import   FILE ... LOCATION [--batch-size N] [--show-rejected N] [--json] [--quiet]
    datapack export   LOCATION --task T --format parquet|arrow --out PATH [filters] [--sort-by F] [--limit N]

A store is a local folder (`--datapack-dir data/datapacks/phase_c`, or `--data-dir data/datapacks
--store phase_c` as `serve` and `verify` name it) opened in-process, or a store of a running server
(`--target localhost:50051 --store phase_c`); both give the same results. The filter options are
the arguments of query() (repository.md §7), shared by query, stats and export.

Exit status, as the other verbs (build, export-portable, verify): 0 success; 1 usage error (bad
option, unknown store or file, unreachable server); 2 `import` rejected a record. Except
`validate`, which keeps repository.md §10's statuses: 0 no findings, 1 findings, 2 usage error.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, TextIO

from datapack_client.records import jsonio

from datapack_client.records import schema
from datapack_client.errors import DataPackError
from datapack_client.records.query import SORT_FIELDS
from datapack_client.records.validation_rules import store_ok

from datapack_server.cli.build import EXIT_OK, EXIT_REJECTED, EXIT_USAGE, _isatty, _Parser, _Progress

EXIT_FINDINGS = EXIT_REJECTED
# `validate` keeps the exit statuses repository.md §10 gives it (the other
# verbs follow building.md / portable.md: 1 usage error, 2 findings).
VALIDATE_FINDINGS, VALIDATE_USAGE = 1, 2


class UsageError(Exception):
    """A usage error of a data verb (exit status 1)."""


# ================================================================================ arguments

def _floats(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None


def _positive(text: str) -> int:
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
    """task: "required", "optional" or "none"."""
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
    """The filters of query() (repository.md §7); select=True adds sorting, limit and the view."""
    f = p.add_argument_group("filters (the arguments of query(), repository.md §7)")
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
    n.add_argument("--limit", type=_positive, metavar="N",
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


# ================================================================================ the store

def open_repo(args: argparse.Namespace, create: bool = False):
    """The repository the location options name: a DataPackRepo on a local
    folder, or a client of --target. create=True (import) makes a missing folder."""
    local = [o for o in ("datapack_dir", "data_dir") if getattr(args, o)]
    if args.target and local:
        raise UsageError("give either --target or a local folder (--datapack-dir / --data-dir), not both")
    if len(local) > 1:
        raise UsageError("give either --datapack-dir or --data-dir [--store], not both")
    if args.store is not None and not store_ok(args.store):
        raise UsageError(f"--store {args.store!r} is not a store path ('/'-separated names of [A-Za-z0-9_.-])")
    if (args.token_file or args.tls_ca) and not args.target:
        raise UsageError("--token-file and --tls-ca go with --target")
    if args.target:
        from datapack_client.client import connect
        return connect(args.target, store=args.store or "", token_file=args.token_file,
                       root_certificates=args.tls_ca)
    if args.datapack_dir:
        if args.store is not None:
            raise UsageError("--store names a store below --data-dir or on --target; --datapack-dir is the store")
        path = args.datapack_dir
    elif args.data_dir:
        if not os.path.isdir(args.data_dir):
            raise UsageError(f"no such data directory: {args.data_dir}")
        path = os.path.join(args.data_dir, *args.store.split("/")) if args.store else args.data_dir
    else:
        raise UsageError("name the store: --datapack-dir DIR, --data-dir ROOT [--store S] or --target HOST:PORT "
                         "[--store S]")
    if not create and not os.path.isdir(path):
        raise UsageError(f"no such store folder: {path}")
    from datapack_server.repo import DataPackRepo
    return DataPackRepo(path)


def _run_guarded(verb: str, body, args: argparse.Namespace, out: TextIO | None, err: TextIO | None,
                 usage_status: int = EXIT_USAGE) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        return body(args, out, err)
    except UsageError as exc:
        print(f"datapack {verb}: error: {exc}", file=err)
    except DataPackError as exc:
        print(f"datapack {verb}: error: {exc.code} {exc.reason}: {exc.message}", file=err)
        for v in exc.violations[:10]:
            print(f"  {v.field}: {v.reason}: {v.message}", file=err)
    except ImportError as exc:  # the optional export extra
        print(f"datapack {verb}: error: {exc}", file=err)
    except OSError as exc:
        print(f"datapack {verb}: error: {exc}", file=err)
    return usage_status


# ================================================================================ tables

def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if type(v) is float:
        return f"{v:.4f}" if abs(v) < 1e6 else f"{v:.4g}"
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"), ensure_ascii=False)
    text = str(v)
    # A stored string (an old line's id, a tag) must not break or restyle the table.
    return text if text.isprintable() else json.dumps(text)[1:-1]


def _clip(text: str, width: int) -> str:
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
            c = _clip(c, widths[i])
            parts.append(c.rjust(widths[i]) if i in right else c.ljust(widths[i]))
        return "  ".join(parts).rstrip()

    return [line(headers)] + [line(r) for r in rows]


def _terminal_width(stream: TextIO) -> int | None:
    return shutil.get_terminal_size().columns if _isatty(stream) else None


def _json_line(value: Any) -> str:
    return jsonio.dumps(value).decode()


# ================================================================================ query

QUERY_COLUMNS = ("pack_id", "bucket", "delta_J", "trust", "mvd", "engine", "source", "schema", "skills")


def _project(d: Any, path: str) -> Any:
    """The value at a dotted path (list positions as numbers: skill_trace.0.skill_id), None when absent."""
    for part in path.split("."):
        if type(d) is dict:
            d = d.get(part)
        elif type(d) is list and part.isdigit() and int(part) < len(d):
            d = d[int(part)]
        else:
            return None
    return d


def _summary_row(p) -> list[str]:
    a = p.attribution
    return [_cell(p.pack_id), _cell(p.bucket), _cell(a.delta_J), _cell(a.trust_score), _cell(a.mvd_score),
            _cell(p.condition.engine_type), _cell(a.source_type), _cell(p.schema_version), ",".join(str(s) for s in p.get_skill_ids())]


def _query(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    fields = [f.strip() for f in args.fields.split(",") if f.strip()] if args.fields else None
    repo = open_repo(args)
    try:
        packs = repo.query(args.task, **selection_of(args))
    finally:
        repo.close()
    if args.json:
        for p in packs:
            d = p.to_dict()
            out.write(_json_line({f: _project(d, f) for f in fields} if fields else d) + "\n")
        return EXIT_OK
    if fields:
        headers = fields
        rows = [[_cell(_project(d, f)) for f in fields] for d in (p.to_dict() for p in packs)]
        right: Iterable[int] = ()
    else:
        headers = list(QUERY_COLUMNS)
        rows = [_summary_row(p) for p in packs]
        right = (2, 3, 4)
    keep = [headers.index("pack_id")] if "pack_id" in headers else []
    for text in format_table(headers, rows, _terminal_width(out), right, keep):
        print(text, file=out)
    limited = "" if len(packs) < (args.limit or 100) or args.all else " (the limit; --all for every match)"
    if not args.quiet:
        print(f"{len(packs)} pack(s){limited}", file=err)
    return EXIT_OK


# ================================================================================ stats

STAT_COLUMNS = ("total", "positive", "negative", "positive_ratio", "delta_j_mean", "delta_j_std", "delta_j_min",
                "delta_j_max", "trust_mean", "trust_std")
BY = {"skill": ("skill_id", "unique_skills"), "engine": ("engine_type", "engine_types"),
      "source": ("source_type", "source_types")}


def _stats(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    filters = filters_of(args)
    if args.by is not None and BY[args.by][0] in filters:
        raise UsageError(f"--by {args.by} splits by {BY[args.by][0]}: leave out the --{BY[args.by][0].replace('_', '-')} filter")
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
            out.write(_json_line(row) + "\n")
        return EXIT_OK
    lead = [key] + (["skill_name"] if args.by == "skill" else [])
    headers = lead + list(STAT_COLUMNS)
    table = [[_cell(r.get(c)) for c in headers] for r in rows]
    for text in format_table(headers, table, _terminal_width(out), range(len(lead), len(headers)), range(len(lead))):
        print(text, file=out)
    print(f"all: {overall['total']} pack(s); a pack counts once for each skill it uses" if args.by == "skill"
          else f"all: {overall['total']} pack(s)", file=out)
    return EXIT_OK


def _print_statistics(out: TextIO, stats: dict, as_json: bool) -> None:
    if as_json:
        out.write(_json_line(stats) + "\n")
        return
    width = max(len(k) for k in stats)
    for k, v in stats.items():
        if isinstance(v, dict):
            text = ", ".join(f"{name} {n}" for name, n in v.items()) or "-"
        elif isinstance(v, list):
            text = ",".join(str(x) for x in v) or "-"
        else:
            text = _cell(v)
        print(f"{k:<{width}}  {text}", file=out)


# ================================================================================ validate

def _validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from datapack_server.service.file_validation import task_files, validate_file

    files = _validation_targets(args, task_files)
    total_lines = total_findings = 0
    for path in files:
        report = validate_file(path)
        total_lines += report.lines
        for f in report.findings:
            total_findings += 1
            if args.json:
                out.write(_json_line(f.as_dict()) + "\n")
                continue
            print(f"{f.file}:{f.line} {f.pack_id if f.pack_id is not None else '-'} {','.join(f.reasons)}", file=out)
            if args.verbose:
                for d in f.details:
                    print(f"    {d['field'] or '(line)'}: {d['reason']}: {d['message']}", file=out)
    if not args.json:
        print(f"datapack validate: {len(files)} file(s), {total_lines} line(s), {total_findings} finding(s)",
              file=out)
    return VALIDATE_FINDINGS if total_findings else EXIT_OK


def _validation_targets(args: argparse.Namespace, task_files) -> list[str]:
    if args.files:
        if args.datapack_dir or args.data_dir or args.task:
            raise UsageError("give either FILE arguments or a store (--datapack-dir / --data-dir [--store] [--task])")
        for path in args.files:
            if not os.path.isfile(path):
                raise UsageError(f"no such file: {path}")
        return list(args.files)
    if args.datapack_dir and args.data_dir:
        raise UsageError("give either --datapack-dir or --data-dir [--store], not both")
    if args.store is not None and not store_ok(args.store):
        raise UsageError(f"--store {args.store!r} is not a store path")
    if args.task is not None:
        from datapack_client.records.validation_rules import task_name_ok
        if not task_name_ok(args.task):
            raise UsageError(f"--task {args.task!r} is not a task name")
    if args.datapack_dir:
        if args.store is not None:
            raise UsageError("--store goes with --data-dir; --datapack-dir is the store")
        stores = [args.datapack_dir]
    elif args.data_dir:
        if not os.path.isdir(args.data_dir):
            raise UsageError(f"no such data directory: {args.data_dir}")
        stores = ([os.path.join(args.data_dir, *args.store.split("/")) if args.store else args.data_dir]
                  if args.store is not None else _store_folders(args.data_dir))
    else:
        raise UsageError("name what to validate: FILE ..., --datapack-dir DIR or --data-dir ROOT [--store S]")
    files = []
    for folder in stores:
        if not os.path.isdir(folder):
            raise UsageError(f"no such store folder: {folder}")
        files.extend(f for f in task_files(folder, args.task) if os.path.isfile(f))
    if args.task is not None and not files:
        raise UsageError(f"task {args.task!r} has no file in {', '.join(stores) or args.data_dir}")
    return files


def _store_folders(root: str) -> list[str]:
    """Every folder below a data root that holds task files (the root included)."""
    from datapack_server.storage.taskfile import AUX_DIR, SUFFIX
    out = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != AUX_DIR)
        if any(n.endswith(SUFFIX) for n in names):
            out.append(folder)
    return out


# ================================================================================ import

@dataclass
class ImportReport:
    file: str
    read: int = 0
    created: int = 0
    already_present: int = 0
    superseded: int = 0  # JSONL: earlier lines of a pack replaced by its later revision lines
    rejected: list[dict] = field(default_factory=list)  # {where, pack_id, reasons, details}

    def as_dict(self) -> dict:
        return {"file": self.file, "read": self.read, "created": self.created,
                "already_present": self.already_present, "superseded": self.superseded,
                "rejected": len(self.rejected), "rejections": self.rejected}


def _reject(report: ImportReport, pos: int, where: str, pack_id: Any, violations: list[dict]) -> None:
    """Record a rejection; `pos` (the record's position in its file) orders the report."""
    reasons = []
    for v in violations:
        if v["reason"] not in reasons:
            reasons.append(v["reason"])
    report.rejected.append({"where": where, "pack_id": pack_id, "reasons": reasons, "details": violations,
                            "_pos": pos})


def _finish(report: ImportReport) -> None:
    report.rejected.sort(key=lambda r: r["_pos"])
    for r in report.rejected:
        del r["_pos"]


def read_import_file(path: str, report: ImportReport) -> list[tuple[int, str, dict]]:
    """(position, where, record) of every importable record of a file, in order.

    A JSON array (as the earlier library's export_to_json wrote, unified or
    legacy 2.0-energy dicts) is mapped as import_from_json does (repository.md
    §8, schema.md §10.2: task = env_type, pack_id = brick_id or
    UUID5("import:<file>:<index>"), created_at now). A JSONL file is read as a
    task file is served: derived ids of lines without one, legacy lines
    mapped, and of several lines of one pack only the last (its current
    revision) imported."""
    from datapack_server.storage.lines import CorruptLine, is_legacy, map_legacy, parse_line, served_record
    from datapack_server.service.file_validation import task_of_file

    with open(path, "rb") as fh:
        data = fh.read()
    name = os.path.basename(path)
    if data.lstrip()[:1] == b"[":
        try:
            items = jsonio.loads(data)
        except ValueError as exc:
            raise UsageError(f"{path}: not a JSON array ({exc})") from None
        if type(items) is not list:
            raise UsageError(f"{path}: not a JSON array")
        out = []
        for i, el in enumerate(items):
            report.read += 1
            where = f"[{i}]"
            if type(el) is not dict:
                _reject(report, i, where, None, [{"field": where, "reason": "FIELD_TYPE",
                                               "message": "an element must be a JSON object"}])
                continue
            derived = str(uuid.uuid5(schema.DATAPACK_NS, f"import:{name}:{i}"))
            if is_legacy(el):
                env = el.get("env_type")
                task = env if type(env) is str and env else "drawer_vase"
                rec = map_legacy(el, task, derived, schema.utc_now())
            else:
                rec = schema.normalize_record(el, pack_id=derived, created_at=schema.utc_now())
                rec.pop("_revision", None)
            out.append((i, where, rec))
        return out
    task = task_of_file(path)
    latest: dict[str, int] = {}
    out = []
    for line_no, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        where = f"line {line_no}"
        report.read += 1
        try:
            d = parse_line(raw)
        except CorruptLine as exc:
            _reject(report, line_no, where, None, [{"field": "", "reason": "CORRUPT_LINE", "message": str(exc)}])
            continue
        env = d.get("env_type")
        rec = served_record(d, name, line_no, task or (env if type(env) is str and env else "drawer_vase"))
        key = jsonio.dumps_str(rec.get("pack_id"))
        if key in latest:
            out[latest[key]] = (line_no, where, rec)
            report.superseded += 1
        else:
            latest[key] = len(out)
            out.append((line_no, where, rec))
    return out


def append_reporting(repo, items: list[tuple[int, str, dict]], report: ImportReport, batch_size: int,
                     progress: _Progress | None = None) -> None:
    """append_batch in batches; a batch refused for some of its records
    (INVALID_ARGUMENT or ALREADY_EXISTS naming their indexes) is retried
    without them, and they are reported as rejected."""
    done = 0
    for batch in _batches(items, batch_size):
        pending = batch
        while pending:
            try:
                results = repo.append_batch([rec for _, _, rec in pending])
            except DataPackError as exc:
                bad: dict[int, list[dict]] = {}
                for v in exc.violations:
                    if v.index is not None and 0 <= v.index < len(pending):
                        bad.setdefault(v.index, []).append({"field": v.field, "reason": v.reason,
                                                            "message": v.message})
                if exc.code not in ("INVALID_ARGUMENT", "ALREADY_EXISTS") or not bad:
                    raise  # a store fault or an error without per-record details: nothing to drop
                for i in sorted(bad):
                    pos, where, rec = pending[i]
                    _reject(report, pos, where, rec.get("pack_id"), bad[i])
                pending = [item for i, item in enumerate(pending) if i not in bad]
                continue
            for r in results:
                if r.status == "created":
                    report.created += 1
                elif r.status == "already_present":
                    report.already_present += 1
            break
        done += len(batch)
        if progress is not None:
            progress.update(done)


# A batch travels as one message: portable records with artifacts reach ~0.5 MB
# each, so batches are also cut by size, well below the 64 MiB message limit.
BATCH_BYTES = 16 << 20


def _batches(items: list, batch_size: int) -> Iterable[list]:
    batch: list = []
    size = 0
    for item in items:
        n = len(jsonio.dumps(item[2]))
        if batch and (len(batch) >= batch_size or size + n > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += n
    if batch:
        yield batch


def _import(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    for path in args.files:
        if not os.path.isfile(path):
            raise UsageError(f"no such file: {path}")
    repo = open_repo(args, create=True)
    reports = []
    try:
        for path in args.files:
            report = ImportReport(path)
            items = read_import_file(path, report)
            progress = _Progress(err, len(items), f"importing {os.path.basename(path)}",
                                 not args.quiet and not args.json and _isatty(err))
            try:
                append_reporting(repo, items, report, args.batch_size, progress)
            finally:
                progress.close()
            _finish(report)
            reports.append(report)
            if args.json:
                out.write(_json_line(report.as_dict()) + "\n")
            elif not args.quiet or report.rejected:
                _print_import(out, report, args.show_rejected)
    finally:
        repo.close()
    return EXIT_REJECTED if any(r.rejected for r in reports) else EXIT_OK


def _print_import(out: TextIO, r: ImportReport, show: int) -> None:
    print(f"{r.file}: read {r.read}, created {r.created}, already_present {r.already_present}, "
          f"superseded {r.superseded}, rejected {len(r.rejected)}", file=out)
    if not r.rejected:
        return
    by_reason = Counter(reason for rej in r.rejected for reason in rej["reasons"])
    print("  rejected by reason: " + ", ".join(f"{k} {n}" for k, n in by_reason.most_common()), file=out)
    for rej in r.rejected[:show]:
        first = rej["details"][0]
        more = f" (+{len(rej['details']) - 1} more)" if len(rej["details"]) > 1 else ""
        print(f"  {rej['where']} {rej['pack_id'] if rej['pack_id'] is not None else '-'}: "
              f"{','.join(rej['reasons'])}: {first['field']}: {first['message']}{more}", file=out)
    if len(r.rejected) > show:
        print(f"  ... {len(r.rejected) - show} more (--show-rejected N, or --json for all)", file=out)


# ================================================================================ export

def _export(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from datapack_client.frames import require_extra

    from datapack_server.service.arrow_export import export_packs

    require_extra("pyarrow")  # before reading anything: the missing extra is a usage error
    repo = open_repo(args)
    try:
        # Passed on without a name here, so export_packs holds the only reference and frees each chunk.
        summary = export_packs(repo.query(args.task, **selection_of(args, default_all=True)), args.out, args.format,
                               omitted=() if args.include_artifacts else schema.ARTIFACT_KEYS)
    finally:
        repo.close()
    if args.json:
        out.write(_json_line(summary) + "\n")
    elif not args.quiet:
        print(f"wrote {summary['rows']} pack(s), {summary['columns']} columns, to {summary['path']} "
              f"({summary['format']}, {summary['bytes']} bytes)", file=out)
    return EXIT_OK


# ================================================================================ registration

def _common_output(p: argparse.ArgumentParser, quiet: bool = True) -> None:
    p.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    if quiet:
        p.add_argument("--quiet", action="store_true", help="print only errors (and the requested output)")


def _add(sub, name: str, help_text: str, description: str, body, usage_status: int = EXIT_USAGE
         ) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help_text, description=description,
                       formatter_class=argparse.RawDescriptionHelpFormatter)

    def error(message: str):  # usage errors exit with the verb's usage status
        p.print_usage(sys.stderr)
        p.exit(usage_status, f"{p.prog}: error: {message}\n")

    p.error = error  # type: ignore[method-assign]

    def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
        return _run_guarded(name, body, args, out, err, usage_status)

    p.set_defaults(func=run)
    return p


def register(sub) -> None:
    """Register query, stats, validate, import and export on the `datapack` subparsers."""
    q = _add(sub, "query", "list the packs matching the query filters",
             "List the current revision of every pack matching the filters (repository.md §7): a table "
             "fitted to the terminal, or with --json one JSON line per pack (the stored record; artifacts "
             "only with --include-artifacts). Exit codes: 0 ok, 1 usage error.", _query)
    add_location_arguments(q)
    add_filter_arguments(q)
    _common_output(q)
    q.add_argument("--fields", metavar="A,B.C",
                   help="only these dotted paths, e.g. pack_id,attribution.delta_J,condition.engine_type")

    s = _add(sub, "stats", "statistics of a task or a slice (get_statistics)",
             "get_statistics (repository.md §9) over the task or the slice the filters select; --by splits "
             "it per skill (packs whose trace uses it), engine type or source type. Exit codes: 0 ok, "
             "1 usage error.", _stats)
    add_location_arguments(s)
    add_filter_arguments(s, select=False)
    s.add_argument("--by", choices=tuple(BY), help="one row per skill, engine type or source type")
    s.add_argument("--json", action="store_true", help="JSON: the statistics object, or one line per row with --by")

    v = _add(sub, "validate", "list records breaking the append invariants (repository.md §10)",
             "Read task files line by line and list every line a writer would refuse (repository.md §5) or "
             "a reader has to repair (corrupt line, torn tail, legacy shape, derived id or time, duplicate "
             "lines): `file:line pack_id REASONS`, or one JSON object per finding with --json. Only reads. "
             "Checksums are checked by `datapack verify`. Exit codes (repository.md §10): 0 no findings, "
             "1 findings, 2 usage error.", _validate, usage_status=VALIDATE_USAGE)
    v.add_argument("files", nargs="*", metavar="FILE", help="JSONL files (instead of a store)")
    v.add_argument("--datapack-dir", metavar="DIR", help="a store folder")
    v.add_argument("--data-dir", metavar="ROOT", help="a data root: every store below it, or --store")
    v.add_argument("--store", metavar="NAME", default=None, help="with --data-dir: one store")
    v.add_argument("--task", metavar="T", help="one task of the store(s); default: every task file")
    v.add_argument("--json", action="store_true", help="one JSON object per finding")
    v.add_argument("--verbose", "-v", action="store_true", help="also print each violation's field and message")

    i = _add(sub, "import", "append the records of JSONL or JSON-array files to a store",
             "Append the records of each FILE (a JSONL task file, or a JSON array as the earlier library's "
             "export_to_json wrote, legacy 2.0-energy dicts included) to the store, in batches; records "
             "the store refuses are reported with their line or index and reasons, the others appended. "
             "Re-running is idempotent (already_present). Exit codes: 0 ok, 1 usage error, 2 a record "
             "was rejected.", _import)
    i.add_argument("files", nargs="+", metavar="FILE")
    add_location_arguments(i, task="none")
    i.add_argument("--batch-size", type=_positive, default=256, metavar="N", help="records per batch (default 256)")
    i.add_argument("--show-rejected", type=int, default=10, metavar="N",
                   help="rejected records printed per file (default 10; --json lists all)")
    _common_output(i)

    e = _add(sub, "export", "write the matching packs as a Parquet or Arrow file",
             "Write the packs matching the filters (default: all of the task) as one table: flat filter "
             "columns (delta_j, trust_score, engine_type, skill_ids, ...), the profiles as struct columns "
             "and free-form objects as JSON text (datapack_client.frames). Written to a temporary file and "
             "renamed. Needs the extra datapack[export]. Exit codes: 0 ok, 1 usage error.", _export)
    add_location_arguments(e)
    add_filter_arguments(e, default_all=True)
    e.add_argument("--format", required=True, choices=("parquet", "arrow"), help="arrow: the Arrow IPC file format")
    e.add_argument("--out", required=True, metavar="PATH")
    _common_output(e)


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run one data verb (argv[0] is the verb), printing to out/err."""
    parser = _Parser(prog="datapack")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args, out, err)


__all__ = ["add_filter_arguments", "add_location_arguments", "filters_of", "format_table", "main",
           "open_repo", "read_import_file", "register", "selection_of"]
