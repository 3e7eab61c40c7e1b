from datapack_client.proto.datapack.v1 import datapack_pb2 as _datapack_pb2
from datapack_client.proto.datapack.v1 import datapack_service_pb2 as _datapack_service_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SkillStatistics(_message.Message):
    __slots__ = ("skill_id", "skill_name", "total_usage", "positive_count", "negative_count", "success_rate", "delta_j_mean", "delta_j_std", "delta_j_min", "delta_j_max", "trust_mean", "w_econ_mean", "skill_delta_mpl_mean", "skill_delta_error_mean", "used")
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    SKILL_NAME_FIELD_NUMBER: _ClassVar[int]
    TOTAL_USAGE_FIELD_NUMBER: _ClassVar[int]
    POSITIVE_COUNT_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_COUNT_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    DELTA_J_MEAN_FIELD_NUMBER: _ClassVar[int]
    DELTA_J_STD_FIELD_NUMBER: _ClassVar[int]
    DELTA_J_MIN_FIELD_NUMBER: _ClassVar[int]
    DELTA_J_MAX_FIELD_NUMBER: _ClassVar[int]
    TRUST_MEAN_FIELD_NUMBER: _ClassVar[int]
    W_ECON_MEAN_FIELD_NUMBER: _ClassVar[int]
    SKILL_DELTA_MPL_MEAN_FIELD_NUMBER: _ClassVar[int]
    SKILL_DELTA_ERROR_MEAN_FIELD_NUMBER: _ClassVar[int]
    USED_FIELD_NUMBER: _ClassVar[int]
    skill_id: int
    skill_name: str
    total_usage: int
    positive_count: int
    negative_count: int
    success_rate: float
    delta_j_mean: float
    delta_j_std: float
    delta_j_min: float
    delta_j_max: float
    trust_mean: float
    w_econ_mean: float
    skill_delta_mpl_mean: float
    skill_delta_error_mean: float
    used: bool
    def __init__(self, skill_id: _Optional[int] = ..., skill_name: _Optional[str] = ..., total_usage: _Optional[int] = ..., positive_count: _Optional[int] = ..., negative_count: _Optional[int] = ..., success_rate: _Optional[float] = ..., delta_j_mean: _Optional[float] = ..., delta_j_std: _Optional[float] = ..., delta_j_min: _Optional[float] = ..., delta_j_max: _Optional[float] = ..., trust_mean: _Optional[float] = ..., w_econ_mean: _Optional[float] = ..., skill_delta_mpl_mean: _Optional[float] = ..., skill_delta_error_mean: _Optional[float] = ..., used: _Optional[bool] = ...) -> None: ...

class GetSkillStatisticsRequest(_message.Message):
    __slots__ = ("store", "task_name", "skill_id", "slice")
    STORE_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    SLICE_FIELD_NUMBER: _ClassVar[int]
    store: str
    task_name: str
    skill_id: int
    slice: _datapack_service_pb2.DataPackFilter
    def __init__(self, store: _Optional[str] = ..., task_name: _Optional[str] = ..., skill_id: _Optional[int] = ..., slice: _Optional[_Union[_datapack_service_pb2.DataPackFilter, _Mapping]] = ...) -> None: ...

class GetSkillStatisticsResponse(_message.Message):
    __slots__ = ("statistics",)
    STATISTICS_FIELD_NUMBER: _ClassVar[int]
    statistics: SkillStatistics
    def __init__(self, statistics: _Optional[_Union[SkillStatistics, _Mapping]] = ...) -> None: ...

class GetAllSkillsPerformanceRequest(_message.Message):
    __slots__ = ("store", "task_name", "slice")
    STORE_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    SLICE_FIELD_NUMBER: _ClassVar[int]
    store: str
    task_name: str
    slice: _datapack_service_pb2.DataPackFilter
    def __init__(self, store: _Optional[str] = ..., task_name: _Optional[str] = ..., slice: _Optional[_Union[_datapack_service_pb2.DataPackFilter, _Mapping]] = ...) -> None: ...

class GetAllSkillsPerformanceResponse(_message.Message):
    __slots__ = ("skills",)
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    skills: _containers.RepeatedCompositeFieldContainer[SkillStatistics]
    def __init__(self, skills: _Optional[_Iterable[_Union[SkillStatistics, _Mapping]]] = ...) -> None: ...

