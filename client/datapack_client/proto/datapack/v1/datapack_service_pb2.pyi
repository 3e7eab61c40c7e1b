from datapack_client.proto.datapack.v1 import datapack_pb2 as _datapack_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AppendStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    APPEND_STATUS_UNSPECIFIED: _ClassVar[AppendStatus]
    APPEND_STATUS_CREATED: _ClassVar[AppendStatus]
    APPEND_STATUS_ALREADY_PRESENT: _ClassVar[AppendStatus]
    APPEND_STATUS_REJECTED: _ClassVar[AppendStatus]

class RecordEncoding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RECORD_ENCODING_UNSPECIFIED: _ClassVar[RecordEncoding]
    RECORD_ENCODING_PROTO: _ClassVar[RecordEncoding]
    RECORD_ENCODING_JSON_LINES: _ClassVar[RecordEncoding]

class DataPackView(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DATA_PACK_VIEW_UNSPECIFIED: _ClassVar[DataPackView]
    DATA_PACK_VIEW_BASIC: _ClassVar[DataPackView]
    DATA_PACK_VIEW_FULL: _ClassVar[DataPackView]

class RevisionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REVISION_STATUS_UNSPECIFIED: _ClassVar[RevisionStatus]
    REVISION_STATUS_REVISED: _ClassVar[RevisionStatus]
    REVISION_STATUS_UNCHANGED: _ClassVar[RevisionStatus]
APPEND_STATUS_UNSPECIFIED: AppendStatus
APPEND_STATUS_CREATED: AppendStatus
APPEND_STATUS_ALREADY_PRESENT: AppendStatus
APPEND_STATUS_REJECTED: AppendStatus
RECORD_ENCODING_UNSPECIFIED: RecordEncoding
RECORD_ENCODING_PROTO: RecordEncoding
RECORD_ENCODING_JSON_LINES: RecordEncoding
DATA_PACK_VIEW_UNSPECIFIED: DataPackView
DATA_PACK_VIEW_BASIC: DataPackView
DATA_PACK_VIEW_FULL: DataPackView
REVISION_STATUS_UNSPECIFIED: RevisionStatus
REVISION_STATUS_REVISED: RevisionStatus
REVISION_STATUS_UNCHANGED: RevisionStatus

class FieldViolation(_message.Message):
    __slots__ = ("index", "pack_id", "field", "reason", "message")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    PACK_ID_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    index: int
    pack_id: str
    field: str
    reason: str
    message: str
    def __init__(self, index: _Optional[int] = ..., pack_id: _Optional[str] = ..., field: _Optional[str] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ErrorDetail(_message.Message):
    __slots__ = ("code", "reason", "message", "violations")
    CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    code: str
    reason: str
    message: str
    violations: _containers.RepeatedCompositeFieldContainer[FieldViolation]
    def __init__(self, code: _Optional[str] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ..., violations: _Optional[_Iterable[_Union[FieldViolation, _Mapping]]] = ...) -> None: ...

class DataPackFilter(_message.Message):
    __slots__ = ("bucket", "engine_type", "skill_id", "min_trust", "min_delta_j", "max_delta_j", "min_mvd_score", "source_type", "objective_vector", "objective_similarity_threshold", "condition_filters", "include_sima", "include_counterfactual", "wm_model_id", "wm_role", "schema_version", "is_occluded", "is_dynamic", "is_static", "occlusion_bucket", "motion_bucket")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    ENGINE_TYPE_FIELD_NUMBER: _ClassVar[int]
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    MIN_TRUST_FIELD_NUMBER: _ClassVar[int]
    MIN_DELTA_J_FIELD_NUMBER: _ClassVar[int]
    MAX_DELTA_J_FIELD_NUMBER: _ClassVar[int]
    MIN_MVD_SCORE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_VECTOR_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_SIMILARITY_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FILTERS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_SIMA_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_COUNTERFACTUAL_FIELD_NUMBER: _ClassVar[int]
    WM_MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    WM_ROLE_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    IS_OCCLUDED_FIELD_NUMBER: _ClassVar[int]
    IS_DYNAMIC_FIELD_NUMBER: _ClassVar[int]
    IS_STATIC_FIELD_NUMBER: _ClassVar[int]
    OCCLUSION_BUCKET_FIELD_NUMBER: _ClassVar[int]
    MOTION_BUCKET_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    engine_type: str
    skill_id: int
    min_trust: float
    min_delta_j: float
    max_delta_j: float
    min_mvd_score: float
    source_type: str
    objective_vector: _datapack_pb2.DoubleList
    objective_similarity_threshold: float
    condition_filters: _containers.RepeatedCompositeFieldContainer[ConditionFilter]
    include_sima: bool
    include_counterfactual: bool
    wm_model_id: str
    wm_role: str
    schema_version: str
    is_occluded: bool
    is_dynamic: bool
    is_static: bool
    occlusion_bucket: str
    motion_bucket: str
    def __init__(self, bucket: _Optional[str] = ..., engine_type: _Optional[str] = ..., skill_id: _Optional[int] = ..., min_trust: _Optional[float] = ..., min_delta_j: _Optional[float] = ..., max_delta_j: _Optional[float] = ..., min_mvd_score: _Optional[float] = ..., source_type: _Optional[str] = ..., objective_vector: _Optional[_Union[_datapack_pb2.DoubleList, _Mapping]] = ..., objective_similarity_threshold: _Optional[float] = ..., condition_filters: _Optional[_Iterable[_Union[ConditionFilter, _Mapping]]] = ..., include_sima: _Optional[bool] = ..., include_counterfactual: _Optional[bool] = ..., wm_model_id: _Optional[str] = ..., wm_role: _Optional[str] = ..., schema_version: _Optional[str] = ..., is_occluded: _Optional[bool] = ..., is_dynamic: _Optional[bool] = ..., is_static: _Optional[bool] = ..., occlusion_bucket: _Optional[str] = ..., motion_bucket: _Optional[str] = ...) -> None: ...

class ConditionFilter(_message.Message):
    __slots__ = ("key", "bool_value", "number_value", "string_value", "number_list")
    KEY_FIELD_NUMBER: _ClassVar[int]
    BOOL_VALUE_FIELD_NUMBER: _ClassVar[int]
    NUMBER_VALUE_FIELD_NUMBER: _ClassVar[int]
    STRING_VALUE_FIELD_NUMBER: _ClassVar[int]
    NUMBER_LIST_FIELD_NUMBER: _ClassVar[int]
    key: str
    bool_value: bool
    number_value: float
    string_value: str
    number_list: _datapack_pb2.DoubleList
    def __init__(self, key: _Optional[str] = ..., bool_value: _Optional[bool] = ..., number_value: _Optional[float] = ..., string_value: _Optional[str] = ..., number_list: _Optional[_Union[_datapack_pb2.DoubleList, _Mapping]] = ...) -> None: ...

class AppendDataPacksRequest(_message.Message):
    __slots__ = ("store", "data_packs", "writer_id", "batch_sequence")
    STORE_FIELD_NUMBER: _ClassVar[int]
    DATA_PACKS_FIELD_NUMBER: _ClassVar[int]
    WRITER_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    store: str
    data_packs: _containers.RepeatedCompositeFieldContainer[_datapack_pb2.DataPackMeta]
    writer_id: str
    batch_sequence: int
    def __init__(self, store: _Optional[str] = ..., data_packs: _Optional[_Iterable[_Union[_datapack_pb2.DataPackMeta, _Mapping]]] = ..., writer_id: _Optional[str] = ..., batch_sequence: _Optional[int] = ...) -> None: ...

class AppendDataPacksResponse(_message.Message):
    __slots__ = ("batch_sequence", "results", "rejection")
    BATCH_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    REJECTION_FIELD_NUMBER: _ClassVar[int]
    batch_sequence: int
    results: _containers.RepeatedCompositeFieldContainer[AppendResult]
    rejection: ErrorDetail
    def __init__(self, batch_sequence: _Optional[int] = ..., results: _Optional[_Iterable[_Union[AppendResult, _Mapping]]] = ..., rejection: _Optional[_Union[ErrorDetail, _Mapping]] = ...) -> None: ...

class AppendResult(_message.Message):
    __slots__ = ("index", "pack_id", "task_name", "status", "revision", "sequence")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    PACK_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    index: int
    pack_id: str
    task_name: str
    status: AppendStatus
    revision: int
    sequence: int
    def __init__(self, index: _Optional[int] = ..., pack_id: _Optional[str] = ..., task_name: _Optional[str] = ..., status: _Optional[_Union[AppendStatus, str]] = ..., revision: _Optional[int] = ..., sequence: _Optional[int] = ...) -> None: ...

class AppendDataPacksBatchRequest(_message.Message):
    __slots__ = ("store", "data_packs")
    STORE_FIELD_NUMBER: _ClassVar[int]
    DATA_PACKS_FIELD_NUMBER: _ClassVar[int]
    store: str
    data_packs: _containers.RepeatedCompositeFieldContainer[_datapack_pb2.DataPackMeta]
    def __init__(self, store: _Optional[str] = ..., data_packs: _Optional[_Iterable[_Union[_datapack_pb2.DataPackMeta, _Mapping]]] = ...) -> None: ...

class AppendDataPacksBatchResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[AppendResult]
    def __init__(self, results: _Optional[_Iterable[_Union[AppendResult, _Mapping]]] = ...) -> None: ...

class QueryDataPacksRequest(_message.Message):
    __slots__ = ("store", "task_name", "filter", "sort_by", "sort_descending", "limit", "unlimited", "view", "encoding", "batch_size")
    STORE_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    SORT_BY_FIELD_NUMBER: _ClassVar[int]
    SORT_DESCENDING_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    UNLIMITED_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    store: str
    task_name: str
    filter: DataPackFilter
    sort_by: str
    sort_descending: bool
    limit: int
    unlimited: bool
    view: DataPackView
    encoding: RecordEncoding
    batch_size: int
    def __init__(self, store: _Optional[str] = ..., task_name: _Optional[str] = ..., filter: _Optional[_Union[DataPackFilter, _Mapping]] = ..., sort_by: _Optional[str] = ..., sort_descending: _Optional[bool] = ..., limit: _Optional[int] = ..., unlimited: _Optional[bool] = ..., view: _Optional[_Union[DataPackView, str]] = ..., encoding: _Optional[_Union[RecordEncoding, str]] = ..., batch_size: _Optional[int] = ...) -> None: ...

class JsonLinesBatch(_message.Message):
    __slots__ = ("lines", "pack_ids", "revisions", "omitted", "line_numbers")
    LINES_FIELD_NUMBER: _ClassVar[int]
    PACK_IDS_FIELD_NUMBER: _ClassVar[int]
    REVISIONS_FIELD_NUMBER: _ClassVar[int]
    OMITTED_FIELD_NUMBER: _ClassVar[int]
    LINE_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    lines: bytes
    pack_ids: _containers.RepeatedScalarFieldContainer[str]
    revisions: _containers.RepeatedScalarFieldContainer[int]
    omitted: _containers.RepeatedScalarFieldContainer[int]
    line_numbers: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, lines: _Optional[bytes] = ..., pack_ids: _Optional[_Iterable[str]] = ..., revisions: _Optional[_Iterable[int]] = ..., omitted: _Optional[_Iterable[int]] = ..., line_numbers: _Optional[_Iterable[int]] = ...) -> None: ...

class QueryDataPacksResponse(_message.Message):
    __slots__ = ("data_packs", "json_lines")
    DATA_PACKS_FIELD_NUMBER: _ClassVar[int]
    JSON_LINES_FIELD_NUMBER: _ClassVar[int]
    data_packs: _containers.RepeatedCompositeFieldContainer[_datapack_pb2.DataPackMeta]
    json_lines: JsonLinesBatch
    def __init__(self, data_packs: _Optional[_Iterable[_Union[_datapack_pb2.DataPackMeta, _Mapping]]] = ..., json_lines: _Optional[_Union[JsonLinesBatch, _Mapping]] = ...) -> None: ...

class QueryDataPacksPageRequest(_message.Message):
    __slots__ = ("query",)
    QUERY_FIELD_NUMBER: _ClassVar[int]
    query: QueryDataPacksRequest
    def __init__(self, query: _Optional[_Union[QueryDataPacksRequest, _Mapping]] = ...) -> None: ...

class QueryDataPacksPageResponse(_message.Message):
    __slots__ = ("data_packs",)
    DATA_PACKS_FIELD_NUMBER: _ClassVar[int]
    data_packs: _containers.RepeatedCompositeFieldContainer[_datapack_pb2.DataPackMeta]
    def __init__(self, data_packs: _Optional[_Iterable[_Union[_datapack_pb2.DataPackMeta, _Mapping]]] = ...) -> None: ...

class QueryArrowRequest(_message.Message):
    __slots__ = ("query", "columns")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    query: QueryDataPacksRequest
    columns: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, query: _Optional[_Union[QueryDataPacksRequest, _Mapping]] = ..., columns: _Optional[_Iterable[str]] = ...) -> None: ...

