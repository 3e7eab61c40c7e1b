"""Kept import path: the record model lives in `datapack_client.records.model`."""
from datapack_client.records.model import (AttributionProfile, ConditionProfile, DataPackMeta,  # noqa: F401
                                           EmbodimentProfileSummary, EnergyProfile, FieldOmittedError,
                                           GuidanceProfile, ObjectiveProfile, ProcessRewardProfile,
                                           SimaAnnotation, copy_json)
