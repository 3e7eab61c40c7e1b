"""Episode results -> datapacks: the builder and its inputs.

May import: records/, datapack_client.errors. No protobuf, no grpc."""