class QueryArrowResponse(_message.Message):
    __slots__ = ("arrow_ipc",)
    ARROW_IPC_FIELD_NUMBER: _ClassVar[int]
    arrow_ipc: bytes
    def __init__(self, arrow_ipc: _Optional[bytes] = ...) -> None: ...

class GetDataPackRequest(_message.Message):
    __slots__ = ("store", "task_name", "pack_id")
    STORE_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    PACK_ID_FIELD_NUMBER: _ClassVar[int]
    store: str
    task_name: str
    pack_id: str
    def __init__(self, store: _Optional[str] = ..., task_name: _Optional[str] = ..., pack_id: _Optional[str] = ...) -> None: ...

class GetDataPackResponse(_message.Message):
    __slots__ = ("data_pack",)
    DATA_PACK_FIELD_NUMBER: _ClassVar[int]
    data_pack: _datapack_pb2.DataPackMeta
    def __init__(self, data_pack: _Optional[_Union[_datapack_pb2.DataPackMeta, _Mapping]] = ...) -> None: ...

class GetDataPackHistoryRequest(_message.Message):
    __slots__ = ("store", "task_name", "pack_id")
    STORE_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    PACK_ID_FIELD_NUMBER: _ClassVar[int]
    store: str
    task_name: str
    pack_id: str
    def __init__(self, store: _Optional[str] = ..., task_name: _Optional[str] = ..., pack_id: _Optional[str] = ...) -> None: ...

