"""Records as Python values: the model, the schema as data, validation rules, skill
catalogues, query and export arguments, result types, JSON text (jsonio) and
Arrow / pandas frames (frames; pyarrow and pandas imported when used).

May import: datapack_client.errors. No protobuf, no grpc."""
