"""DataPack client: records, the remote repository and the wire types.

    from datapack_client import connect, DataPackMeta
    repo = connect("localhost:50051", store="phase_c")

Needs only grpcio and protobuf (plus orjson for fast JSON).
"""
from .client import DataPackClient, StreamAppender, connect
from .errors import (AlreadyExistsError, DataPackError, FailedPreconditionError, InternalError,
                     InvalidArgumentError, NotFoundError, ResourceExhaustedError, UnavailableError, Violation)
from .model import (AttributionProfile, ConditionProfile, DataPackMeta, EmbodimentProfileSummary, EnergyProfile,
                    GuidanceProfile, ObjectiveProfile, ProcessRewardProfile, SimaAnnotation)
from .query import UNSET
from .results import AppendResult

__all__ = [
    "connect", "DataPackClient", "StreamAppender", "DataPackMeta", "ConditionProfile", "AttributionProfile",
    "EnergyProfile", "SimaAnnotation", "ObjectiveProfile", "ProcessRewardProfile", "EmbodimentProfileSummary",
    "GuidanceProfile", "AppendResult", "UNSET", "DataPackError", "InvalidArgumentError", "AlreadyExistsError",
    "NotFoundError", "ResourceExhaustedError", "UnavailableError", "FailedPreconditionError", "InternalError",
    "Violation",
]
