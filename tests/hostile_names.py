"""A corpus of hostile names for stores, tasks, pack ids and baseline names.

Each entry is (name, what it tries). The security tests send every name in
every slot of every RPC that takes one and check that nothing lands outside
the data root and no raw control character reaches a log line. Names the
service deliberately accepts are listed in ACCEPTED_*, each with why it is
harmless; every other name must be refused with INVALID_ARGUMENT (or, for a
pack id, which never reaches the file system, be merely unknown: NOT_FOUND).
"""
from __future__ import annotations

LONG = "x" * 129  # one over the 128-character limit
VERY_LONG = "y" * 70_000  # beyond NAME_MAX and PATH_MAX of any file system

HOSTILE: list[tuple[str, str]] = [
    ("", "empty"),
    (" ", "whitespace only"),
    ("\t", "tab"),
    (" phase_c", "leading space"),
    ("phase_c ", "trailing space"),
    (".", "current directory"),
    ("..", "parent directory"),
    ("...", "three dots"),
    ("../x", "parent traversal"),
    ("../../../../../../tmp/escape", "deep parent traversal"),
    ("a/../../b", "traversal hidden behind a segment"),
    ("a/./b", "dot segment"),
    ("/abs", "absolute path"),
    ("/tmp/escape", "absolute path to /tmp"),
    ("//server/share", "UNC-like path"),
    ("a//b", "empty segment"),
    ("a/", "trailing slash"),
    ("~", "home directory"),
    ("~root/x", "another user's home"),
    ("$HOME", "shell variable"),
    ("`id`", "shell substitution"),
    ("*", "glob"),
    ("..\\..\\x", "Windows traversal"),
    ("a\\b", "backslash separator"),
    ("C:\\Windows", "drive letter"),
    ("%2e%2e", "percent-encoded .."),
    ("%2e%2e%2fx", "percent-encoded ../x"),
    ("..%2f..%2fx", "half-encoded traversal"),
    ("%00", "percent-encoded NUL"),
    ("x\x00y", "embedded NUL"),
    ("\x00", "NUL only"),
    ("x\ny", "newline (log injection)"),
    ("x\r\n2025-01-01 00:00:00 WARNING datapack.server: forged", "CRLF forged log line"),
    ("\x1b[31mred\x1b[0m", "ANSI escape (terminal injection)"),
    ("\x1b]0;title\x07", "OSC escape (terminal title)"),
    ("x\x7fy", "DEL"),
    ("\u202egnp.exe", "RTL override"),
    ("a\u2066b\u2069", "bidi isolate"),
    ("a\u200bb", "zero-width space"),
    ("ｐhase_c", "fullwidth lookalike"),
    ("phаse_c", "Cyrillic a lookalike"),
    ("\u2215etc\u2215passwd", "division-slash lookalike of /"),
    ("\uff0e\uff0e", "fullwidth dots"),
    ("a\u2028b", "Unicode line separator"),
    ("é", "non-ASCII letter"),
    (LONG, "129 characters"),
    (VERY_LONG, "70,000 characters"),
    ("/".join(["a"] * 200), "200 nested segments"),
    ("CON", "Windows device name"),
    ("con", "Windows device name, lower case"),
    ("NUL", "Windows device name"),
    ("COM1", "Windows device name"),
    ("LPT1.txt", "Windows device name with extension"),
    ("AUX", "Windows device name"),
    (".datapack", "the service's own auxiliary folder"),
    (".datapack/locks", "inside the auxiliary folder"),
    (".hidden", "hidden folder"),
    ("-rf", "leading dash (option injection)"),
]

# Task names are file-name prefixes: `<task>_datapacks.jsonl` in the store
# folder. These are legal there (the fixed suffix means even `CON` names the
# file `CON_datapacks.jsonl`, a plain file on every system; a leading dot or
# dash is only a prefix of that name, and "." cannot form a path component
# because of the suffix; anything holding ".." is refused all the same).
ACCEPTED_TASK_NAMES = {".", "CON", "con", "NUL", "COM1", "LPT1.txt", "AUX", ".datapack", ".hidden", "-rf"}

# Store paths are folders below the data root, so they are stricter: no
# segment may start with "." (".", "..", the auxiliary ".datapack" folder,
# hidden folders) or be a Windows device name (the data root must stay
# copyable to any machine); at most 256 characters. "" is the data root
# itself (the default store).
ACCEPTED_STORES = {"", "-rf"}

# Baseline names follow the task-name rule (they are keys in
# `<store>/.datapack/baselines.json`, never file names).
ACCEPTED_BASELINE_NAMES = ACCEPTED_TASK_NAMES

# Pack ids never reach the file system (they are JSON string values inside a
# line), so on reads any string is a lookup key: unknown -> NOT_FOUND. New
# records must still carry a printable id (no control or bidi characters, at
# most 256 characters), because ids are printed by tools and logs.
PACK_IDS_ACCEPTED_ON_APPEND = {
    " ", " phase_c", "phase_c ", ".", "..", "...", "../x", "../../../../../../tmp/escape", "a/../../b", "a/./b",
    "/abs", "/tmp/escape", "//server/share", "a//b", "a/", "~", "~root/x", "$HOME", "`id`", "*", "..\\..\\x",
    "a\\b", "C:\\Windows", "%2e%2e", "%2e%2e%2fx", "..%2f..%2fx", "%00", "ｐhase_c", "phаse_c",
    "\u2215etc\u2215passwd", "\uff0e\uff0e", "é", LONG, "CON", "con", "NUL", "COM1",
    "LPT1.txt", "AUX", ".datapack", ".datapack/locks", ".hidden", "-rf",
}