class GetSkillTrainingDataRequest(_message.Message):
    __slots__ = ("store", "task_name", "skill_id", "bucket", "min_trust", "top_k", "unlimited", "slice")
    STORE_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    MIN_TRUST_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    UNLIMITED_FIELD_NUMBER: _ClassVar[int]
    SLICE_FIELD_NUMBER: _ClassVar[int]
    store: str
    task_name: str
    skill_id: int
    bucket: str
    min_trust: float
    top_k: int
    unlimited: bool
    slice: _datapack_service_pb2.DataPackFilter
    def __init__(self, store: _Optional[str] = ..., task_name: _Optional[str] = ..., skill_id: _Optional[int] = ..., bucket: _Optional[str] = ..., min_trust: _Optional[float] = ..., top_k: _Optional[int] = ..., unlimited: _Optional[bool] = ..., slice: _Optional[_Union[_datapack_service_pb2.DataPackFilter, _Mapping]] = ...) -> None: ...

class TrainingSample(_message.Message):
    __slots__ = ("pack_id", "skill_id", "params_json", "duration_json", "local_metrics_json", "delta_j", "trust_score", "w_econ", "condition_json", "semantic_tags")
    PACK_ID_FIELD_NUMBER: _ClassVar[int]
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    PARAMS_JSON_FIELD_NUMBER: _ClassVar[int]
    DURATION_JSON_FIELD_NUMBER: _ClassVar[int]
    LOCAL_METRICS_JSON_FIELD_NUMBER: _ClassVar[int]
    DELTA_J_FIELD_NUMBER: _ClassVar[int]
    TRUST_SCORE_FIELD_NUMBER: _ClassVar[int]
    W_ECON_FIELD_NUMBER: _ClassVar[int]
    CONDITION_JSON_FIELD_NUMBER: _ClassVar[int]
    SEMANTIC_TAGS_FIELD_NUMBER: _ClassVar[int]
    pack_id: str
    skill_id: int
    params_json: str
    duration_json: str
    local_metrics_json: str
    delta_j: float
    trust_score: float
    w_econ: float
    condition_json: str
    semantic_tags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, pack_id: _Optional[str] = ..., skill_id: _Optional[int] = ..., params_json: _Optional[str] = ..., duration_json: _Optional[str] = ..., local_metrics_json: _Optional[str] = ..., delta_j: _Optional[float] = ..., trust_score: _Optional[float] = ..., w_econ: _Optional[float] = ..., condition_json: _Optional[str] = ..., semantic_tags: _Optional[_Iterable[str]] = ...) -> None: ...

class GetSkillTrainingDataResponse(_message.Message):
    __slots__ = ("samples",)
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    samples: _containers.RepeatedCompositeFieldContainer[TrainingSample]
    def __init__(self, samples: _Optional[_Iterable[_Union[TrainingSample, _Mapping]]] = ...) -> None: ...

class GetSkillFailureModesRequest(_message.Message):
    __slots__ = ("store", "task_name", "skill_id", "top_k", "unlimited", "slice")
    STORE_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    UNLIMITED_FIELD_NUMBER: _ClassVar[int]
    SLICE_FIELD_NUMBER: _ClassVar[int]
    store: str
    task_name: str
    skill_id: int
    top_k: int
    unlimited: bool
    slice: _datapack_service_pb2.DataPackFilter
    def __init__(self, store: _Optional[str] = ..., task_name: _Optional[str] = ..., skill_id: _Optional[int] = ..., top_k: _Optional[int] = ..., unlimited: _Optional[bool] = ..., slice: _Optional[_Union[_datapack_service_pb2.DataPackFilter, _Mapping]] = ...) -> None: ...

