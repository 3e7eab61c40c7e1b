"""DataPack client: records, the remote repository and the wire types.

    from datapack_client import connect, DataPackMeta
    repo = connect("localhost:50051", store="phase_c")

Needs only grpcio and protobuf (plus orjson for fast JSON).
"""
from datapack_client.adapter import SkillDataPackAdapter, SkillValueMatrix
from datapack_client.aio import AsyncDataPackClient, AsyncSkillDataPackAdapter, AsyncStreamAppender, connect_async
from datapack_client.building.builder import (
                      BASELINES,
                      ECON_PRESETS,
                      Baseline,
                      EconParams,
                      EpisodeInfoSummary,
                      build_datapack_meta_from_episode,
                      delta_j,
                      derive_semantic_tags,
                      infer_energy_driver_tags,
)
from datapack_client.client import DataPackClient, StreamAppender, connect
from datapack_client.errors import (
                      AlreadyExistsError,
                      DataPackError,
                      FailedPreconditionError,
                      InternalError,
                      InvalidArgumentError,
                      NotFoundError,
                      PermissionDeniedError,
                      ResourceExhaustedError,
                      UnauthenticatedError,
                      UnavailableError,
                      Violation,
)
from datapack_client.records.model import (
                      AttributionProfile,
                      ConditionProfile,
                      DataPackMeta,
                      EmbodimentProfileSummary,
                      EnergyProfile,
                      FieldOmittedError,
                      GuidanceProfile,
                      ObjectiveProfile,
                      ProcessRewardProfile,
                      SimaAnnotation,
)
from datapack_client.records.query import UNSET
from datapack_client.records.results import AppendResult
from datapack_client.records.skills import SkillID, catalogue_for, skill_name

__all__ = [
    "connect", "DataPackClient", "StreamAppender", "connect_async", "AsyncDataPackClient", "AsyncStreamAppender",
    "AsyncSkillDataPackAdapter", "DataPackMeta", "ConditionProfile", "AttributionProfile",
    "EnergyProfile", "SimaAnnotation", "ObjectiveProfile", "ProcessRewardProfile", "EmbodimentProfileSummary",
    "GuidanceProfile", "AppendResult", "UNSET", "DataPackError", "InvalidArgumentError", "AlreadyExistsError",
    "NotFoundError", "ResourceExhaustedError", "UnavailableError", "FailedPreconditionError", "InternalError",
    "UnauthenticatedError", "PermissionDeniedError", "Violation", "EpisodeInfoSummary", "EconParams", "Baseline",
    "BASELINES", "ECON_PRESETS", "build_datapack_meta_from_episode",
    "delta_j", "infer_energy_driver_tags", "derive_semantic_tags", "SkillID", "catalogue_for", "skill_name",
    "SkillDataPackAdapter", "SkillValueMatrix", "FieldOmittedError",
]
