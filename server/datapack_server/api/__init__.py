"""The gRPC transport: server assembly, configuration, servicers, error mapping,
wire helpers, security. Converts and delegates; holds no business rules.

May import: service/, observability/, datapack_client (wire, records, errors). Never engine/,
query/, analytics/ or storage/ directly."""
