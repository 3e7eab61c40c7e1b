"""Several simulator processes streaming their episodes into the service.

`run_simulation` starts W worker processes (the `spawn` start method: each
gets a fresh interpreter, its own PyBullet client and its own gRPC channel,
nothing inherited). Episode i goes to worker i mod W; a worker builds each
pack with the client-side builder and streams it through its own
`connect(target).stream_appender()`, and reports each episode to the parent
over a queue. Without a target, workers send the built records to the parent,
which appends them to the embedded store (the embedded repository is a
one-process API). The parent draws the progress bar and sums the report.
"""
from __future__ import annotations

import multiprocessing as mp
import queue as queue_mod
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_POLL_SECONDS = 0.5
_LOCAL_BATCH = 64


@dataclass
class SimConfig:
    episodes: int
    workers: int = 1
    target: str | None = None
    store: str = ""
    output_dir: str = "data/datapacks"
    task: str = "drawer_vase"
    seed: int = 0
    raw_dir: str | None = None
    narrate: bool = False
    frame_every: int = 24
    image_size: int = 32
    batch_size: int = 16
    keep_episodes: bool = False   # return every episode's builder args (tests, audits)
    token_file: str | None = None


@dataclass
class SimReport:
    episodes: int = 0
    positive: int = 0
    negative: int = 0
    created: int = 0
    already_present: int = 0
    rejected: int = 0
    failures: Counter = field(default_factory=Counter)
    sim_seconds: float = 0.0
    wall_seconds: float = 0.0
    workers: int = 1
    errors: list[str] = field(default_factory=list)
    episode_results: list[dict] = field(default_factory=list)

    @property
    def episodes_per_second(self) -> float:
        return self.episodes / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def to_dict(self) -> dict:
        return {"episodes": self.episodes, "positive": self.positive, "negative": self.negative,
                "created": self.created, "already_present": self.already_present, "rejected": self.rejected,
                "failures": dict(sorted(self.failures.items())), "sim_seconds": self.sim_seconds,
                "wall_seconds": self.wall_seconds, "episodes_per_second": self.episodes_per_second,
                "workers": self.workers, "errors": list(self.errors)}


def _worker_main(worker: int, indices: list[int], config: SimConfig, out: Any) -> None:
    """Entry point of one simulator process (module level, so `spawn` can import it)."""
    try:
        from datapack_server.sim.env import DrawerVaseWorld
        from datapack_server.sim.episode import EpisodeSettings, build_pack_from_run, run_episode

        settings = EpisodeSettings(task=config.task, seed=config.seed, frame_every=config.frame_every,
                                   image_size=config.image_size, narrate=config.narrate, raw_dir=config.raw_dir)
        repo = appender = None
        if config.target:
            from datapack_client.client import connect

            repo = connect(config.target, store=config.store, token_file=config.token_file)
            appender = repo.stream_appender(batch_size=config.batch_size, linger=0.05)
        try:
            with DrawerVaseWorld() as world:
                for i in indices:
                    run = run_episode(world, i, settings)
                    pack = build_pack_from_run(run)
                    if appender is not None:
                        appender.append(pack)
                    out.put({"kind": "episode", "worker": worker, "index": i, "pack_id": pack.pack_id,
                             "bucket": pack.bucket, "delta_J": pack.attribution.delta_J,
                             "failure_reason": run.failure_reason, "sim_seconds": run.sim_seconds,
                             "record": None if appender is not None else pack.to_dict(),
                             "builder_args": run.builder_args if config.keep_episodes else None})
            created = already = 0
            if appender is not None:
                appender.close()  # waits for every acknowledgement
                if appender.errors:
                    raise appender.errors[0]
                created, already = appender.counts["created"], appender.counts["already_present"]
        finally:
            if repo is not None:
                repo.close()
        out.put({"kind": "done", "worker": worker, "created": created, "already_present": already})
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which fails the run
        out.put({"kind": "error", "worker": worker,
                 "error": f"{type(exc).__name__}: {getattr(exc, 'message', exc)}",
                 "traceback": traceback.format_exc()})


def run_simulation(config: SimConfig, progress: Callable[[int, int], None] | None = None) -> SimReport:
    """Simulate `config.episodes` episodes in `config.workers` processes; returns the report once
    every pack is acknowledged (remote) or appended (local)."""
    if config.episodes < 0 or config.workers < 1:
        raise ValueError("episodes must be >= 0 and workers >= 1")
    workers = min(config.workers, max(1, config.episodes))
    report = SimReport(workers=workers)
    started = time.perf_counter()
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = []
    for w in range(workers):
        indices = list(range(w, config.episodes, workers))
        proc = ctx.Process(target=_worker_main, args=(w, indices, config, out), name=f"datapack-sim-{w}",
                           daemon=True)
        proc.start()
        procs.append(proc)

    local = None
    pending: list[dict] = []
    if not config.target:
        from datapack_server.repo import DataPackRepo

        local = DataPackRepo(config.output_dir, create=True)  # the simulator writes its output store
    finished: set[int] = set()
    try:
        while len(finished) < workers:
            try:
                msg = out.get(timeout=_POLL_SECONDS)
            except queue_mod.Empty:
                for w, proc in enumerate(procs):
                    if w not in finished and not proc.is_alive() and out.empty():
                        finished.add(w)
                        report.errors.append(f"worker {w} exited with status {proc.exitcode} without reporting")
                continue
            kind = msg["kind"]
            if kind == "episode":
                report.episodes += 1
                report.positive += msg["bucket"] == "positive"
                report.negative += msg["bucket"] == "negative"
                report.sim_seconds += msg["sim_seconds"]
                if msg["failure_reason"]:
                    report.failures[msg["failure_reason"]] += 1
                if local is not None:
                    pending.append(msg.pop("record"))
                    if len(pending) >= _LOCAL_BATCH:
                        _append_local(local, pending, report)
                if config.keep_episodes:
                    report.episode_results.append(msg)
                if progress is not None:
                    progress(report.episodes, config.episodes)
            elif kind == "done":
                finished.add(msg["worker"])
                report.created += msg["created"]
                report.already_present += msg["already_present"]
            else:
                finished.add(msg["worker"])
                report.errors.append(f"worker {msg['worker']}: {msg['error']}")
        if local is not None:
            _append_local(local, pending, report)
    finally:
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
        if local is not None:
            local.close()
    report.episode_results.sort(key=lambda m: m["index"])
    report.wall_seconds = time.perf_counter() - started
    return report


def _append_local(repo, records: list[dict], report: SimReport) -> None:
    from datapack_client.errors import DataPackError

    if not records:
        return
    try:
        results = repo.append_batch(records)
    except DataPackError as exc:
        report.rejected += len(records)
        report.errors.append(f"append rejected ({exc.reason}): {exc.message}")
    else:
        report.created += sum(1 for r in results if r.status == "created")
        report.already_present += sum(1 for r in results if r.status == "already_present")
    records.clear()
