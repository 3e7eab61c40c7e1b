"""The economics of one episode (docs/building.md §3, §2.2 steps 3-5 and 7): the
objective vector, the canonical ΔJ and its bucket, and the attribution profile.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from datapack_client.building.inputs import Baseline, EpisodeInfoSummary, summary_of
from datapack_client.building.values import is_number, optional_number, plain
from datapack_client.errors import invalid
from datapack_client.records import schema

DEFAULT_OBJECTIVE_VECTOR = (1.0, 1.0, 1.0, 0.5)
DEFAULT_ALPHA_SAFETY = 0.5
SAFETY_BONUS_VASE_BROKEN = -10.0
MIN_BASELINE = 1e-6


def normalize_objective_vector(v: Any, field_: str = "condition.objective_vector") -> list[float]:
    """α = [α_mpl, α_error, α_ep, α_safety]: None -> [1, 1, 1, 0.5]; three
    elements get α_safety 0.5 appended; four are used as given; any other
    length or a non-finite / non-numeric element -> OBJECTIVE_VECTOR_INVALID."""
    if v is None:
        return list(DEFAULT_OBJECTIVE_VECTOR)
    p = plain(v)
    if type(p) is not list or len(p) not in (3, 4):
        raise invalid(field_, "OBJECTIVE_VECTOR_INVALID",
                      f"objective_vector must be a list of 3 or 4 numbers, got {v!r}")
    out = []
    for i, x in enumerate(p):
        if not is_number(x) or not math.isfinite(x):
            raise invalid(field_, "OBJECTIVE_VECTOR_INVALID",
                          f"objective_vector[{i}] must be a finite number, got {x!r}")
        out.append(float(x))
    if len(out) == 3:
        out.append(DEFAULT_ALPHA_SAFETY)
    return out


def delta_j_terms(mpl: float, err: float, ep: float, base: Baseline, alpha: list[float],
                  vase_broken: bool) -> tuple[float, float, float, float]:
    """(ΔMPL, Δerror, ΔEP, ΔJ) of checked inputs; a non-finite ΔJ -> DELTA_J_NOT_FINITE."""
    d_mpl = (mpl - base.mpl) / max(base.mpl, MIN_BASELINE)
    d_err = err - base.error
    d_ep = (ep - base.ep) / max(base.ep, MIN_BASELINE)
    safety_bonus = SAFETY_BONUS_VASE_BROKEN if vase_broken else 0.0
    dj = alpha[0] * d_mpl - alpha[1] * d_err + alpha[2] * d_ep + alpha[3] * safety_bonus
    if not math.isfinite(dj):
        bad = [f"episode_info.{n}={v!r}" for n, v in (("mpl_episode", mpl), ("error_rate_episode", err),
                                                     ("ep_episode", ep)) if not math.isfinite(v)]
        cause = f"non-finite input(s): {', '.join(bad)}" if bad else "overflow"
        raise invalid("attribution.delta_J", "DELTA_J_NOT_FINITE", f"delta_J is not finite ({dj!r}); {cause}")
    return d_mpl, d_err, d_ep, dj


def delta_j(summary: Any, baseline: Baseline, objective_vector: Any = None,
            vase_broken: bool = False) -> tuple[float, float, float, float]:
    """(ΔMPL, Δerror, ΔEP, ΔJ) of docs/building.md §3, in double precision in
    the order written:

        ΔMPL  = (mpl_episode − baseline.mpl) / max(baseline.mpl, 1e-6)
        Δerror = error_rate_episode − baseline.error
        ΔEP   = (ep_episode − baseline.ep) / max(baseline.ep, 1e-6)
        ΔJ = α_mpl·ΔMPL − α_error·Δerror + α_ep·ΔEP + α_safety·(−10 if vase_broken else 0)

    `summary`: an EpisodeInfoSummary or dict; `objective_vector`: 3 or 4
    numbers or None (default [1, 1, 1, 0.5]). A non-finite ΔJ ->
    INVALID_ARGUMENT, DELTA_J_NOT_FINITE."""
    s = summary_of(summary)
    if not isinstance(baseline, Baseline):
        raise invalid("baseline", "BASELINE_INVALID", f"baseline must be a Baseline, got {type(baseline).__name__}")
    alpha = normalize_objective_vector(objective_vector)
    return delta_j_terms(s.mpl_episode, s.error_rate_episode, s.ep_episode, baseline, alpha, bool(vase_broken))


@dataclass(frozen=True)
class Outcome:
    """Steps 3-5: the objective vector α, the ΔJ terms and the bucket."""

    alpha: list[float]
    delta_mpl: float
    delta_error: float
    delta_ep: float
    delta_j: float

    @property
    def bucket(self) -> str:
        return "positive" if self.delta_j >= 0 else "negative"


def episode_outcome(summary: EpisodeInfoSummary, objective_vector: Any, base: Baseline,
                    vase_broken: bool) -> Outcome:
    """§2.2 steps 3-5: α from the condition profile's objective_vector, ΔJ, bucket."""
    alpha = normalize_objective_vector(objective_vector)
    terms = delta_j_terms(summary.mpl_episode, summary.error_rate_episode, summary.ep_episode, base, alpha,
                          vase_broken)
    return Outcome(alpha, *terms)


def attribution_profile(outcome: Outcome, base: Baseline, wage_parity: float | None, *, trust_score: Any,
                        w_econ: Any, lambda_budget: Any, mvd_score: Any, source_type: Any, wm_model_id: Any,
                        wm_role: Any, wm_horizon_used: Any, wm_branch_depth: Any, wm_trust_over_horizon: Any,
                        world_model_horizon: Any, world_model_trust_over_horizon: Any) -> dict:
    """§2.2 step 7. econ_weight_final = trust_score·w_econ and, when not given,
    mvd_score = trust_score·w_econ·ΔJ (both only when trust_score and w_econ are)."""
    trust = optional_number(trust_score, "attribution.trust_score")
    weight = optional_number(w_econ, "attribution.w_econ")
    lam = optional_number(lambda_budget, "attribution.lambda_budget")
    mvd = optional_number(mvd_score, "attribution.mvd_score")
    econ_weight_final = trust * weight if trust is not None and weight is not None else None
    if mvd is None and trust is not None and weight is not None:
        mvd = trust * weight * outcome.delta_j
    attribution = schema.default_profile("AttributionProfile")
    attribution.update({
        "delta_mpl": outcome.delta_mpl,
        "delta_error": outcome.delta_error,
        "delta_ep": outcome.delta_ep,
        "delta_wage_parity": (wage_parity - base.wage_parity
                              if wage_parity is not None and base.wage_parity is not None else 0.0),
        "delta_J": outcome.delta_j,
        "trust_score": 0.0 if trust is None else trust,
        "w_econ": 0.0 if weight is None else weight,
        "lambda_budget": 0.0 if lam is None else lam,
        "world_model_horizon": 0 if world_model_horizon is None else plain(world_model_horizon),
        "world_model_trust_over_horizon": ([] if world_model_trust_over_horizon is None
                                           else plain(world_model_trust_over_horizon)),
        "source_type": "real" if source_type is None else plain(source_type),
        "wm_model_id": plain(wm_model_id),
        "wm_horizon_used": plain(wm_horizon_used),
        "wm_branch_depth": plain(wm_branch_depth),
        "wm_trust_over_horizon": plain(wm_trust_over_horizon),
        "mvd_score": mvd,
        "econ_weight_final": econ_weight_final,
        "wm_role": plain(wm_role),
    })
    return attribution