class FailureMode(_message.Message):
    __slots__ = ("pack_id", "delta_j", "semantic_tags", "condition_json", "counterfactual_json", "counterfactual_source", "skill_entry_json")
    PACK_ID_FIELD_NUMBER: _ClassVar[int]
    DELTA_J_FIELD_NUMBER: _ClassVar[int]
    SEMANTIC_TAGS_FIELD_NUMBER: _ClassVar[int]
    CONDITION_JSON_FIELD_NUMBER: _ClassVar[int]
    COUNTERFACTUAL_JSON_FIELD_NUMBER: _ClassVar[int]
    COUNTERFACTUAL_SOURCE_FIELD_NUMBER: _ClassVar[int]
    SKILL_ENTRY_JSON_FIELD_NUMBER: _ClassVar[int]
    pack_id: str
    delta_j: float
    semantic_tags: _containers.RepeatedScalarFieldContainer[str]
    condition_json: str
    counterfactual_json: str
    counterfactual_source: str
    skill_entry_json: str
    def __init__(self, pack_id: _Optional[str] = ..., delta_j: _Optional[float] = ..., semantic_tags: _Optional[_Iterable[str]] = ..., condition_json: _Optional[str] = ..., counterfactual_json: _Optional[str] = ..., counterfactual_source: _Optional[str] = ..., skill_entry_json: _Optional[str] = ...) -> None: ...

class GetSkillFailureModesResponse(_message.Message):
    __slots__ = ("failure_modes",)
    FAILURE_MODES_FIELD_NUMBER: _ClassVar[int]
    failure_modes: _containers.RepeatedCompositeFieldContainer[FailureMode]
    def __init__(self, failure_modes: _Optional[_Iterable[_Union[FailureMode, _Mapping]]] = ...) -> None: ...

class GetSkillSequencePatternsRequest(_message.Message):
    __slots__ = ("store", "task_name", "bucket", "top_k", "unlimited", "slice")
    STORE_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    UNLIMITED_FIELD_NUMBER: _ClassVar[int]
    SLICE_FIELD_NUMBER: _ClassVar[int]
    store: str
    task_name: str
    bucket: str
    top_k: int
    unlimited: bool
    slice: _datapack_service_pb2.DataPackFilter
    def __init__(self, store: _Optional[str] = ..., task_name: _Optional[str] = ..., bucket: _Optional[str] = ..., top_k: _Optional[int] = ..., unlimited: _Optional[bool] = ..., slice: _Optional[_Union[_datapack_service_pb2.DataPackFilter, _Mapping]] = ...) -> None: ...

class SequencePattern(_message.Message):
    __slots__ = ("skill_ids", "count")
    SKILL_IDS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    skill_ids: _containers.RepeatedScalarFieldContainer[int]
    count: int
    def __init__(self, skill_ids: _Optional[_Iterable[int]] = ..., count: _Optional[int] = ...) -> None: ...

class GetSkillSequencePatternsResponse(_message.Message):
    __slots__ = ("patterns",)
    PATTERNS_FIELD_NUMBER: _ClassVar[int]
    patterns: _containers.RepeatedCompositeFieldContainer[SequencePattern]
    def __init__(self, patterns: _Optional[_Iterable[_Union[SequencePattern, _Mapping]]] = ...) -> None: ...

class ComputeSkillValueMatrixRequest(_message.Message):
    __slots__ = ("store", "task_name", "skill_ids", "slice")
    STORE_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    SKILL_IDS_FIELD_NUMBER: _ClassVar[int]
    SLICE_FIELD_NUMBER: _ClassVar[int]
    store: str
    task_name: str
    skill_ids: _datapack_pb2.Int64List
    slice: _datapack_service_pb2.DataPackFilter
    def __init__(self, store: _Optional[str] = ..., task_name: _Optional[str] = ..., skill_ids: _Optional[_Union[_datapack_pb2.Int64List, _Mapping]] = ..., slice: _Optional[_Union[_datapack_service_pb2.DataPackFilter, _Mapping]] = ...) -> None: ...

class SkillValueMatrix(_message.Message):
    __slots__ = ("skill_ids", "skill_names", "conditions", "rows", "skipped_entries")
    SKILL_IDS_FIELD_NUMBER: _ClassVar[int]
    SKILL_NAMES_FIELD_NUMBER: _ClassVar[int]
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    skill_ids: _containers.RepeatedScalarFieldContainer[int]
    skill_names: _containers.RepeatedScalarFieldContainer[str]
    conditions: _containers.RepeatedScalarFieldContainer[str]
    rows: _containers.RepeatedCompositeFieldContainer[SkillValueRow]
    skipped_entries: int
    def __init__(self, skill_ids: _Optional[_Iterable[int]] = ..., skill_names: _Optional[_Iterable[str]] = ..., conditions: _Optional[_Iterable[str]] = ..., rows: _Optional[_Iterable[_Union[SkillValueRow, _Mapping]]] = ..., skipped_entries: _Optional[int] = ...) -> None: ...

