"""One store in memory: task state, catch-up, index snapshots, the group committer
(the only write path), pack ids and the parsing pool.

May import: storage/, datapack_client.records. Never grpc, protobuf or the layers above."""
