"""Append-only JSONL task files: the format (FORMAT.md), lines, checksums,
durable appends, recovery and verification as functions.

May import: datapack_client.records (JSON text helpers). Nothing above it."""