class SkillValueRow(_message.Message):
    __slots__ = ("values", "counts")
    VALUES_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    counts: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, values: _Optional[_Iterable[float]] = ..., counts: _Optional[_Iterable[int]] = ...) -> None: ...

class ComputeSkillValueMatrixResponse(_message.Message):
    __slots__ = ("matrix",)
    MATRIX_FIELD_NUMBER: _ClassVar[int]
    matrix: SkillValueMatrix
    def __init__(self, matrix: _Optional[_Union[SkillValueMatrix, _Mapping]] = ...) -> None: ...

class RecommendSkillForConditionRequest(_message.Message):
    __slots__ = ("store", "task_name", "condition_tags", "slice")
    STORE_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    CONDITION_TAGS_FIELD_NUMBER: _ClassVar[int]
    SLICE_FIELD_NUMBER: _ClassVar[int]
    store: str
    task_name: str
    condition_tags: _containers.RepeatedScalarFieldContainer[str]
    slice: _datapack_service_pb2.DataPackFilter
    def __init__(self, store: _Optional[str] = ..., task_name: _Optional[str] = ..., condition_tags: _Optional[_Iterable[str]] = ..., slice: _Optional[_Union[_datapack_service_pb2.DataPackFilter, _Mapping]] = ...) -> None: ...

class SkillRecommendation(_message.Message):
    __slots__ = ("skill_id", "mean_delta_j")
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    MEAN_DELTA_J_FIELD_NUMBER: _ClassVar[int]
    skill_id: int
    mean_delta_j: float
    def __init__(self, skill_id: _Optional[int] = ..., mean_delta_j: _Optional[float] = ...) -> None: ...

class RecommendSkillForConditionResponse(_message.Message):
    __slots__ = ("recommendations",)
    RECOMMENDATIONS_FIELD_NUMBER: _ClassVar[int]
    recommendations: _containers.RepeatedCompositeFieldContainer[SkillRecommendation]
    def __init__(self, recommendations: _Optional[_Iterable[_Union[SkillRecommendation, _Mapping]]] = ...) -> None: ...

class ExtractContrastivePairsRequest(_message.Message):
    __slots__ = ("store", "task_name", "skill_id", "n_pairs", "unlimited", "slice")
    STORE_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    N_PAIRS_FIELD_NUMBER: _ClassVar[int]
    UNLIMITED_FIELD_NUMBER: _ClassVar[int]
    SLICE_FIELD_NUMBER: _ClassVar[int]
    store: str
    task_name: str
    skill_id: int
    n_pairs: int
    unlimited: bool
    slice: _datapack_service_pb2.DataPackFilter
    def __init__(self, store: _Optional[str] = ..., task_name: _Optional[str] = ..., skill_id: _Optional[int] = ..., n_pairs: _Optional[int] = ..., unlimited: _Optional[bool] = ..., slice: _Optional[_Union[_datapack_service_pb2.DataPackFilter, _Mapping]] = ...) -> None: ...

class ContrastivePair(_message.Message):
    __slots__ = ("positive", "negative")
    POSITIVE_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_FIELD_NUMBER: _ClassVar[int]
    positive: _datapack_pb2.DataPackMeta
    negative: _datapack_pb2.DataPackMeta
    def __init__(self, positive: _Optional[_Union[_datapack_pb2.DataPackMeta, _Mapping]] = ..., negative: _Optional[_Union[_datapack_pb2.DataPackMeta, _Mapping]] = ...) -> None: ...

class ExtractContrastivePairsResponse(_message.Message):
    __slots__ = ("pairs",)
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    pairs: _containers.RepeatedCompositeFieldContainer[ContrastivePair]
    def __init__(self, pairs: _Optional[_Iterable[_Union[ContrastivePair, _Mapping]]] = ...) -> None: ...

