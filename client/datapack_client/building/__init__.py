"""Episode results -> datapacks: the builder (builder.py, the public face) and its
steps: inputs, economics, condition, energy, trace, counterfactuals, assembly;
values holds the plain-JSON conversions and checks they share.

May import: records/, datapack_client.errors. No protobuf, no grpc."""
