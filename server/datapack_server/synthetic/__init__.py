"""Synthetic episodes for `datapack build --generate-synthetic` and the sample data.

May import: datapack_client.building, datapack_client.records."""
