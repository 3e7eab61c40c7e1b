"""Build datapacks from episodes (the ingest path shared by the IngestEpisodes
RPC and DataPackRepo.ingest_episodes): the episode batch as the façade takes
it, the baseline it is measured against, and the one builder run over it in
this process (preparation.prepare_ingest runs the same in a worker process)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from datapack_client.building.builder import Baseline, EconParams, build_datapack_meta_from_episode
from datapack_client.errors import DataPackError, InvalidArgumentError, Violation, invalid
from datapack_client.records.validation_rules import shown
from datapack_server.engine.store import Store
from datapack_server.service.baselines import BaselineRegistry


class EpisodeBatch(Protocol):
    """Episodes to build and store as one atomic batch, with their econ params."""

    def __len__(self) -> int: ...

    def builder_inputs(self) -> tuple[Sequence, Any]:
        """(each episode's builder arguments with its summary under
        "episode_info", the econ params)."""
        ...

    def serialized_request(self) -> bytes | None:
        """The batch as a serialized IngestEpisodesRequest, which a worker
        process decodes (preparation.prepare_ingest); None: it is built in
        this process."""
        ...


@dataclass(frozen=True)
class GivenEpisodes:
    """Episodes given as Python values (the embedded repository)."""
    episodes: Sequence
    econ_params: Any

    def __len__(self) -> int:
        return len(self.episodes)

    def builder_inputs(self) -> tuple[Sequence, Any]:
        return self.episodes, self.econ_params

    def serialized_request(self) -> bytes | None:
        return None


@dataclass
class BuiltBatch:
    """Built packs ready for Store.append_lines, with each one's (bucket, ΔJ)."""
    keys: list[tuple[str, str]]
    lines: list[bytes]
    records: list[dict] | None
    raws: list | None
    outcomes: list[tuple[str, float]]


def resolve_baseline(registry: BaselineRegistry, baseline: Any) -> Baseline:
    """A builder Baseline from a Baseline, a values dict, or a registered name."""
    if baseline is None:
        raise invalid("baseline", "BASELINE_REQUIRED", "an explicit baseline (values or a name) is required")
    if isinstance(baseline, str):
        v = registry.get(baseline)
        if v is None:
            raise invalid("baseline", "BASELINE_UNKNOWN", f"no baseline named {shown(baseline)} in this store")
        return Baseline(v["mpl"], v["error"], v["ep"], v.get("wage_parity"), name=baseline)
    if isinstance(baseline, dict):
        given: dict[str, Any] = {k: baseline.get(k) for k in ("mpl", "error", "ep", "wage_parity")}
        return Baseline(**given)  # checks the values (BASELINE_INVALID)
    return baseline


def build_episodes(episodes: Sequence, econ_params: Any, baseline: Baseline) -> list:
    """Build every episode; all builder errors of the batch are reported
    together (index = position in the batch)."""
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


def build_here(store: Store, registry: BaselineRegistry, batch: EpisodeBatch, baseline: Any) -> BuiltBatch:
    """Build the batch in this process."""
    episodes, econ_params = batch.builder_inputs()
    packs = build_episodes(episodes, econ_params, resolve_baseline(registry, baseline))
    records, lines = store.prepare([p.json_object() for p in packs], validated=True)  # the builder self-checked them
    return BuiltBatch([(r["task_name"], r["pack_id"]) for r in records], lines, records, None,
                      [(p.bucket, p.attribution.delta_J) for p in packs])