class DataPackRevision(_message.Message):
    __slots__ = ("revision", "reason", "revised_at", "changed_fields", "record")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REVISED_AT_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    revision: int
    reason: str
    revised_at: str
    changed_fields: _datapack_pb2.StringList
    record: _datapack_pb2.DataPackMeta
    def __init__(self, revision: _Optional[int] = ..., reason: _Optional[str] = ..., revised_at: _Optional[str] = ..., changed_fields: _Optional[_Union[_datapack_pb2.StringList, _Mapping]] = ..., record: _Optional[_Union[_datapack_pb2.DataPackMeta, _Mapping]] = ...) -> None: ...

class GetDataPackHistoryResponse(_message.Message):
    __slots__ = ("revisions",)
    REVISIONS_FIELD_NUMBER: _ClassVar[int]
    revisions: _containers.RepeatedCompositeFieldContainer[DataPackRevision]
    def __init__(self, revisions: _Optional[_Iterable[_Union[DataPackRevision, _Mapping]]] = ...) -> None: ...

class GetStatisticsRequest(_message.Message):
    __slots__ = ("store", "task_name", "filter")
    STORE_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    store: str
    task_name: str
    filter: DataPackFilter
    def __init__(self, store: _Optional[str] = ..., task_name: _Optional[str] = ..., filter: _Optional[_Union[DataPackFilter, _Mapping]] = ...) -> None: ...

