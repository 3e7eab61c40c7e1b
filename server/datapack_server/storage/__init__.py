"""Append-only JSONL task files: format, recovery, durable appends (see FORMAT.md)."""
