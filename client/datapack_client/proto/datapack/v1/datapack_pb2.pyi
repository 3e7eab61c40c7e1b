from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PackedArrayKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PACKED_ARRAY_KIND_UNSPECIFIED: _ClassVar[PackedArrayKind]
    PACKED_ARRAY_KIND_FLOAT32: _ClassVar[PackedArrayKind]
    PACKED_ARRAY_KIND_FLOAT64: _ClassVar[PackedArrayKind]
    PACKED_ARRAY_KIND_INT64: _ClassVar[PackedArrayKind]
    PACKED_ARRAY_KIND_BOOL: _ClassVar[PackedArrayKind]
    PACKED_ARRAY_KIND_STRING: _ClassVar[PackedArrayKind]
PACKED_ARRAY_KIND_UNSPECIFIED: PackedArrayKind
PACKED_ARRAY_KIND_FLOAT32: PackedArrayKind
PACKED_ARRAY_KIND_FLOAT64: PackedArrayKind
PACKED_ARRAY_KIND_INT64: PackedArrayKind
PACKED_ARRAY_KIND_BOOL: PackedArrayKind
PACKED_ARRAY_KIND_STRING: PackedArrayKind

class StringList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, values: _Optional[_Iterable[str]] = ...) -> None: ...

class DoubleList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, values: _Optional[_Iterable[float]] = ...) -> None: ...

class Int64List(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, values: _Optional[_Iterable[int]] = ...) -> None: ...

class PackedObject(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[PackedEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[PackedEntry, _Mapping]]] = ...) -> None: ...

class PackedEntry(_message.Message):
    __slots__ = ("key", "array", "object", "json")
    KEY_FIELD_NUMBER: _ClassVar[int]
    ARRAY_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    key: str
    array: PackedArray
    object: PackedObject
    json: str
    def __init__(self, key: _Optional[str] = ..., array: _Optional[_Union[PackedArray, _Mapping]] = ..., object: _Optional[_Union[PackedObject, _Mapping]] = ..., json: _Optional[str] = ...) -> None: ...

class PackedArray(_message.Message):
    __slots__ = ("kind", "shape", "float_values", "double_values", "int_values", "bool_values", "string_values")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    FLOAT_VALUES_FIELD_NUMBER: _ClassVar[int]
    DOUBLE_VALUES_FIELD_NUMBER: _ClassVar[int]
    INT_VALUES_FIELD_NUMBER: _ClassVar[int]
    BOOL_VALUES_FIELD_NUMBER: _ClassVar[int]
    STRING_VALUES_FIELD_NUMBER: _ClassVar[int]
    kind: PackedArrayKind
    shape: _containers.RepeatedScalarFieldContainer[int]
    float_values: _containers.RepeatedScalarFieldContainer[float]
    double_values: _containers.RepeatedScalarFieldContainer[float]
    int_values: _containers.RepeatedScalarFieldContainer[int]
    bool_values: _containers.RepeatedScalarFieldContainer[bool]
    string_values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, kind: _Optional[_Union[PackedArrayKind, str]] = ..., shape: _Optional[_Iterable[int]] = ..., float_values: _Optional[_Iterable[float]] = ..., double_values: _Optional[_Iterable[float]] = ..., int_values: _Optional[_Iterable[int]] = ..., bool_values: _Optional[_Iterable[bool]] = ..., string_values: _Optional[_Iterable[str]] = ...) -> None: ...