class NamedCount(_message.Message):
    __slots__ = ("name", "count")
    NAME_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    name: str
    count: int
    def __init__(self, name: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class GetStatisticsResponse(_message.Message):
    __slots__ = ("total", "positive", "negative", "positive_ratio", "delta_j_mean", "delta_j_std", "delta_j_min", "delta_j_max", "trust_mean", "trust_std", "unique_skills", "engine_types", "source_types", "with_sima", "with_counterfactual")
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    POSITIVE_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_FIELD_NUMBER: _ClassVar[int]
    POSITIVE_RATIO_FIELD_NUMBER: _ClassVar[int]
    DELTA_J_MEAN_FIELD_NUMBER: _ClassVar[int]
    DELTA_J_STD_FIELD_NUMBER: _ClassVar[int]
    DELTA_J_MIN_FIELD_NUMBER: _ClassVar[int]
    DELTA_J_MAX_FIELD_NUMBER: _ClassVar[int]
    TRUST_MEAN_FIELD_NUMBER: _ClassVar[int]
    TRUST_STD_FIELD_NUMBER: _ClassVar[int]
    UNIQUE_SKILLS_FIELD_NUMBER: _ClassVar[int]
    ENGINE_TYPES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_TYPES_FIELD_NUMBER: _ClassVar[int]
    WITH_SIMA_FIELD_NUMBER: _ClassVar[int]
    WITH_COUNTERFACTUAL_FIELD_NUMBER: _ClassVar[int]
    total: int
    positive: int
    negative: int
    positive_ratio: float
    delta_j_mean: float
    delta_j_std: float
    delta_j_min: float
    delta_j_max: float
    trust_mean: float
    trust_std: float
    unique_skills: _containers.RepeatedScalarFieldContainer[int]
    engine_types: _containers.RepeatedCompositeFieldContainer[NamedCount]
    source_types: _containers.RepeatedCompositeFieldContainer[NamedCount]
    with_sima: int
    with_counterfactual: int
    def __init__(self, total: _Optional[int] = ..., positive: _Optional[int] = ..., negative: _Optional[int] = ..., positive_ratio: _Optional[float] = ..., delta_j_mean: _Optional[float] = ..., delta_j_std: _Optional[float] = ..., delta_j_min: _Optional[float] = ..., delta_j_max: _Optional[float] = ..., trust_mean: _Optional[float] = ..., trust_std: _Optional[float] = ..., unique_skills: _Optional[_Iterable[int]] = ..., engine_types: _Optional[_Iterable[_Union[NamedCount, _Mapping]]] = ..., source_types: _Optional[_Iterable[_Union[NamedCount, _Mapping]]] = ..., with_sima: _Optional[int] = ..., with_counterfactual: _Optional[int] = ...) -> None: ...

class EpisodeInput(_message.Message):
    __slots__ = ("summary", "condition_profile_json", "agent_profile_json", "env_type", "pack_id", "brick_id", "extra_tags", "semantic_energy_drivers", "skill_trace", "sima_annotation", "vla_plan_json", "objective_profile", "embodiment_profile", "econ_semantic_tags", "semantic_quality", "raw_data_path", "scene_tracks_v1", "rgb_features_v1", "slice_labels_v1_json", "repr_tokens", "schema_version", "trust_score", "w_econ", "lambda_budget", "mvd_score", "source_type", "wm_model_id", "wm_role", "wm_horizon_used", "wm_branch_depth", "wm_trust_over_horizon", "world_model_horizon", "world_model_trust_over_horizon", "vase_broken", "drawer_stuck", "success", "failure_reason", "counterfactual_plan_json", "counterfactual_source", "episode_index", "created_at")
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    CONDITION_PROFILE_JSON_FIELD_NUMBER: _ClassVar[int]
    AGENT_PROFILE_JSON_FIELD_NUMBER: _ClassVar[int]
    ENV_TYPE_FIELD_NUMBER: _ClassVar[int]
    PACK_ID_FIELD_NUMBER: _ClassVar[int]
    BRICK_ID_FIELD_NUMBER: _ClassVar[int]
    EXTRA_TAGS_FIELD_NUMBER: _ClassVar[int]
    SEMANTIC_ENERGY_DRIVERS_FIELD_NUMBER: _ClassVar[int]
    SKILL_TRACE_FIELD_NUMBER: _ClassVar[int]
    SIMA_ANNOTATION_FIELD_NUMBER: _ClassVar[int]
    VLA_PLAN_JSON_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_PROFILE_FIELD_NUMBER: _ClassVar[int]
    EMBODIMENT_PROFILE_FIELD_NUMBER: _ClassVar[int]
    ECON_SEMANTIC_TAGS_FIELD_NUMBER: _ClassVar[int]
    SEMANTIC_QUALITY_FIELD_NUMBER: _ClassVar[int]
    RAW_DATA_PATH_FIELD_NUMBER: _ClassVar[int]
    SCENE_TRACKS_V1_FIELD_NUMBER: _ClassVar[int]
    RGB_FEATURES_V1_FIELD_NUMBER: _ClassVar[int]
    SLICE_LABELS_V1_JSON_FIELD_NUMBER: _ClassVar[int]
    REPR_TOKENS_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    TRUST_SCORE_FIELD_NUMBER: _ClassVar[int]
    W_ECON_FIELD_NUMBER: _ClassVar[int]
    LAMBDA_BUDGET_FIELD_NUMBER: _ClassVar[int]
    MVD_SCORE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    WM_MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    WM_ROLE_FIELD_NUMBER: _ClassVar[int]
    WM_HORIZON_USED_FIELD_NUMBER: _ClassVar[int]
    WM_BRANCH_DEPTH_FIELD_NUMBER: _ClassVar[int]
    WM_TRUST_OVER_HORIZON_FIELD_NUMBER: _ClassVar[int]
    WORLD_MODEL_HORIZON_FIELD_NUMBER: _ClassVar[int]
    WORLD_MODEL_TRUST_OVER_HORIZON_FIELD_NUMBER: _ClassVar[int]
    VASE_BROKEN_FIELD_NUMBER: _ClassVar[int]
    DRAWER_STUCK_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    COUNTERFACTUAL_PLAN_JSON_FIELD_NUMBER: _ClassVar[int]
    COUNTERFACTUAL_SOURCE_FIELD_NUMBER: _ClassVar[int]
    EPISODE_INDEX_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    summary: _datapack_pb2.EpisodeInfoSummary
    condition_profile_json: str
    agent_profile_json: str
    env_type: str
    pack_id: str
    brick_id: str
    extra_tags: _containers.RepeatedScalarFieldContainer[str]
    semantic_energy_drivers: _datapack_pb2.StringList
    skill_trace: _containers.RepeatedCompositeFieldContainer[_datapack_pb2.SkillTraceEntry]
    sima_annotation: _datapack_pb2.SimaAnnotation
    vla_plan_json: str
    objective_profile: _datapack_pb2.ObjectiveProfile
    embodiment_profile: _datapack_pb2.EmbodimentProfileSummary
    econ_semantic_tags: _datapack_pb2.StringList
    semantic_quality: float
    raw_data_path: str
    scene_tracks_v1: _datapack_pb2.PackedObject
    rgb_features_v1: _datapack_pb2.PackedObject
    slice_labels_v1_json: str
    repr_tokens: _datapack_pb2.PackedObject
    schema_version: str
    trust_score: float
    w_econ: float
    lambda_budget: float
    mvd_score: float
    source_type: str
    wm_model_id: str
    wm_role: str
    wm_horizon_used: int
    wm_branch_depth: int
    wm_trust_over_horizon: _datapack_pb2.DoubleList
    world_model_horizon: int
    world_model_trust_over_horizon: _containers.RepeatedScalarFieldContainer[float]
    vase_broken: bool
    drawer_stuck: bool
    success: bool
    failure_reason: str
    counterfactual_plan_json: str
    counterfactual_source: str
    episode_index: int
    created_at: str
    def __init__(self, summary: _Optional[_Union[_datapack_pb2.EpisodeInfoSummary, _Mapping]] = ..., condition_profile_json: _Optional[str] = ..., agent_profile_json: _Optional[str] = ..., env_type: _Optional[str] = ..., pack_id: _Optional[str] = ..., brick_id: _Optional[str] = ..., extra_tags: _Optional[_Iterable[str]] = ..., semantic_energy_drivers: _Optional[_Union[_datapack_pb2.StringList, _Mapping]] = ..., skill_trace: _Optional[_Iterable[_Union[_datapack_pb2.SkillTraceEntry, _Mapping]]] = ..., sima_annotation: _Optional[_Union[_datapack_pb2.SimaAnnotation, _Mapping]] = ..., vla_plan_json: _Optional[str] = ..., objective_profile: _Optional[_Union[_datapack_pb2.ObjectiveProfile, _Mapping]] = ..., embodiment_profile: _Optional[_Union[_datapack_pb2.EmbodimentProfileSummary, _Mapping]] = ..., econ_semantic_tags: _Optional[_Union[_datapack_pb2.StringList, _Mapping]] = ..., semantic_quality: _Optional[float] = ..., raw_data_path: _Optional[str] = ..., scene_tracks_v1: _Optional[_Union[_datapack_pb2.PackedObject, _Mapping]] = ..., rgb_features_v1: _Optional[_Union[_datapack_pb2.PackedObject, _Mapping]] = ..., slice_labels_v1_json: _Optional[str] = ..., repr_tokens: _Optional[_Union[_datapack_pb2.PackedObject, _Mapping]] = ..., schema_version: _Optional[str] = ..., trust_score: _Optional[float] = ..., w_econ: _Optional[float] = ..., lambda_budget: _Optional[float] = ..., mvd_score: _Optional[float] = ..., source_type: _Optional[str] = ..., wm_model_id: _Optional[str] = ..., wm_role: _Optional[str] = ..., wm_horizon_used: _Optional[int] = ..., wm_branch_depth: _Optional[int] = ..., wm_trust_over_horizon: _Optional[_Union[_datapack_pb2.DoubleList, _Mapping]] = ..., world_model_horizon: _Optional[int] = ..., world_model_trust_over_horizon: _Optional[_Iterable[float]] = ..., vase_broken: _Optional[bool] = ..., drawer_stuck: _Optional[bool] = ..., success: _Optional[bool] = ..., failure_reason: _Optional[str] = ..., counterfactual_plan_json: _Optional[str] = ..., counterfactual_source: _Optional[str] = ..., episode_index: _Optional[int] = ..., created_at: _Optional[str] = ...) -> None: ...

class IngestEpisodesRequest(_message.Message):
    __slots__ = ("store", "econ_params", "baseline", "episodes", "writer_id", "batch_sequence")
    STORE_FIELD_NUMBER: _ClassVar[int]
    ECON_PARAMS_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    EPISODES_FIELD_NUMBER: _ClassVar[int]
    WRITER_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    store: str
    econ_params: _datapack_pb2.EconParams
    baseline: _datapack_pb2.Baseline
    episodes: _containers.RepeatedCompositeFieldContainer[EpisodeInput]
    writer_id: str
    batch_sequence: int
    def __init__(self, store: _Optional[str] = ..., econ_params: _Optional[_Union[_datapack_pb2.EconParams, _Mapping]] = ..., baseline: _Optional[_Union[_datapack_pb2.Baseline, _Mapping]] = ..., episodes: _Optional[_Iterable[_Union[EpisodeInput, _Mapping]]] = ..., writer_id: _Optional[str] = ..., batch_sequence: _Optional[int] = ...) -> None: ...

class IngestResult(_message.Message):
    __slots__ = ("index", "pack_id", "task_name", "status", "bucket", "delta_j", "sequence")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    PACK_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    DELTA_J_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    index: int
    pack_id: str
    task_name: str
    status: AppendStatus
    bucket: str
    delta_j: float
    sequence: int
    def __init__(self, index: _Optional[int] = ..., pack_id: _Optional[str] = ..., task_name: _Optional[str] = ..., status: _Optional[_Union[AppendStatus, str]] = ..., bucket: _Optional[str] = ..., delta_j: _Optional[float] = ..., sequence: _Optional[int] = ...) -> None: ...

class IngestEpisodesResponse(_message.Message):
    __slots__ = ("batch_sequence", "results", "rejection")
    BATCH_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    REJECTION_FIELD_NUMBER: _ClassVar[int]
    batch_sequence: int
    results: _containers.RepeatedCompositeFieldContainer[IngestResult]
    rejection: ErrorDetail
    def __init__(self, batch_sequence: _Optional[int] = ..., results: _Optional[_Iterable[_Union[IngestResult, _Mapping]]] = ..., rejection: _Optional[_Union[ErrorDetail, _Mapping]] = ...) -> None: ...

class PutBaselineRequest(_message.Message):
    __slots__ = ("store", "name", "values", "episodes")
    STORE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    EPISODES_FIELD_NUMBER: _ClassVar[int]
    store: str
    name: str
    values: _datapack_pb2.BaselineValues
    episodes: BaselineEpisodes
    def __init__(self, store: _Optional[str] = ..., name: _Optional[str] = ..., values: _Optional[_Union[_datapack_pb2.BaselineValues, _Mapping]] = ..., episodes: _Optional[_Union[BaselineEpisodes, _Mapping]] = ...) -> None: ...

class BaselineEpisodes(_message.Message):
    __slots__ = ("episodes",)
    EPISODES_FIELD_NUMBER: _ClassVar[int]
    episodes: _containers.RepeatedCompositeFieldContainer[_datapack_pb2.EpisodeInfoSummary]
    def __init__(self, episodes: _Optional[_Iterable[_Union[_datapack_pb2.EpisodeInfoSummary, _Mapping]]] = ...) -> None: ...

class NamedBaseline(_message.Message):
    __slots__ = ("name", "values", "episode_count", "builtin")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    EPISODE_COUNT_FIELD_NUMBER: _ClassVar[int]
    BUILTIN_FIELD_NUMBER: _ClassVar[int]
    name: str
    values: _datapack_pb2.BaselineValues
    episode_count: int
    builtin: bool
    def __init__(self, name: _Optional[str] = ..., values: _Optional[_Union[_datapack_pb2.BaselineValues, _Mapping]] = ..., episode_count: _Optional[int] = ..., builtin: _Optional[bool] = ...) -> None: ...

class PutBaselineResponse(_message.Message):
    __slots__ = ("baseline",)
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    baseline: NamedBaseline
    def __init__(self, baseline: _Optional[_Union[NamedBaseline, _Mapping]] = ...) -> None: ...

class ListBaselinesRequest(_message.Message):
    __slots__ = ("store",)
    STORE_FIELD_NUMBER: _ClassVar[int]
    store: str
    def __init__(self, store: _Optional[str] = ...) -> None: ...

class ListBaselinesResponse(_message.Message):
    __slots__ = ("baselines",)
    BASELINES_FIELD_NUMBER: _ClassVar[int]
    baselines: _containers.RepeatedCompositeFieldContainer[NamedBaseline]
    def __init__(self, baselines: _Optional[_Iterable[_Union[NamedBaseline, _Mapping]]] = ...) -> None: ...

class UpdateTrainingUsageRequest(_message.Message):
    __slots__ = ("store", "task_name", "pack_ids", "wm_role", "clear_wm_role", "add_training_runs")
    STORE_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    PACK_IDS_FIELD_NUMBER: _ClassVar[int]
    WM_ROLE_FIELD_NUMBER: _ClassVar[int]
    CLEAR_WM_ROLE_FIELD_NUMBER: _ClassVar[int]
    ADD_TRAINING_RUNS_FIELD_NUMBER: _ClassVar[int]
    store: str
    task_name: str
    pack_ids: _containers.RepeatedScalarFieldContainer[str]
    wm_role: str
    clear_wm_role: bool
    add_training_runs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, store: _Optional[str] = ..., task_name: _Optional[str] = ..., pack_ids: _Optional[_Iterable[str]] = ..., wm_role: _Optional[str] = ..., clear_wm_role: _Optional[bool] = ..., add_training_runs: _Optional[_Iterable[str]] = ...) -> None: ...

