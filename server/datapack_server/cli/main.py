"""The `datapack` command: one module per verb, registered here.

    datapack serve ...            serve a data root over gRPC (serve.py)
    datapack build ...            datapacks from episodes or the generator (build.py, docs/building.md §8)
    datapack export-portable ...  embed the portable artifacts (export_portable.py, docs/portable.md §7)
    datapack verify ...           task files against their checksums (verify.py, storage/FORMAT.md)
    datapack query|stats|validate|import|export ...   the data verbs (data.py, one module each)
    datapack report ...           PNG plots and a self-contained index.html of a task (report.py)
    datapack health ...           a server's gRPC health status (health.py)
    datapack sim ...              the PyBullet simulator (sim.py)

One convention for every verb (common.py, printed by `datapack --help` and each verb's help):
exit status 0 ok, 1 findings or failure, 2 usage; a store is named by `--datapack-dir DIR`,
`--data-dir ROOT --store NAME` or `--target HOST:PORT --store NAME`. When the reader of stdout
goes away (`datapack query ... | head`), the command stops quietly with status 0, as `rg` does:
the reader asked for no more, which is not a failure of the command.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from datapack_server.cli.build import register as register_build
from datapack_server.cli.common import EXIT_OK, EXIT_STATUS_HELP, STORE_OPTIONS_HELP
from datapack_server.cli.data import register as register_data
from datapack_server.cli.export_portable import register as register_export
from datapack_server.cli.health import register as register_health
from datapack_server.cli.report import register as register_report
from datapack_server.cli.serve import register as register_serve
from datapack_server.cli.sim import register as register_sim
from datapack_server.cli.verify import register as register_verify

EPILOG = f"""{EXIT_STATUS_HELP}.

{STORE_OPTIONS_HELP}.

`datapack VERB --help` describes a verb and what its statuses mean for it."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="datapack", description="DataPack service and tools", epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, title="verbs", metavar="VERB")
    register_serve(sub)
    register_build(sub)
    register_export(sub)
    register_verify(sub)
    register_data(sub)
    register_report(sub)
    register_health(sub)
    register_sim(sub)
    return p


def _stdout_gone() -> int:
    """The reader of stdout left (`| head`): stop quietly with status 0. stdout now points
    at /dev/null, so the interpreter's last flush has nowhere to fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a file descriptor (a test's StringIO)
        pass
    finally:
        os.close(devnull)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    from datapack_server.observability.safe_text import SafeFormatter
    handler = logging.StreamHandler()
    # Request data can reach a log message (a name in an error); the formatter
    # escapes control and bidi characters so no record can forge another.
    handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    args = build_parser().parse_args(argv)
    if getattr(args, "log_format", None):
        from datapack_server.observability.logs import configure
        configure(args.log_format)  # same escaping guarantees as the handler above (observability/logs.py)
    if getattr(args, "log_level", None):
        logging.getLogger().setLevel(args.log_level.upper())
    try:
        status = args.func(args)
        sys.stdout.flush()  # here, where a reader that left can still be handled
    except BrokenPipeError:
        return _stdout_gone()
    return status


if __name__ == "__main__":
    sys.exit(main())
