"""AppendEnvelope: the append requests' wire format with `data_packs` read as
raw bytes (field 2 is length-delimited either way), so the receiving thread
does not parse the records; decoding happens in prepare_records, possibly in a
worker process. Internal to the server; clients send the public messages."""
from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto


def _build():
    fdp = descriptor_pb2.FileDescriptorProto(name="datapack_server/append_envelope.proto",
                                             package="datapack.server.internal", syntax="proto3")
    m = fdp.message_type.add(name="AppendEnvelope")
    m.field.add(name="store", number=1, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)
    m.field.add(name="data_packs", number=2, type=_F.TYPE_BYTES, label=_F.LABEL_REPEATED)
    m.field.add(name="writer_id", number=3, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)
    m.field.add(name="batch_sequence", number=4, type=_F.TYPE_UINT64, label=_F.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("datapack.server.internal.AppendEnvelope"))


AppendEnvelope = _build()