class TrainingUsageResult(_message.Message):
    __slots__ = ("pack_id", "status", "revision")
    PACK_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    pack_id: str
    status: RevisionStatus
    revision: int
    def __init__(self, pack_id: _Optional[str] = ..., status: _Optional[_Union[RevisionStatus, str]] = ..., revision: _Optional[int] = ...) -> None: ...

class UpdateTrainingUsageResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[TrainingUsageResult]
    def __init__(self, results: _Optional[_Iterable[_Union[TrainingUsageResult, _Mapping]]] = ...) -> None: ...

class ListTasksRequest(_message.Message):
    __slots__ = ("store",)
    STORE_FIELD_NUMBER: _ClassVar[int]
    store: str
    def __init__(self, store: _Optional[str] = ...) -> None: ...

class ListTasksResponse(_message.Message):
    __slots__ = ("task_names",)
    TASK_NAMES_FIELD_NUMBER: _ClassVar[int]
    task_names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, task_names: _Optional[_Iterable[str]] = ...) -> None: ...

class ExportPortableRequest(_message.Message):
    __slots__ = ("store", "task_name", "output_store", "max_episodes", "stride_seconds", "source_fps", "store_temporal", "token_dim", "pool_size", "repr_tokens")
    STORE_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_STORE_FIELD_NUMBER: _ClassVar[int]
    MAX_EPISODES_FIELD_NUMBER: _ClassVar[int]
    STRIDE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FPS_FIELD_NUMBER: _ClassVar[int]
    STORE_TEMPORAL_FIELD_NUMBER: _ClassVar[int]
    TOKEN_DIM_FIELD_NUMBER: _ClassVar[int]
    POOL_SIZE_FIELD_NUMBER: _ClassVar[int]
    REPR_TOKENS_FIELD_NUMBER: _ClassVar[int]
    store: str
    task_name: str
    output_store: str
    max_episodes: int
    stride_seconds: float
    source_fps: float
    store_temporal: bool
    token_dim: int
    pool_size: _containers.RepeatedScalarFieldContainer[int]
    repr_tokens: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, store: _Optional[str] = ..., task_name: _Optional[str] = ..., output_store: _Optional[str] = ..., max_episodes: _Optional[int] = ..., stride_seconds: _Optional[float] = ..., source_fps: _Optional[float] = ..., store_temporal: _Optional[bool] = ..., token_dim: _Optional[int] = ..., pool_size: _Optional[_Iterable[int]] = ..., repr_tokens: _Optional[_Iterable[str]] = ...) -> None: ...

