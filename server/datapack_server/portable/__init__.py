"""Portable datapacks (docs/portable.md): raw episode inputs, the
`rgb_features_v1` encoder, `scene_tracks_v1`, `slice_labels_v1`, `repr_tokens`,
the per-record export computation (export.py), the export of a task
(exporter.py) and small synthetic raw episodes (synthetic_raw.py).

May import: engine/, storage/, datapack_client.records. Never grpc."""
