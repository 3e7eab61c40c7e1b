"""A simulator as a DataPack client: what an Isaac, UE5 or PyBullet process does.

Only the thin client is needed (`pip install datapack`: grpcio, protobuf, orjson).
The simulator runs its episodes however it likes; after each one it hands the
episode's results to `EpisodeStreamer.submit`, which builds the pack client-side
(one canonical ΔJ against an explicit baseline, bucket, tags, counterfactual plan)
and streams it over one pipelined, acknowledged, reconnecting append stream.
`close()` returns once the server has made every pack durable.

    python examples/simulator_client.py --target 127.0.0.1:50051 --store phase_c episodes/*.json

reads episode result files (the JSON objects `datapack build --data-dir` reads: one
episode or an array of them per file) and streams them. `datapack sim`
(server/datapack_server/sim/runner.py) follows the same pattern with live
PyBullet episodes, one streamer per simulator process.

A client in another language (C++ for UE5) that should not carry the ΔJ logic
sends the raw results instead and lets the server build the packs:
`repo.ingest_episodes([...], econ_params, "scripted_v1")` (the IngestEpisodes RPC).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from typing import Any

from datapack_client import connect
from datapack_client.building.builder import Baseline, build_datapack_meta_from_episode
from datapack_server.synthetic.episodes import episode_to_builder_args


class EpisodeStreamer:
    """Builds one pack per finished episode and streams it to the server."""

    def __init__(self, target: str, store: str, baseline: Baseline, *, task: str = "drawer_vase",
                 engine: str = "isaac", token_file: str | None = None, batch_size: int = 32):
        self.task, self.engine, self.baseline = task, engine, baseline
        self._repo = connect(target, store=store, token_file=token_file)
        # Pipelined: append() returns at once; batches are acknowledged once fsynced; after a
        # dropped connection only the unacknowledged batches are re-sent (never duplicated).
        self._stream = self._repo.stream_appender(batch_size=batch_size, linger=0.05)
        self.submitted = 0
        self.buckets = {"positive": 0, "negative": 0}

    def submit(self, episode: dict[str, Any]) -> str:
        """Build and stream the pack of one episode result; returns its pack id.

        `episode` holds the engine's results: mpl_episode, error_rate_episode, ep_episode,
        the energy breakdowns, termination_reason, vase_offset, drawer_friction,
        lighting_profile, occlusion_level, skill_trace [{t, skill_id, params, duration}],
        vase_broken, drawer_stuck, failure_reason, raw_data_path, ... (docs/building.md §8.2)."""
        kwargs = episode_to_builder_args(episode, self.submitted, self.task, self.engine)
        head = [kwargs.pop(k) for k in ("episode_info", "econ_params", "condition_profile", "agent_profile")]
        pack = build_datapack_meta_from_episode(*head, baseline=self.baseline, **kwargs)
        self._stream.append(pack)
        self.submitted += 1
        self.buckets[pack.bucket] += 1
        return pack.pack_id

    def close(self) -> int:
        """Wait for every acknowledgement; returns how many packs were newly stored."""
        try:
            self._stream.close()
            if self._stream.errors:
                raise self._stream.errors[0]
            return self._stream.counts["created"]
        finally:
            self._repo.close()

    def __enter__(self) -> EpisodeStreamer:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.created = self.close()
        else:
            self._repo.close()


def read_episode_files(paths: Iterable[str]) -> list[dict]:
    episodes: list[dict] = []
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            value = json.load(fh)
        episodes.extend(value if isinstance(value, list) else [value])
    return episodes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="stream simulator episode results into a DataPack server")
    ap.add_argument("files", nargs="+", help="episode result JSON files")
    ap.add_argument("--target", default="127.0.0.1:50051")
    ap.add_argument("--store", default="")
    ap.add_argument("--task", default="drawer_vase")
    ap.add_argument("--engine", default="isaac", choices=("pybullet", "isaac", "ue5"))
    ap.add_argument("--baseline", default="10,0.05,2", help="mpl,error,ep of the reference policy")
    ap.add_argument("--token-file", default=None)
    args = ap.parse_args(argv)
    mpl, error, ep = (float(x) for x in args.baseline.split(","))
    episodes = read_episode_files(args.files)
    with EpisodeStreamer(args.target, args.store, Baseline(mpl, error, ep), task=args.task, engine=args.engine,
                         token_file=args.token_file) as streamer:
        for episode in episodes:
            streamer.submit(episode)
    print(f"streamed {streamer.submitted} episodes ({streamer.buckets['positive']} positive, "
          f"{streamer.buckets['negative']} negative); {streamer.created} new packs stored")
    return 0


if __name__ == "__main__":
    sys.exit(main())