class NamedNumber(_message.Message):
    __slots__ = ("name", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: float
    def __init__(self, name: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...

class SkillContribution(_message.Message):
    __slots__ = ("skill_id", "metrics_json")
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    METRICS_JSON_FIELD_NUMBER: _ClassVar[int]
    skill_id: int
    metrics_json: str
    def __init__(self, skill_id: _Optional[int] = ..., metrics_json: _Optional[str] = ...) -> None: ...

class ConditionProfile(_message.Message):
    __slots__ = ("task_name", "engine_type", "world_id", "vase_offset", "drawer_friction", "lighting_profile", "occlusion_level", "econ_preset", "price_per_unit", "vase_break_cost", "energy_price_kwh", "objective_vector", "tags_json", "extra_json", "verbatim_json")
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    ENGINE_TYPE_FIELD_NUMBER: _ClassVar[int]
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    VASE_OFFSET_FIELD_NUMBER: _ClassVar[int]
    DRAWER_FRICTION_FIELD_NUMBER: _ClassVar[int]
    LIGHTING_PROFILE_FIELD_NUMBER: _ClassVar[int]
    OCCLUSION_LEVEL_FIELD_NUMBER: _ClassVar[int]
    ECON_PRESET_FIELD_NUMBER: _ClassVar[int]
    PRICE_PER_UNIT_FIELD_NUMBER: _ClassVar[int]
    VASE_BREAK_COST_FIELD_NUMBER: _ClassVar[int]
    ENERGY_PRICE_KWH_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_VECTOR_FIELD_NUMBER: _ClassVar[int]
    TAGS_JSON_FIELD_NUMBER: _ClassVar[int]
    EXTRA_JSON_FIELD_NUMBER: _ClassVar[int]
    VERBATIM_JSON_FIELD_NUMBER: _ClassVar[int]
    task_name: str
    engine_type: str
    world_id: str
    vase_offset: _containers.RepeatedScalarFieldContainer[float]
    drawer_friction: float
    lighting_profile: str
    occlusion_level: float
    econ_preset: str
    price_per_unit: float
    vase_break_cost: float
    energy_price_kwh: float
    objective_vector: _containers.RepeatedScalarFieldContainer[float]
    tags_json: str
    extra_json: str
    verbatim_json: str
    def __init__(self, task_name: _Optional[str] = ..., engine_type: _Optional[str] = ..., world_id: _Optional[str] = ..., vase_offset: _Optional[_Iterable[float]] = ..., drawer_friction: _Optional[float] = ..., lighting_profile: _Optional[str] = ..., occlusion_level: _Optional[float] = ..., econ_preset: _Optional[str] = ..., price_per_unit: _Optional[float] = ..., vase_break_cost: _Optional[float] = ..., energy_price_kwh: _Optional[float] = ..., objective_vector: _Optional[_Iterable[float]] = ..., tags_json: _Optional[str] = ..., extra_json: _Optional[str] = ..., verbatim_json: _Optional[str] = ...) -> None: ...

class AttributionProfile(_message.Message):
    __slots__ = ("delta_mpl", "delta_error", "delta_ep", "delta_wage_parity", "delta_j", "trust_score", "w_econ", "lambda_budget", "world_model_horizon", "world_model_trust_over_horizon", "source_type", "wm_model_id", "wm_horizon_used", "wm_branch_depth", "wm_trust_over_horizon", "zv_stats_json", "mvd_score", "econ_weight_final", "used_in_training_runs", "wm_role", "skill_contribs", "delta_mpl_model", "delta_mpl_data", "delta_mpl_energy", "rebate_pct", "attributable_spread_capture", "data_premium", "tier", "env_name", "engine_type", "extra_json", "verbatim_json")
    DELTA_MPL_FIELD_NUMBER: _ClassVar[int]
    DELTA_ERROR_FIELD_NUMBER: _ClassVar[int]
    DELTA_EP_FIELD_NUMBER: _ClassVar[int]
    DELTA_WAGE_PARITY_FIELD_NUMBER: _ClassVar[int]
    DELTA_J_FIELD_NUMBER: _ClassVar[int]
    TRUST_SCORE_FIELD_NUMBER: _ClassVar[int]
    W_ECON_FIELD_NUMBER: _ClassVar[int]
    LAMBDA_BUDGET_FIELD_NUMBER: _ClassVar[int]
    WORLD_MODEL_HORIZON_FIELD_NUMBER: _ClassVar[int]
    WORLD_MODEL_TRUST_OVER_HORIZON_FIELD_NUMBER: _ClassVar[int]
    SOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    WM_MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    WM_HORIZON_USED_FIELD_NUMBER: _ClassVar[int]
    WM_BRANCH_DEPTH_FIELD_NUMBER: _ClassVar[int]
    WM_TRUST_OVER_HORIZON_FIELD_NUMBER: _ClassVar[int]
    ZV_STATS_JSON_FIELD_NUMBER: _ClassVar[int]
    MVD_SCORE_FIELD_NUMBER: _ClassVar[int]
    ECON_WEIGHT_FINAL_FIELD_NUMBER: _ClassVar[int]
    USED_IN_TRAINING_RUNS_FIELD_NUMBER: _ClassVar[int]
    WM_ROLE_FIELD_NUMBER: _ClassVar[int]
    SKILL_CONTRIBS_FIELD_NUMBER: _ClassVar[int]
    DELTA_MPL_MODEL_FIELD_NUMBER: _ClassVar[int]
    DELTA_MPL_DATA_FIELD_NUMBER: _ClassVar[int]
    DELTA_MPL_ENERGY_FIELD_NUMBER: _ClassVar[int]
    REBATE_PCT_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTABLE_SPREAD_CAPTURE_FIELD_NUMBER: _ClassVar[int]
    DATA_PREMIUM_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    ENV_NAME_FIELD_NUMBER: _ClassVar[int]
    ENGINE_TYPE_FIELD_NUMBER: _ClassVar[int]
    EXTRA_JSON_FIELD_NUMBER: _ClassVar[int]
    VERBATIM_JSON_FIELD_NUMBER: _ClassVar[int]
    delta_mpl: float
    delta_error: float
    delta_ep: float
    delta_wage_parity: float
    delta_j: float
    trust_score: float
    w_econ: float
    lambda_budget: float
    world_model_horizon: int
    world_model_trust_over_horizon: _containers.RepeatedScalarFieldContainer[float]
    source_type: str
    wm_model_id: str
    wm_horizon_used: int
    wm_branch_depth: int
    wm_trust_over_horizon: DoubleList
    zv_stats_json: str
    mvd_score: float
    econ_weight_final: float
    used_in_training_runs: _containers.RepeatedScalarFieldContainer[str]
    wm_role: str
    skill_contribs: _containers.RepeatedCompositeFieldContainer[SkillContribution]
    delta_mpl_model: float
    delta_mpl_data: float
    delta_mpl_energy: float
    rebate_pct: float
    attributable_spread_capture: float
    data_premium: float
    tier: int
    env_name: str
    engine_type: str
    extra_json: str
    verbatim_json: str
    def __init__(self, delta_mpl: _Optional[float] = ..., delta_error: _Optional[float] = ..., delta_ep: _Optional[float] = ..., delta_wage_parity: _Optional[float] = ..., delta_j: _Optional[float] = ..., trust_score: _Optional[float] = ..., w_econ: _Optional[float] = ..., lambda_budget: _Optional[float] = ..., world_model_horizon: _Optional[int] = ..., world_model_trust_over_horizon: _Optional[_Iterable[float]] = ..., source_type: _Optional[str] = ..., wm_model_id: _Optional[str] = ..., wm_horizon_used: _Optional[int] = ..., wm_branch_depth: _Optional[int] = ..., wm_trust_over_horizon: _Optional[_Union[DoubleList, _Mapping]] = ..., zv_stats_json: _Optional[str] = ..., mvd_score: _Optional[float] = ..., econ_weight_final: _Optional[float] = ..., used_in_training_runs: _Optional[_Iterable[str]] = ..., wm_role: _Optional[str] = ..., skill_contribs: _Optional[_Iterable[_Union[SkillContribution, _Mapping]]] = ..., delta_mpl_model: _Optional[float] = ..., delta_mpl_data: _Optional[float] = ..., delta_mpl_energy: _Optional[float] = ..., rebate_pct: _Optional[float] = ..., attributable_spread_capture: _Optional[float] = ..., data_premium: _Optional[float] = ..., tier: _Optional[int] = ..., env_name: _Optional[str] = ..., engine_type: _Optional[str] = ..., extra_json: _Optional[str] = ..., verbatim_json: _Optional[str] = ...) -> None: ...

class EnergyProfile(_message.Message):
    __slots__ = ("total_wh", "wh_per_unit", "wh_per_hour", "energy_per_limb_json", "energy_per_skill_json", "energy_per_joint_json", "energy_per_effector_json", "coordination_metrics", "limb_energy_wh", "skill_energy_wh", "extra_json", "verbatim_json")
    TOTAL_WH_FIELD_NUMBER: _ClassVar[int]
    WH_PER_UNIT_FIELD_NUMBER: _ClassVar[int]
    WH_PER_HOUR_FIELD_NUMBER: _ClassVar[int]
    ENERGY_PER_LIMB_JSON_FIELD_NUMBER: _ClassVar[int]
    ENERGY_PER_SKILL_JSON_FIELD_NUMBER: _ClassVar[int]
    ENERGY_PER_JOINT_JSON_FIELD_NUMBER: _ClassVar[int]
    ENERGY_PER_EFFECTOR_JSON_FIELD_NUMBER: _ClassVar[int]
    COORDINATION_METRICS_FIELD_NUMBER: _ClassVar[int]
    LIMB_ENERGY_WH_FIELD_NUMBER: _ClassVar[int]
    SKILL_ENERGY_WH_FIELD_NUMBER: _ClassVar[int]
    EXTRA_JSON_FIELD_NUMBER: _ClassVar[int]
    VERBATIM_JSON_FIELD_NUMBER: _ClassVar[int]
    total_wh: float
    wh_per_unit: float
    wh_per_hour: float
    energy_per_limb_json: str
    energy_per_skill_json: str
    energy_per_joint_json: str
    energy_per_effector_json: str
    coordination_metrics: _containers.RepeatedCompositeFieldContainer[NamedNumber]
    limb_energy_wh: _containers.RepeatedCompositeFieldContainer[NamedNumber]
    skill_energy_wh: _containers.RepeatedCompositeFieldContainer[NamedNumber]
    extra_json: str
    verbatim_json: str
    def __init__(self, total_wh: _Optional[float] = ..., wh_per_unit: _Optional[float] = ..., wh_per_hour: _Optional[float] = ..., energy_per_limb_json: _Optional[str] = ..., energy_per_skill_json: _Optional[str] = ..., energy_per_joint_json: _Optional[str] = ..., energy_per_effector_json: _Optional[str] = ..., coordination_metrics: _Optional[_Iterable[_Union[NamedNumber, _Mapping]]] = ..., limb_energy_wh: _Optional[_Iterable[_Union[NamedNumber, _Mapping]]] = ..., skill_energy_wh: _Optional[_Iterable[_Union[NamedNumber, _Mapping]]] = ..., extra_json: _Optional[str] = ..., verbatim_json: _Optional[str] = ...) -> None: ...

class SimaAnnotation(_message.Message):
    __slots__ = ("instruction", "step_narrations", "sima_agent_id", "source_world", "derived_skill_plan", "vla_references_json", "narration_count", "average_narration_length", "extra_json", "verbatim_json")
    INSTRUCTION_FIELD_NUMBER: _ClassVar[int]
    STEP_NARRATIONS_FIELD_NUMBER: _ClassVar[int]
    SIMA_AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_WORLD_FIELD_NUMBER: _ClassVar[int]
    DERIVED_SKILL_PLAN_FIELD_NUMBER: _ClassVar[int]
    VLA_REFERENCES_JSON_FIELD_NUMBER: _ClassVar[int]
    NARRATION_COUNT_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_NARRATION_LENGTH_FIELD_NUMBER: _ClassVar[int]
    EXTRA_JSON_FIELD_NUMBER: _ClassVar[int]
    VERBATIM_JSON_FIELD_NUMBER: _ClassVar[int]
    instruction: str
    step_narrations: _containers.RepeatedScalarFieldContainer[str]
    sima_agent_id: str
    source_world: str
    derived_skill_plan: _containers.RepeatedScalarFieldContainer[int]
    vla_references_json: str
    narration_count: int
    average_narration_length: float
    extra_json: str
    verbatim_json: str
    def __init__(self, instruction: _Optional[str] = ..., step_narrations: _Optional[_Iterable[str]] = ..., sima_agent_id: _Optional[str] = ..., source_world: _Optional[str] = ..., derived_skill_plan: _Optional[_Iterable[int]] = ..., vla_references_json: _Optional[str] = ..., narration_count: _Optional[int] = ..., average_narration_length: _Optional[float] = ..., extra_json: _Optional[str] = ..., verbatim_json: _Optional[str] = ...) -> None: ...

class ObjectiveProfile(_message.Message):
    __slots__ = ("objective_vector", "wage_human", "energy_price_kwh", "market_region", "task_family", "customer_segment", "baseline_mpl_human", "baseline_error_human", "env_name", "engine_type", "task_type", "econ_profile_deltas", "econ_params_effective_json", "reward_weights", "extra_json", "verbatim_json")
    OBJECTIVE_VECTOR_FIELD_NUMBER: _ClassVar[int]
    WAGE_HUMAN_FIELD_NUMBER: _ClassVar[int]
    ENERGY_PRICE_KWH_FIELD_NUMBER: _ClassVar[int]
    MARKET_REGION_FIELD_NUMBER: _ClassVar[int]
    TASK_FAMILY_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_SEGMENT_FIELD_NUMBER: _ClassVar[int]
    BASELINE_MPL_HUMAN_FIELD_NUMBER: _ClassVar[int]
    BASELINE_ERROR_HUMAN_FIELD_NUMBER: _ClassVar[int]
    ENV_NAME_FIELD_NUMBER: _ClassVar[int]
    ENGINE_TYPE_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    ECON_PROFILE_DELTAS_FIELD_NUMBER: _ClassVar[int]
    ECON_PARAMS_EFFECTIVE_JSON_FIELD_NUMBER: _ClassVar[int]
    REWARD_WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    EXTRA_JSON_FIELD_NUMBER: _ClassVar[int]
    VERBATIM_JSON_FIELD_NUMBER: _ClassVar[int]
    objective_vector: _containers.RepeatedScalarFieldContainer[float]
    wage_human: float
    energy_price_kwh: float
    market_region: str
    task_family: str
    customer_segment: str
    baseline_mpl_human: float
    baseline_error_human: float
    env_name: str
    engine_type: str
    task_type: str
    econ_profile_deltas: DoubleList
    econ_params_effective_json: str
    reward_weights: DoubleList
    extra_json: str
    verbatim_json: str
    def __init__(self, objective_vector: _Optional[_Iterable[float]] = ..., wage_human: _Optional[float] = ..., energy_price_kwh: _Optional[float] = ..., market_region: _Optional[str] = ..., task_family: _Optional[str] = ..., customer_segment: _Optional[str] = ..., baseline_mpl_human: _Optional[float] = ..., baseline_error_human: _Optional[float] = ..., env_name: _Optional[str] = ..., engine_type: _Optional[str] = ..., task_type: _Optional[str] = ..., econ_profile_deltas: _Optional[_Union[DoubleList, _Mapping]] = ..., econ_params_effective_json: _Optional[str] = ..., reward_weights: _Optional[_Union[DoubleList, _Mapping]] = ..., extra_json: _Optional[str] = ..., verbatim_json: _Optional[str] = ...) -> None: ...

class ProcessRewardProfile(_message.Message):
    __slots__ = ("phi_star_mean", "phi_star_final", "phi_star_delta", "conf_mean", "conf_p10", "conf_min", "r_shape_sum", "disagreement_mean", "disagreement_max", "entropy_mean", "entropy_max", "phi_b_disabled", "orchestrator_override_json", "extra_json", "verbatim_json")
    PHI_STAR_MEAN_FIELD_NUMBER: _ClassVar[int]
    PHI_STAR_FINAL_FIELD_NUMBER: _ClassVar[int]
    PHI_STAR_DELTA_FIELD_NUMBER: _ClassVar[int]
    CONF_MEAN_FIELD_NUMBER: _ClassVar[int]
    CONF_P10_FIELD_NUMBER: _ClassVar[int]
    CONF_MIN_FIELD_NUMBER: _ClassVar[int]
    R_SHAPE_SUM_FIELD_NUMBER: _ClassVar[int]
    DISAGREEMENT_MEAN_FIELD_NUMBER: _ClassVar[int]
    DISAGREEMENT_MAX_FIELD_NUMBER: _ClassVar[int]
    ENTROPY_MEAN_FIELD_NUMBER: _ClassVar[int]
    ENTROPY_MAX_FIELD_NUMBER: _ClassVar[int]
    PHI_B_DISABLED_FIELD_NUMBER: _ClassVar[int]
    ORCHESTRATOR_OVERRIDE_JSON_FIELD_NUMBER: _ClassVar[int]
    EXTRA_JSON_FIELD_NUMBER: _ClassVar[int]
    VERBATIM_JSON_FIELD_NUMBER: _ClassVar[int]
    phi_star_mean: float
    phi_star_final: float
    phi_star_delta: float
    conf_mean: float
    conf_p10: float
    conf_min: float
    r_shape_sum: float
    disagreement_mean: float
    disagreement_max: float
    entropy_mean: float
    entropy_max: float
    phi_b_disabled: bool
    orchestrator_override_json: str
    extra_json: str
    verbatim_json: str
    def __init__(self, phi_star_mean: _Optional[float] = ..., phi_star_final: _Optional[float] = ..., phi_star_delta: _Optional[float] = ..., conf_mean: _Optional[float] = ..., conf_p10: _Optional[float] = ..., conf_min: _Optional[float] = ..., r_shape_sum: _Optional[float] = ..., disagreement_mean: _Optional[float] = ..., disagreement_max: _Optional[float] = ..., entropy_mean: _Optional[float] = ..., entropy_max: _Optional[float] = ..., phi_b_disabled: _Optional[bool] = ..., orchestrator_override_json: _Optional[str] = ..., extra_json: _Optional[str] = ..., verbatim_json: _Optional[str] = ...) -> None: ...

class EmbodimentProfileSummary(_message.Message):
    __slots__ = ("w_embodiment", "embodiment_quality_score", "trust_override_candidate", "physically_impossible_contacts", "contact_coverage_pct", "semantic_confidence_mean", "drift_score", "embodiment_profile_npz", "affordance_graph_npz", "skill_segments_npz", "cost_breakdown_json", "value_attribution_json", "drift_report_json", "calibration_targets_json", "summary_jsonl", "cost_summary_json", "value_summary_json", "diagnostics_json", "extra_json", "verbatim_json")
    W_EMBODIMENT_FIELD_NUMBER: _ClassVar[int]
    EMBODIMENT_QUALITY_SCORE_FIELD_NUMBER: _ClassVar[int]
    TRUST_OVERRIDE_CANDIDATE_FIELD_NUMBER: _ClassVar[int]
    PHYSICALLY_IMPOSSIBLE_CONTACTS_FIELD_NUMBER: _ClassVar[int]
    CONTACT_COVERAGE_PCT_FIELD_NUMBER: _ClassVar[int]
    SEMANTIC_CONFIDENCE_MEAN_FIELD_NUMBER: _ClassVar[int]
    DRIFT_SCORE_FIELD_NUMBER: _ClassVar[int]
    EMBODIMENT_PROFILE_NPZ_FIELD_NUMBER: _ClassVar[int]
    AFFORDANCE_GRAPH_NPZ_FIELD_NUMBER: _ClassVar[int]
    SKILL_SEGMENTS_NPZ_FIELD_NUMBER: _ClassVar[int]
    COST_BREAKDOWN_JSON_FIELD_NUMBER: _ClassVar[int]
    VALUE_ATTRIBUTION_JSON_FIELD_NUMBER: _ClassVar[int]
    DRIFT_REPORT_JSON_FIELD_NUMBER: _ClassVar[int]
    CALIBRATION_TARGETS_JSON_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_JSONL_FIELD_NUMBER: _ClassVar[int]
    COST_SUMMARY_JSON_FIELD_NUMBER: _ClassVar[int]
    VALUE_SUMMARY_JSON_FIELD_NUMBER: _ClassVar[int]
    DIAGNOSTICS_JSON_FIELD_NUMBER: _ClassVar[int]
    EXTRA_JSON_FIELD_NUMBER: _ClassVar[int]
    VERBATIM_JSON_FIELD_NUMBER: _ClassVar[int]
    w_embodiment: float
    embodiment_quality_score: float
    trust_override_candidate: bool
    physically_impossible_contacts: int
    contact_coverage_pct: float
    semantic_confidence_mean: float
    drift_score: float
    embodiment_profile_npz: str
    affordance_graph_npz: str
    skill_segments_npz: str
    cost_breakdown_json: str
    value_attribution_json: str
    drift_report_json: str
    calibration_targets_json: str
    summary_jsonl: str
    cost_summary_json: str
    value_summary_json: str
    diagnostics_json: str
    extra_json: str
    verbatim_json: str
    def __init__(self, w_embodiment: _Optional[float] = ..., embodiment_quality_score: _Optional[float] = ..., trust_override_candidate: _Optional[bool] = ..., physically_impossible_contacts: _Optional[int] = ..., contact_coverage_pct: _Optional[float] = ..., semantic_confidence_mean: _Optional[float] = ..., drift_score: _Optional[float] = ..., embodiment_profile_npz: _Optional[str] = ..., affordance_graph_npz: _Optional[str] = ..., skill_segments_npz: _Optional[str] = ..., cost_breakdown_json: _Optional[str] = ..., value_attribution_json: _Optional[str] = ..., drift_report_json: _Optional[str] = ..., calibration_targets_json: _Optional[str] = ..., summary_jsonl: _Optional[str] = ..., cost_summary_json: _Optional[str] = ..., value_summary_json: _Optional[str] = ..., diagnostics_json: _Optional[str] = ..., extra_json: _Optional[str] = ..., verbatim_json: _Optional[str] = ...) -> None: ...

class GuidanceProfile(_message.Message):
    __slots__ = ("is_good", "quality_label", "env_name", "engine_type", "task_type", "customer_segment", "objective_vector", "main_driver", "delta_mpl", "delta_error", "delta_energy_wh", "delta_j", "semantic_tags", "orchestrator_plan_id", "orchestrator_step_index", "extra_json", "verbatim_json")
    IS_GOOD_FIELD_NUMBER: _ClassVar[int]
    QUALITY_LABEL_FIELD_NUMBER: _ClassVar[int]
    ENV_NAME_FIELD_NUMBER: _ClassVar[int]
    ENGINE_TYPE_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_SEGMENT_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_VECTOR_FIELD_NUMBER: _ClassVar[int]
    MAIN_DRIVER_FIELD_NUMBER: _ClassVar[int]
    DELTA_MPL_FIELD_NUMBER: _ClassVar[int]
    DELTA_ERROR_FIELD_NUMBER: _ClassVar[int]
    DELTA_ENERGY_WH_FIELD_NUMBER: _ClassVar[int]
    DELTA_J_FIELD_NUMBER: _ClassVar[int]
    SEMANTIC_TAGS_FIELD_NUMBER: _ClassVar[int]
    ORCHESTRATOR_PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    ORCHESTRATOR_STEP_INDEX_FIELD_NUMBER: _ClassVar[int]
    EXTRA_JSON_FIELD_NUMBER: _ClassVar[int]
    VERBATIM_JSON_FIELD_NUMBER: _ClassVar[int]
    is_good: bool
    quality_label: str
    env_name: str
    engine_type: str
    task_type: str
    customer_segment: str
    objective_vector: _containers.RepeatedScalarFieldContainer[float]
    main_driver: str
    delta_mpl: float
    delta_error: float
    delta_energy_wh: float
    delta_j: float
    semantic_tags: _containers.RepeatedScalarFieldContainer[str]
    orchestrator_plan_id: str
    orchestrator_step_index: int
    extra_json: str
    verbatim_json: str
    def __init__(self, is_good: _Optional[bool] = ..., quality_label: _Optional[str] = ..., env_name: _Optional[str] = ..., engine_type: _Optional[str] = ..., task_type: _Optional[str] = ..., customer_segment: _Optional[str] = ..., objective_vector: _Optional[_Iterable[float]] = ..., main_driver: _Optional[str] = ..., delta_mpl: _Optional[float] = ..., delta_error: _Optional[float] = ..., delta_energy_wh: _Optional[float] = ..., delta_j: _Optional[float] = ..., semantic_tags: _Optional[_Iterable[str]] = ..., orchestrator_plan_id: _Optional[str] = ..., orchestrator_step_index: _Optional[int] = ..., extra_json: _Optional[str] = ..., verbatim_json: _Optional[str] = ...) -> None: ...

class SkillTraceEntry(_message.Message):
    __slots__ = ("t", "skill_id", "params_json", "duration", "local_metrics_json", "extra_json", "verbatim_json")
    T_FIELD_NUMBER: _ClassVar[int]
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    PARAMS_JSON_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    LOCAL_METRICS_JSON_FIELD_NUMBER: _ClassVar[int]
    EXTRA_JSON_FIELD_NUMBER: _ClassVar[int]
    VERBATIM_JSON_FIELD_NUMBER: _ClassVar[int]
    t: int
    skill_id: int
    params_json: str
    duration: int
    local_metrics_json: str
    extra_json: str
    verbatim_json: str
    def __init__(self, t: _Optional[int] = ..., skill_id: _Optional[int] = ..., params_json: _Optional[str] = ..., duration: _Optional[int] = ..., local_metrics_json: _Optional[str] = ..., extra_json: _Optional[str] = ..., verbatim_json: _Optional[str] = ...) -> None: ...

class DataPackMeta(_message.Message):
    __slots__ = ("schema_version", "pack_id", "task_name", "env_type", "brick_id", "bucket", "semantic_tags", "econ_semantic_tags", "semantic_quality", "energy_driver_tags", "condition", "attribution", "energy", "agent_profile_json", "skill_trace", "episode_metrics_json", "sima_annotation", "vla_plan_json", "objective_profile", "process_reward_profile", "embodiment_profile", "counterfactual_plan_json", "counterfactual_source", "created_at", "episode_id", "episode_index", "raw_data_path", "scene_tracks_v1", "rgb_features_v1", "slice_labels_v1_json", "repr_tokens", "guidance_profile", "vla_action_summary_json", "episode_embedding", "epiplexity_json", "epiplexity_summary_json", "signal_bundle_json", "graph_summary_v1_json", "econ_tensor_v1_json", "regal_annotations_json", "regal_annotations_sha", "extra_json", "verbatim_json", "revision", "omitted_fields")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    PACK_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    ENV_TYPE_FIELD_NUMBER: _ClassVar[int]
    BRICK_ID_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    SEMANTIC_TAGS_FIELD_NUMBER: _ClassVar[int]
    ECON_SEMANTIC_TAGS_FIELD_NUMBER: _ClassVar[int]
    SEMANTIC_QUALITY_FIELD_NUMBER: _ClassVar[int]
    ENERGY_DRIVER_TAGS_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    ENERGY_FIELD_NUMBER: _ClassVar[int]
    AGENT_PROFILE_JSON_FIELD_NUMBER: _ClassVar[int]
    SKILL_TRACE_FIELD_NUMBER: _ClassVar[int]
    EPISODE_METRICS_JSON_FIELD_NUMBER: _ClassVar[int]
    SIMA_ANNOTATION_FIELD_NUMBER: _ClassVar[int]
    VLA_PLAN_JSON_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_PROFILE_FIELD_NUMBER: _ClassVar[int]
    PROCESS_REWARD_PROFILE_FIELD_NUMBER: _ClassVar[int]
    EMBODIMENT_PROFILE_FIELD_NUMBER: _ClassVar[int]
    COUNTERFACTUAL_PLAN_JSON_FIELD_NUMBER: _ClassVar[int]
    COUNTERFACTUAL_SOURCE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EPISODE_ID_FIELD_NUMBER: _ClassVar[int]
    EPISODE_INDEX_FIELD_NUMBER: _ClassVar[int]
    RAW_DATA_PATH_FIELD_NUMBER: _ClassVar[int]
    SCENE_TRACKS_V1_FIELD_NUMBER: _ClassVar[int]
    RGB_FEATURES_V1_FIELD_NUMBER: _ClassVar[int]
    SLICE_LABELS_V1_JSON_FIELD_NUMBER: _ClassVar[int]
    REPR_TOKENS_FIELD_NUMBER: _ClassVar[int]
    GUIDANCE_PROFILE_FIELD_NUMBER: _ClassVar[int]
    VLA_ACTION_SUMMARY_JSON_FIELD_NUMBER: _ClassVar[int]
    EPISODE_EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    EPIPLEXITY_JSON_FIELD_NUMBER: _ClassVar[int]
    EPIPLEXITY_SUMMARY_JSON_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_BUNDLE_JSON_FIELD_NUMBER: _ClassVar[int]
    GRAPH_SUMMARY_V1_JSON_FIELD_NUMBER: _ClassVar[int]
    ECON_TENSOR_V1_JSON_FIELD_NUMBER: _ClassVar[int]
    REGAL_ANNOTATIONS_JSON_FIELD_NUMBER: _ClassVar[int]
    REGAL_ANNOTATIONS_SHA_FIELD_NUMBER: _ClassVar[int]
    EXTRA_JSON_FIELD_NUMBER: _ClassVar[int]
    VERBATIM_JSON_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    OMITTED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    schema_version: str
    pack_id: str
    task_name: str
    env_type: str
    brick_id: str
    bucket: str
    semantic_tags: _containers.RepeatedScalarFieldContainer[str]
    econ_semantic_tags: StringList
    semantic_quality: float
    energy_driver_tags: _containers.RepeatedScalarFieldContainer[str]
    condition: ConditionProfile
    attribution: AttributionProfile
    energy: EnergyProfile
    agent_profile_json: str
    skill_trace: _containers.RepeatedCompositeFieldContainer[SkillTraceEntry]
    episode_metrics_json: str
    sima_annotation: SimaAnnotation
    vla_plan_json: str
    objective_profile: ObjectiveProfile
    process_reward_profile: ProcessRewardProfile
    embodiment_profile: EmbodimentProfileSummary
    counterfactual_plan_json: str
    counterfactual_source: str
    created_at: str
    episode_id: str
    episode_index: int
    raw_data_path: str
    scene_tracks_v1: PackedObject
    rgb_features_v1: PackedObject
    slice_labels_v1_json: str
    repr_tokens: PackedObject
    guidance_profile: GuidanceProfile
    vla_action_summary_json: str
    episode_embedding: DoubleList
    epiplexity_json: str
    epiplexity_summary_json: str
    signal_bundle_json: str
    graph_summary_v1_json: str
    econ_tensor_v1_json: str
    regal_annotations_json: str
    regal_annotations_sha: str
    extra_json: str
    verbatim_json: str
    revision: int
    omitted_fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, schema_version: _Optional[str] = ..., pack_id: _Optional[str] = ..., task_name: _Optional[str] = ..., env_type: _Optional[str] = ..., brick_id: _Optional[str] = ..., bucket: _Optional[str] = ..., semantic_tags: _Optional[_Iterable[str]] = ..., econ_semantic_tags: _Optional[_Union[StringList, _Mapping]] = ..., semantic_quality: _Optional[float] = ..., energy_driver_tags: _Optional[_Iterable[str]] = ..., condition: _Optional[_Union[ConditionProfile, _Mapping]] = ..., attribution: _Optional[_Union[AttributionProfile, _Mapping]] = ..., energy: _Optional[_Union[EnergyProfile, _Mapping]] = ..., agent_profile_json: _Optional[str] = ..., skill_trace: _Optional[_Iterable[_Union[SkillTraceEntry, _Mapping]]] = ..., episode_metrics_json: _Optional[str] = ..., sima_annotation: _Optional[_Union[SimaAnnotation, _Mapping]] = ..., vla_plan_json: _Optional[str] = ..., objective_profile: _Optional[_Union[ObjectiveProfile, _Mapping]] = ..., process_reward_profile: _Optional[_Union[ProcessRewardProfile, _Mapping]] = ..., embodiment_profile: _Optional[_Union[EmbodimentProfileSummary, _Mapping]] = ..., counterfactual_plan_json: _Optional[str] = ..., counterfactual_source: _Optional[str] = ..., created_at: _Optional[str] = ..., episode_id: _Optional[str] = ..., episode_index: _Optional[int] = ..., raw_data_path: _Optional[str] = ..., scene_tracks_v1: _Optional[_Union[PackedObject, _Mapping]] = ..., rgb_features_v1: _Optional[_Union[PackedObject, _Mapping]] = ..., slice_labels_v1_json: _Optional[str] = ..., repr_tokens: _Optional[_Union[PackedObject, _Mapping]] = ..., guidance_profile: _Optional[_Union[GuidanceProfile, _Mapping]] = ..., vla_action_summary_json: _Optional[str] = ..., episode_embedding: _Optional[_Union[DoubleList, _Mapping]] = ..., epiplexity_json: _Optional[str] = ..., epiplexity_summary_json: _Optional[str] = ..., signal_bundle_json: _Optional[str] = ..., graph_summary_v1_json: _Optional[str] = ..., econ_tensor_v1_json: _Optional[str] = ..., regal_annotations_json: _Optional[str] = ..., regal_annotations_sha: _Optional[str] = ..., extra_json: _Optional[str] = ..., verbatim_json: _Optional[str] = ..., revision: _Optional[int] = ..., omitted_fields: _Optional[_Iterable[str]] = ...) -> None: ...

class EpisodeInfoSummary(_message.Message):
    __slots__ = ("termination_reason", "mpl_episode", "ep_episode", "error_rate_episode", "throughput_units_per_hour", "energy_wh", "energy_wh_per_unit", "energy_wh_per_hour", "limb_energy_wh", "skill_energy_wh", "energy_per_limb_json", "energy_per_skill_json", "energy_per_joint_json", "energy_per_effector_json", "coordination_metrics", "profit", "episode_id", "media_refs_json", "wage_parity")
    TERMINATION_REASON_FIELD_NUMBER: _ClassVar[int]
    MPL_EPISODE_FIELD_NUMBER: _ClassVar[int]
    EP_EPISODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_RATE_EPISODE_FIELD_NUMBER: _ClassVar[int]
    THROUGHPUT_UNITS_PER_HOUR_FIELD_NUMBER: _ClassVar[int]
    ENERGY_WH_FIELD_NUMBER: _ClassVar[int]
    ENERGY_WH_PER_UNIT_FIELD_NUMBER: _ClassVar[int]
    ENERGY_WH_PER_HOUR_FIELD_NUMBER: _ClassVar[int]
    LIMB_ENERGY_WH_FIELD_NUMBER: _ClassVar[int]
    SKILL_ENERGY_WH_FIELD_NUMBER: _ClassVar[int]
    ENERGY_PER_LIMB_JSON_FIELD_NUMBER: _ClassVar[int]
    ENERGY_PER_SKILL_JSON_FIELD_NUMBER: _ClassVar[int]
    ENERGY_PER_JOINT_JSON_FIELD_NUMBER: _ClassVar[int]
    ENERGY_PER_EFFECTOR_JSON_FIELD_NUMBER: _ClassVar[int]
    COORDINATION_METRICS_FIELD_NUMBER: _ClassVar[int]
    PROFIT_FIELD_NUMBER: _ClassVar[int]
    EPISODE_ID_FIELD_NUMBER: _ClassVar[int]
    MEDIA_REFS_JSON_FIELD_NUMBER: _ClassVar[int]
    WAGE_PARITY_FIELD_NUMBER: _ClassVar[int]
    termination_reason: str
    mpl_episode: float
    ep_episode: float
    error_rate_episode: float
    throughput_units_per_hour: float
    energy_wh: float
    energy_wh_per_unit: float
    energy_wh_per_hour: float
    limb_energy_wh: _containers.RepeatedCompositeFieldContainer[NamedNumber]
    skill_energy_wh: _containers.RepeatedCompositeFieldContainer[NamedNumber]
    energy_per_limb_json: str
    energy_per_skill_json: str
    energy_per_joint_json: str
    energy_per_effector_json: str
    coordination_metrics: _containers.RepeatedCompositeFieldContainer[NamedNumber]
    profit: float
    episode_id: str
    media_refs_json: str
    wage_parity: float
    def __init__(self, termination_reason: _Optional[str] = ..., mpl_episode: _Optional[float] = ..., ep_episode: _Optional[float] = ..., error_rate_episode: _Optional[float] = ..., throughput_units_per_hour: _Optional[float] = ..., energy_wh: _Optional[float] = ..., energy_wh_per_unit: _Optional[float] = ..., energy_wh_per_hour: _Optional[float] = ..., limb_energy_wh: _Optional[_Iterable[_Union[NamedNumber, _Mapping]]] = ..., skill_energy_wh: _Optional[_Iterable[_Union[NamedNumber, _Mapping]]] = ..., energy_per_limb_json: _Optional[str] = ..., energy_per_skill_json: _Optional[str] = ..., energy_per_joint_json: _Optional[str] = ..., energy_per_effector_json: _Optional[str] = ..., coordination_metrics: _Optional[_Iterable[_Union[NamedNumber, _Mapping]]] = ..., profit: _Optional[float] = ..., episode_id: _Optional[str] = ..., media_refs_json: _Optional[str] = ..., wage_parity: _Optional[float] = ...) -> None: ...

class EconParams(_message.Message):
    __slots__ = ("price_per_unit", "damage_cost", "energy_wh_per_attempt", "time_step_s", "base_rate", "p_min", "k_err", "q_speed", "q_care", "care_cost", "max_steps", "max_catastrophic_errors", "max_error_rate_sla", "min_steps_for_sla", "zero_throughput_patience", "preset", "value_per_unit", "vase_break_cost", "electricity_price_kwh", "other_costs_per_hr", "allowable_risk_tolerance", "fragility_penalty_coeff")
    PRICE_PER_UNIT_FIELD_NUMBER: _ClassVar[int]
    DAMAGE_COST_FIELD_NUMBER: _ClassVar[int]
    ENERGY_WH_PER_ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    TIME_STEP_S_FIELD_NUMBER: _ClassVar[int]
    BASE_RATE_FIELD_NUMBER: _ClassVar[int]
    P_MIN_FIELD_NUMBER: _ClassVar[int]
    K_ERR_FIELD_NUMBER: _ClassVar[int]
    Q_SPEED_FIELD_NUMBER: _ClassVar[int]
    Q_CARE_FIELD_NUMBER: _ClassVar[int]
    CARE_COST_FIELD_NUMBER: _ClassVar[int]
    MAX_STEPS_FIELD_NUMBER: _ClassVar[int]
    MAX_CATASTROPHIC_ERRORS_FIELD_NUMBER: _ClassVar[int]
    MAX_ERROR_RATE_SLA_FIELD_NUMBER: _ClassVar[int]
    MIN_STEPS_FOR_SLA_FIELD_NUMBER: _ClassVar[int]
    ZERO_THROUGHPUT_PATIENCE_FIELD_NUMBER: _ClassVar[int]
    PRESET_FIELD_NUMBER: _ClassVar[int]
    VALUE_PER_UNIT_FIELD_NUMBER: _ClassVar[int]
    VASE_BREAK_COST_FIELD_NUMBER: _ClassVar[int]
    ELECTRICITY_PRICE_KWH_FIELD_NUMBER: _ClassVar[int]
    OTHER_COSTS_PER_HR_FIELD_NUMBER: _ClassVar[int]
    ALLOWABLE_RISK_TOLERANCE_FIELD_NUMBER: _ClassVar[int]
    FRAGILITY_PENALTY_COEFF_FIELD_NUMBER: _ClassVar[int]
    price_per_unit: float
    damage_cost: float
    energy_wh_per_attempt: float
    time_step_s: float
    base_rate: float
    p_min: float
    k_err: float
    q_speed: float
    q_care: float
    care_cost: float
    max_steps: int
    max_catastrophic_errors: int
    max_error_rate_sla: float
    min_steps_for_sla: int
    zero_throughput_patience: int
    preset: str
    value_per_unit: float
    vase_break_cost: float
    electricity_price_kwh: float
    other_costs_per_hr: float
    allowable_risk_tolerance: float
    fragility_penalty_coeff: float
    def __init__(self, price_per_unit: _Optional[float] = ..., damage_cost: _Optional[float] = ..., energy_wh_per_attempt: _Optional[float] = ..., time_step_s: _Optional[float] = ..., base_rate: _Optional[float] = ..., p_min: _Optional[float] = ..., k_err: _Optional[float] = ..., q_speed: _Optional[float] = ..., q_care: _Optional[float] = ..., care_cost: _Optional[float] = ..., max_steps: _Optional[int] = ..., max_catastrophic_errors: _Optional[int] = ..., max_error_rate_sla: _Optional[float] = ..., min_steps_for_sla: _Optional[int] = ..., zero_throughput_patience: _Optional[int] = ..., preset: _Optional[str] = ..., value_per_unit: _Optional[float] = ..., vase_break_cost: _Optional[float] = ..., electricity_price_kwh: _Optional[float] = ..., other_costs_per_hr: _Optional[float] = ..., allowable_risk_tolerance: _Optional[float] = ..., fragility_penalty_coeff: _Optional[float] = ...) -> None: ...

class Baseline(_message.Message):
    __slots__ = ("values", "name")
    VALUES_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    values: BaselineValues
    name: str
    def __init__(self, values: _Optional[_Union[BaselineValues, _Mapping]] = ..., name: _Optional[str] = ...) -> None: ...

class BaselineValues(_message.Message):
    __slots__ = ("mpl", "error", "ep", "wage_parity")
    MPL_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    EP_FIELD_NUMBER: _ClassVar[int]
    WAGE_PARITY_FIELD_NUMBER: _ClassVar[int]
    mpl: float
    error: float
    ep: float
    wage_parity: float
    def __init__(self, mpl: _Optional[float] = ..., error: _Optional[float] = ..., ep: _Optional[float] = ..., wage_parity: _Optional[float] = ...) -> None: ...
