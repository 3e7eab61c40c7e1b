"""Kept import path: the record model lives in `datapack_client.records.model`."""
from datapack_client.records.model import (  # noqa: F401
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
                                           copy_json,
)
