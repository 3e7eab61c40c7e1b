"""What the `datapack` verbs share: exit statuses, the usage-error parser, a
progress bar and argparse number types.

Exit statuses (docs/building.md §8.4, docs/portable.md §7): 0 success, 1 usage
error, 2 a record was rejected. `datapack validate` keeps its own (0 no
findings, 1 findings, 2 usage error; docs/repository.md §10).
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TextIO

EXIT_OK, EXIT_USAGE, EXIT_REJECTED = 0, 1, 2

__all__ = ["EXIT_OK", "EXIT_REJECTED", "EXIT_USAGE", "Parser", "Progress", "int_at_least", "isatty",
           "set_usage_status"]


def _exit_with_usage(parser: argparse.ArgumentParser, status: int, message: str):
    parser.print_usage(sys.stderr)
    parser.exit(status, f"{parser.prog}: error: {message}\n")


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors exit with status 1 (argparse's own is 2,
    which the verbs use for rejected records)."""

    def error(self, message: str):  # type: ignore[override]
        _exit_with_usage(self, EXIT_USAGE, message)


def set_usage_status(parser: argparse.ArgumentParser, status: int = EXIT_USAGE) -> None:
    """Make a (sub)parser's usage errors exit with `status` instead of argparse's 2."""
    def error(message: str):
        _exit_with_usage(parser, status, message)

    parser.error = error  # type: ignore[method-assign]


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
