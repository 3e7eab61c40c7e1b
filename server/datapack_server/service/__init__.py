"""The domain façade: the one set of repository operations that both the embedded
DataPackRepo and the gRPC servicers call (append, ingest, revisions, reads,
statistics, analyses, baselines, exports).

May import: engine/, query/, analytics/, portable/, storage/, datapack_client.records,
datapack_client.building, datapack_client.wire (protobuf messages, never grpc)."""