class ExportCounters(_message.Message):
    __slots__ = ("exported", "created", "revised", "already_present", "reused_existing", "skipped_missing_raw", "skipped_missing_inputs", "skipped_bad_inputs", "unstrided_no_fps", "conflicts", "rejected_invalid", "repr_tokens_computed")
    EXPORTED_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    REVISED_FIELD_NUMBER: _ClassVar[int]
    ALREADY_PRESENT_FIELD_NUMBER: _ClassVar[int]
    REUSED_EXISTING_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_MISSING_RAW_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_MISSING_INPUTS_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_BAD_INPUTS_FIELD_NUMBER: _ClassVar[int]
    UNSTRIDED_NO_FPS_FIELD_NUMBER: _ClassVar[int]
    CONFLICTS_FIELD_NUMBER: _ClassVar[int]
    REJECTED_INVALID_FIELD_NUMBER: _ClassVar[int]
    REPR_TOKENS_COMPUTED_FIELD_NUMBER: _ClassVar[int]
    exported: int
    created: int
    revised: int
    already_present: int
    reused_existing: int
    skipped_missing_raw: int
    skipped_missing_inputs: int
    skipped_bad_inputs: int
    unstrided_no_fps: int
    conflicts: int
    rejected_invalid: int
    repr_tokens_computed: int
    def __init__(self, exported: _Optional[int] = ..., created: _Optional[int] = ..., revised: _Optional[int] = ..., already_present: _Optional[int] = ..., reused_existing: _Optional[int] = ..., skipped_missing_raw: _Optional[int] = ..., skipped_missing_inputs: _Optional[int] = ..., skipped_bad_inputs: _Optional[int] = ..., unstrided_no_fps: _Optional[int] = ..., conflicts: _Optional[int] = ..., rejected_invalid: _Optional[int] = ..., repr_tokens_computed: _Optional[int] = ...) -> None: ...

class ExportNotWritten(_message.Message):
    __slots__ = ("pack_id", "counter", "reason", "message")
    PACK_ID_FIELD_NUMBER: _ClassVar[int]
    COUNTER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    pack_id: str
    counter: str
    reason: str
    message: str
    def __init__(self, pack_id: _Optional[str] = ..., counter: _Optional[str] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ExportPortableResponse(_message.Message):
    __slots__ = ("processed", "total", "counters", "done", "not_written")
    PROCESSED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    COUNTERS_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    NOT_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    processed: int
    total: int
    counters: ExportCounters
    done: bool
    not_written: _containers.RepeatedCompositeFieldContainer[ExportNotWritten]
    def __init__(self, processed: _Optional[int] = ..., total: _Optional[int] = ..., counters: _Optional[_Union[ExportCounters, _Mapping]] = ..., done: _Optional[bool] = ..., not_written: _Optional[_Iterable[_Union[ExportNotWritten, _Mapping]]] = ...) -> None: ...