class GenerateSkillCurriculumRequest(_message.Message):
    __slots__ = ("store", "task_name", "skill_id", "n_levels", "slice")
    STORE_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    N_LEVELS_FIELD_NUMBER: _ClassVar[int]
    SLICE_FIELD_NUMBER: _ClassVar[int]
    store: str
    task_name: str
    skill_id: int
    n_levels: int
    slice: _datapack_service_pb2.DataPackFilter
    def __init__(self, store: _Optional[str] = ..., task_name: _Optional[str] = ..., skill_id: _Optional[int] = ..., n_levels: _Optional[int] = ..., slice: _Optional[_Union[_datapack_service_pb2.DataPackFilter, _Mapping]] = ...) -> None: ...

class CurriculumLevel(_message.Message):
    __slots__ = ("level", "difficulty", "n_samples", "datapacks", "avg_offset", "avg_friction", "avg_occlusion")
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    DIFFICULTY_FIELD_NUMBER: _ClassVar[int]
    N_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    DATAPACKS_FIELD_NUMBER: _ClassVar[int]
    AVG_OFFSET_FIELD_NUMBER: _ClassVar[int]
    AVG_FRICTION_FIELD_NUMBER: _ClassVar[int]
    AVG_OCCLUSION_FIELD_NUMBER: _ClassVar[int]
    level: int
    difficulty: float
    n_samples: int
    datapacks: _containers.RepeatedCompositeFieldContainer[_datapack_pb2.DataPackMeta]
    avg_offset: float
    avg_friction: float
    avg_occlusion: float
    def __init__(self, level: _Optional[int] = ..., difficulty: _Optional[float] = ..., n_samples: _Optional[int] = ..., datapacks: _Optional[_Iterable[_Union[_datapack_pb2.DataPackMeta, _Mapping]]] = ..., avg_offset: _Optional[float] = ..., avg_friction: _Optional[float] = ..., avg_occlusion: _Optional[float] = ...) -> None: ...

class GenerateSkillCurriculumResponse(_message.Message):
    __slots__ = ("level",)
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    level: CurriculumLevel
    def __init__(self, level: _Optional[_Union[CurriculumLevel, _Mapping]] = ...) -> None: ...

class QueryByEnergyDriverTagsRequest(_message.Message):
    __slots__ = ("store", "task_name", "energy_tags", "bucket", "match_all", "limit", "unlimited", "slice")
    STORE_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    ENERGY_TAGS_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    MATCH_ALL_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    UNLIMITED_FIELD_NUMBER: _ClassVar[int]
    SLICE_FIELD_NUMBER: _ClassVar[int]
    store: str
    task_name: str
    energy_tags: _containers.RepeatedScalarFieldContainer[str]
    bucket: str
    match_all: bool
    limit: int
    unlimited: bool
    slice: _datapack_service_pb2.DataPackFilter
    def __init__(self, store: _Optional[str] = ..., task_name: _Optional[str] = ..., energy_tags: _Optional[_Iterable[str]] = ..., bucket: _Optional[str] = ..., match_all: _Optional[bool] = ..., limit: _Optional[int] = ..., unlimited: _Optional[bool] = ..., slice: _Optional[_Union[_datapack_service_pb2.DataPackFilter, _Mapping]] = ...) -> None: ...

class QueryByEnergyDriverTagsResponse(_message.Message):
    __slots__ = ("data_packs",)
    DATA_PACKS_FIELD_NUMBER: _ClassVar[int]
    data_packs: _containers.RepeatedCompositeFieldContainer[_datapack_pb2.DataPackMeta]
    def __init__(self, data_packs: _Optional[_Iterable[_Union[_datapack_pb2.DataPackMeta, _Mapping]]] = ...) -> None: ...

