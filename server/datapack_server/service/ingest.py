"""Build datapacks from episodes and store them (the ingest path shared by the
IngestEpisodes RPC and DataPackRepo.ingest_episodes): the one builder, then
the ordinary atomic append."""
from __future__ import annotations

from typing import Any

from datapack_client.errors import DataPackError, InvalidArgumentError, Violation, invalid
from datapack_client.records.results import IngestResult
from datapack_client.records.validation_rules import shown

from datapack_server.service.baselines import BaselineRegistry
from datapack_server.engine.store import Store


def resolve_baseline(registry: BaselineRegistry, baseline: Any):
    """A builder Baseline from a Baseline, a values dict, or a registered name."""
    from datapack_client.building.builder import Baseline
    if baseline is None:
        raise invalid("baseline", "BASELINE_REQUIRED", "an explicit baseline (values or a name) is required")
    if isinstance(baseline, str):
        v = registry.get(baseline)
        if v is None:
            raise invalid("baseline", "BASELINE_UNKNOWN", f"no baseline named {shown(baseline)} in this store")
        return Baseline(v["mpl"], v["error"], v["ep"], v.get("wage_parity"), name=baseline)
    if isinstance(baseline, dict):
        return Baseline(baseline.get("mpl"), baseline.get("error"), baseline.get("ep"), baseline.get("wage_parity"))
    return baseline


def build_episodes(episodes: list[dict], econ_params: Any, baseline) -> list:
    """Build every episode; all builder errors of the batch are reported
    together (index = position in the batch)."""
    from datapack_client.building.builder import EconParams, build_datapack_meta_from_episode
    # from_dict refuses a partial or misspelt dict with ARGUMENT_INVALID (EconParams(**d) raised TypeError).
    econ = EconParams.from_dict(econ_params) if isinstance(econ_params, dict) else econ_params
    packs, violations = [], []
    for i, args in enumerate(episodes):
        if not isinstance(args, dict):
            violations.append(Violation(i, None, "episodes", "ARGUMENT_INVALID",
                                        "an episode must be a dict of builder arguments"))
            continue
        args = dict(args)
        summary = args.pop("episode_info", None)
        try:
            packs.append(build_datapack_meta_from_episode(summary, econ, baseline=baseline, **args))
        except DataPackError as err:
            vs = err.violations or [Violation(0, None, "", err.reason, err.message)]
            violations.extend(Violation(i, v.pack_id, v.field, v.reason, v.message) for v in vs)
        except TypeError as exc:  # an unknown builder argument
            violations.append(Violation(i, None, "", "ARGUMENT_INVALID", str(exc)))
    if violations:
        raise InvalidArgumentError(f"{len(violations)} episode(s) could not be built; first: {violations[0].message}",
                                   violations[0].reason, violations)
    return packs


def ingest(store: Store, registry: BaselineRegistry, episodes: list[dict], econ_params: Any,
           baseline: Any) -> list[IngestResult]:
    packs = build_episodes(episodes, econ_params, resolve_baseline(registry, baseline))
    records, lines = store.prepare([p._d for p in packs], validated=True)  # the builder self-checked them
    results = store.append_prepared(records, lines)
    return [IngestResult(r.index, r.pack_id, r.task_name, r.status, p.bucket, p.attribution.delta_J, r.sequence)
            for r, p in zip(results, packs)]
