"""Conversions between records and protobuf messages (the generated code in proto/).

May import: records/, datapack_client.errors, proto/. No grpc channel code."""
