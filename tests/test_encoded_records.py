"""Packs an analysis returns are sent from the encoded cache when the record
is the pack's current revision, and encoded from the record otherwise: the
bytes are those of encoding the record itself either way."""
from __future__ import annotations

try:
    from .conftest import STORE, copy_fixture, make_pack
except ImportError:  # tests/ not a package
    from conftest import STORE, copy_fixture, make_pack
from datapack_client.wire.adapter import pack_to_proto
from datapack_server import DataPackRepo

TASK = "drawer_vase"


def test_encoded_records_equal_encoding_the_records(data_root):
    copy_fixture(data_root, "drawer_vase_datapacks.jsonl")
    repo = DataPackRepo(str(data_root / STORE))
    service = repo._service
    packs = repo.query(TASK, limit=None, include_artifacts=True)
    expected = [pack_to_proto(p).SerializeToString() for p in packs]
    assert list(service.encoded_records("", TASK, packs)) == expected
    assert list(service.encoded_records("", TASK, packs)) == expected  # now from the cache
    # A pack revised after the read: its returned (older) record is what is sent.
    old = packs[3]
    repo.update_training_usage(TASK, [old.pack_id], add_training_runs=["later"])
    assert repo.get(TASK, old.pack_id).revision == old.revision + 1
    assert list(service.encoded_records("", TASK, [old])) == [expected[3]]
    # A record that is not stored at all is encoded as it is.
    stranger = make_pack("not-stored")
    assert list(service.encoded_records("", TASK, [stranger])) == [pack_to_proto(stranger).SerializeToString()]
    repo.close()
