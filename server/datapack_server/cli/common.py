"""What the `datapack` verbs share: the exit statuses, the help text that states
them, how an error is named, a progress bar and argparse number types.

One convention for every verb (written in `datapack --help` and each verb's help):
0 ok; 1 findings or failure (rejected records, validation or checksum findings,
a store or task that does not exist, a server that cannot be reached, a write
that failed, a missing optional extra); 2 usage (an unknown, missing or
conflicting option, a bad value, an input file or folder named on the command
line that does not exist). argparse's own usage errors exit 2 as well.
"""
from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable
from typing import TextIO

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
EXIT_REJECTED = EXIT_FAILURE  # rejected records are findings: status 1
HELP_WIDTH = 100  # the help texts below are wrapped here (RawDescriptionHelpFormatter keeps the lines)

EXIT_STATUS_HELP = textwrap.fill(
    "exit status (every verb): 0 ok; 1 findings or failure (rejected records, findings, a store or task that "
    "does not exist, an unreachable server, a failed write, a missing extra); 2 usage (a bad, missing or "
    "conflicting option or value, an input file that does not exist)", HELP_WIDTH)

STORE_OPTIONS_HELP = textwrap.fill(
    "a store is named the same way by every verb: --datapack-dir DIR (one store folder), --data-dir ROOT "
    "--store NAME (a store below a data root, as `serve --data-dir` serves it), or --target HOST:PORT --store "
    "NAME (a running server)", HELP_WIDTH)

__all__ = ["EXIT_FAILURE", "EXIT_OK", "EXIT_REJECTED", "EXIT_STATUS_HELP", "EXIT_USAGE", "STORE_OPTIONS_HELP",
           "Parser", "Progress", "add_verb_parser", "error_label", "int_at_least", "isatty",
           "verb_epilog"]


class Parser(argparse.ArgumentParser):
    """The parser of a verb run on its own (`build.main`, the export script): its help
    ends as the verb's does under `datapack` (verb_epilog); usage errors exit 2 (argparse's)."""

    def __init__(self, *args, exits: str = "", **kwargs):
        if kwargs.get("description"):
            kwargs["description"] = textwrap.fill(kwargs["description"], HELP_WIDTH)
        kwargs.setdefault("epilog", verb_epilog(exits))
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)


def add_verb_parser(sub, name: str, help_text: str, description: str, exits: str = "") -> argparse.ArgumentParser:
    """A verb's subparser: `help_text` is its line in `datapack --help`; its own help
    ends with `exits` (what 0 and 1 mean for this verb) and the shared convention."""
    return sub.add_parser(name, help=help_text, description=textwrap.fill(description, HELP_WIDTH),
                          epilog=verb_epilog(exits), formatter_class=argparse.RawDescriptionHelpFormatter)


def verb_epilog(exits: str = "") -> str:
    """A verb's help ending: what 0 and 1 mean for it (`exits`), then the shared convention."""
    own = textwrap.fill(f"this verb: {exits}; 2 usage", HELP_WIDTH) + "\n" if exits else ""
    return own + EXIT_STATUS_HELP


def error_label(exc) -> str:
    """A DataPackError's status and reason as a CLI line names them: the reason only
    when it says more than the status (`UNAVAILABLE`, `NOT_FOUND STORE_NOT_FOUND`)."""
    reason = exc.reason if exc.reason and exc.reason != exc.code else ""
    return f"{exc.code} {reason}" if reason else exc.code


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer >= minimum (a usage error otherwise)."""
    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            n = None
        if n is None or n < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return n
    return parse


def isatty(stream: TextIO) -> bool:
    """Whether the stream is a terminal (False for objects without isatty, or closed)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """A one-line carriage-return progress bar on a terminal; silent otherwise."""

    def __init__(self, stream: TextIO, total: int, label: str, enabled: bool):
        self.stream, self.total, self.label = stream, total, label
        self.enabled = enabled and total > 0
        self._last = -1

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        pct = done * 100 // self.total
        if pct == self._last and done != self.total:
            return
        self._last = pct
        width = 30
        filled = width * done // self.total
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} {pct:3d}%")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._last >= 0:
            self.stream.write("\n")
            self.stream.flush()
