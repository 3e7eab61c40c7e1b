"""Log lines that request data cannot forge: text with its control and bidi
characters escaped, and the formatter of the server's text logs (one record,
one line; a traceback's lines indented under it)."""
from __future__ import annotations

import logging
import re

# Characters that could forge a log line or hide text on a terminal: C0/C1
# controls (newline, escape), DEL, bidi controls, line/paragraph separators.
UNSAFE_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """text with every unsafe character escaped (\\n, \\x1b, \\u202e)."""
    return UNSAFE_CHARACTERS.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))


class SafeFormatter(logging.Formatter):
    """One record = one line, whatever a message carries: the message line is
    escaped, and a traceback keeps its lines but each one is escaped and
    prefixed with "  | ", so no text inside a record can pass for a record."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return printable(super().formatMessage(record))

    def formatException(self, ei) -> str:
        return self._continued(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return self._continued(super().formatStack(stack_info))

    @staticmethod
    def _continued(text: str) -> str:
        return "\n".join("  | " + printable(line) for line in text.split("\n"))