class QueryByAttributionRangesRequest(_message.Message):
    __slots__ = ("store", "task_name", "min_delta_mpl", "max_delta_mpl", "min_delta_error", "max_delta_error", "min_delta_ep", "max_delta_ep", "min_trust", "max_trust", "bucket", "limit", "unlimited", "slice")
    STORE_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    MIN_DELTA_MPL_FIELD_NUMBER: _ClassVar[int]
    MAX_DELTA_MPL_FIELD_NUMBER: _ClassVar[int]
    MIN_DELTA_ERROR_FIELD_NUMBER: _ClassVar[int]
    MAX_DELTA_ERROR_FIELD_NUMBER: _ClassVar[int]
    MIN_DELTA_EP_FIELD_NUMBER: _ClassVar[int]
    MAX_DELTA_EP_FIELD_NUMBER: _ClassVar[int]
    MIN_TRUST_FIELD_NUMBER: _ClassVar[int]
    MAX_TRUST_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    UNLIMITED_FIELD_NUMBER: _ClassVar[int]
    SLICE_FIELD_NUMBER: _ClassVar[int]
    store: str
    task_name: str
    min_delta_mpl: float
    max_delta_mpl: float
    min_delta_error: float
    max_delta_error: float
    min_delta_ep: float
    max_delta_ep: float
    min_trust: float
    max_trust: float
    bucket: str
    limit: int
    unlimited: bool
    slice: _datapack_service_pb2.DataPackFilter
    def __init__(self, store: _Optional[str] = ..., task_name: _Optional[str] = ..., min_delta_mpl: _Optional[float] = ..., max_delta_mpl: _Optional[float] = ..., min_delta_error: _Optional[float] = ..., max_delta_error: _Optional[float] = ..., min_delta_ep: _Optional[float] = ..., max_delta_ep: _Optional[float] = ..., min_trust: _Optional[float] = ..., max_trust: _Optional[float] = ..., bucket: _Optional[str] = ..., limit: _Optional[int] = ..., unlimited: _Optional[bool] = ..., slice: _Optional[_Union[_datapack_service_pb2.DataPackFilter, _Mapping]] = ...) -> None: ...

class QueryByAttributionRangesResponse(_message.Message):
    __slots__ = ("data_packs",)
    DATA_PACKS_FIELD_NUMBER: _ClassVar[int]
    data_packs: _containers.RepeatedCompositeFieldContainer[_datapack_pb2.DataPackMeta]
    def __init__(self, data_packs: _Optional[_Iterable[_Union[_datapack_pb2.DataPackMeta, _Mapping]]] = ...) -> None: ...

class GetEnvTypeStatisticsRequest(_message.Message):
    __slots__ = ("store", "task_name", "slice")
    STORE_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    SLICE_FIELD_NUMBER: _ClassVar[int]
    store: str
    task_name: str
    slice: _datapack_service_pb2.DataPackFilter
    def __init__(self, store: _Optional[str] = ..., task_name: _Optional[str] = ..., slice: _Optional[_Union[_datapack_service_pb2.DataPackFilter, _Mapping]] = ...) -> None: ...

class EnvTypeStatistics(_message.Message):
    __slots__ = ("env_type", "count", "positive", "negative", "mean_delta_j", "mean_delta_mpl", "mean_delta_error", "mean_delta_ep", "mean_energy_wh", "mean_trust", "positive_ratio")
    ENV_TYPE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    POSITIVE_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_FIELD_NUMBER: _ClassVar[int]
    MEAN_DELTA_J_FIELD_NUMBER: _ClassVar[int]
    MEAN_DELTA_MPL_FIELD_NUMBER: _ClassVar[int]
    MEAN_DELTA_ERROR_FIELD_NUMBER: _ClassVar[int]
    MEAN_DELTA_EP_FIELD_NUMBER: _ClassVar[int]
    MEAN_ENERGY_WH_FIELD_NUMBER: _ClassVar[int]
    MEAN_TRUST_FIELD_NUMBER: _ClassVar[int]
    POSITIVE_RATIO_FIELD_NUMBER: _ClassVar[int]
    env_type: str
    count: int
    positive: int
    negative: int
    mean_delta_j: float
    mean_delta_mpl: float
    mean_delta_error: float
    mean_delta_ep: float
    mean_energy_wh: float
    mean_trust: float
    positive_ratio: float
    def __init__(self, env_type: _Optional[str] = ..., count: _Optional[int] = ..., positive: _Optional[int] = ..., negative: _Optional[int] = ..., mean_delta_j: _Optional[float] = ..., mean_delta_mpl: _Optional[float] = ..., mean_delta_error: _Optional[float] = ..., mean_delta_ep: _Optional[float] = ..., mean_energy_wh: _Optional[float] = ..., mean_trust: _Optional[float] = ..., positive_ratio: _Optional[float] = ...) -> None: ...

