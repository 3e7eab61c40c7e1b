"""Conversions between records and protobuf messages (the generated code in proto/).

codec (records <-> DataPackMeta messages), fastdecode (compiled decoders, lazily
decoded received records), packed (packed numeric arrays), query and export
(arguments of those calls), results (records sent and received, append and ingest
results), episodes (builder inputs), adapter (adapter results),
status (rich gRPC error details <-> DataPackError).

May import: records/, building.inputs (episode inputs as dicts), datapack_client.errors,
proto/. No grpc channel code (status.py reads the status of a failed call)."""
