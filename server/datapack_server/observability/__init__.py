"""Logs, metrics, tracing and the HTTP side port (health, readiness, /metrics).

May import: engine/ (the store observer hook), datapack_client.records."""