class GetEnvTypeStatisticsResponse(_message.Message):
    __slots__ = ("env_types",)
    ENV_TYPES_FIELD_NUMBER: _ClassVar[int]
    env_types: _containers.RepeatedCompositeFieldContainer[EnvTypeStatistics]
    def __init__(self, env_types: _Optional[_Iterable[_Union[EnvTypeStatistics, _Mapping]]] = ...) -> None: ...

class GetDatapackIdsForSkillRequest(_message.Message):
    __slots__ = ("store", "task_name", "skill_id", "bucket", "slice")
    STORE_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    SLICE_FIELD_NUMBER: _ClassVar[int]
    store: str
    task_name: str
    skill_id: int
    bucket: str
    slice: _datapack_service_pb2.DataPackFilter
    def __init__(self, store: _Optional[str] = ..., task_name: _Optional[str] = ..., skill_id: _Optional[int] = ..., bucket: _Optional[str] = ..., slice: _Optional[_Union[_datapack_service_pb2.DataPackFilter, _Mapping]] = ...) -> None: ...

class GetDatapackIdsForSkillResponse(_message.Message):
    __slots__ = ("pack_ids",)
    PACK_IDS_FIELD_NUMBER: _ClassVar[int]
    pack_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, pack_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class SummarizeEnergyUsageRequest(_message.Message):
    __slots__ = ("store", "task_name", "slice")
    STORE_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    SLICE_FIELD_NUMBER: _ClassVar[int]
    store: str
    task_name: str
    slice: _datapack_service_pb2.DataPackFilter
    def __init__(self, store: _Optional[str] = ..., task_name: _Optional[str] = ..., slice: _Optional[_Union[_datapack_service_pb2.DataPackFilter, _Mapping]] = ...) -> None: ...

class SummarizeEnergyUsageResponse(_message.Message):
    __slots__ = ("n_packs", "total_wh_mean", "total_wh_std", "wh_per_unit_mean", "wh_per_unit_std", "limb_totals", "skill_totals")
    N_PACKS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_WH_MEAN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_WH_STD_FIELD_NUMBER: _ClassVar[int]
    WH_PER_UNIT_MEAN_FIELD_NUMBER: _ClassVar[int]
    WH_PER_UNIT_STD_FIELD_NUMBER: _ClassVar[int]
    LIMB_TOTALS_FIELD_NUMBER: _ClassVar[int]
    SKILL_TOTALS_FIELD_NUMBER: _ClassVar[int]
    n_packs: int
    total_wh_mean: float
    total_wh_std: float
    wh_per_unit_mean: float
    wh_per_unit_std: float
    limb_totals: _containers.RepeatedCompositeFieldContainer[_datapack_pb2.NamedNumber]
    skill_totals: _containers.RepeatedCompositeFieldContainer[_datapack_pb2.NamedNumber]
    def __init__(self, n_packs: _Optional[int] = ..., total_wh_mean: _Optional[float] = ..., total_wh_std: _Optional[float] = ..., wh_per_unit_mean: _Optional[float] = ..., wh_per_unit_std: _Optional[float] = ..., limb_totals: _Optional[_Iterable[_Union[_datapack_pb2.NamedNumber, _Mapping]]] = ..., skill_totals: _Optional[_Iterable[_Union[_datapack_pb2.NamedNumber, _Mapping]]] = ...) -> None: ...

class ExportSkillReportRequest(_message.Message):
    __slots__ = ("store", "task_name", "slice")
    STORE_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    SLICE_FIELD_NUMBER: _ClassVar[int]
    store: str
    task_name: str
    slice: _datapack_service_pb2.DataPackFilter
    def __init__(self, store: _Optional[str] = ..., task_name: _Optional[str] = ..., slice: _Optional[_Union[_datapack_service_pb2.DataPackFilter, _Mapping]] = ...) -> None: ...

class ExportSkillReportResponse(_message.Message):
    __slots__ = ("report_json",)
    REPORT_JSON_FIELD_NUMBER: _ClassVar[int]
    report_json: str
    def __init__(self, report_json: _Optional[str] = ...) -> None: ...
