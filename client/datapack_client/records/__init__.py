"""Records as Python values: the model, the schema as data, validation rules, skill
catalogues, query and export arguments, result types.

May import: datapack_client.errors. No protobuf, no grpc."""
