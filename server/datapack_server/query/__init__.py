"""Query evaluation over a task index: filters, ordering, statistics, lookups.

May import: engine/, storage/, datapack_client.records. Never grpc."""
