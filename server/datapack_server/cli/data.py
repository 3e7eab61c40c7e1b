"""The data verbs of the `datapack` command: query, stats, validate, import, export.

    datapack query    (--datapack-dir DIR | --data-dir ROOT [--store S] | --target HOST:PORT [--store S])
                      --task T [filters] [--sort-by F [--ascending]] [--limit N | --all]
                      [--include-artifacts] [--json] [--fields a,b.c]
    datapack stats    LOCATION --task T [filters] [--by skill|engine|source] [--json]
    datapack validate (FILE ... | --datapack-dir DIR | --data-dir ROOT [--store S]) [--task T] [--json] [--verbose]
    datapack import   FILE ... LOCATION [--batch-size N] [--show-rejected N] [--json] [--quiet]
    datapack export   LOCATION --task T --out PATH [--format parquet|arrow] [filters] [--sort-by F] [--limit N]

Each verb lives in its own module (query.py, stats.py, validate.py, importing.py, export.py); the
options they share (the store location, the query filters) are in options.py, the table printing
in tables.py. A store is a local folder opened in-process or a store of a running server; both
give the same results.

LOCATION is the same for every verb that reads a store (options.py): --datapack-dir DIR,
--data-dir ROOT [--store S] or --target HOST:PORT [--store S]; validate reads files, so it takes
the local forms only.

Exit status, as every verb's (common.py): 0 ok; 1 findings or failure (`validate` findings,
`import` rejected records, a store or task that does not exist, an unreachable server); 2 usage.
"""
from __future__ import annotations

from typing import TextIO

from datapack_server.cli import export, importing, query, stats, validate
from datapack_server.cli.common import Parser


def register(sub) -> None:
    """Register query, stats, validate, import and export on the `datapack` subparsers."""
    for verb in (query, stats, validate, importing, export):
        verb.register(sub)


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run one data verb (argv[0] is the verb), printing to out/err."""
    parser = Parser(prog="datapack")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args, out, err)


__all__ = ["main", "register"]
