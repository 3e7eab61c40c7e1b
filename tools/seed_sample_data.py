"""Give a data root the sample stores `make run` serves.

    python tools/seed_sample_data.py [ROOT]          (default data/datapacks)

Everything is made by this project's own code and is deterministic (fixed seeds, fixed `created_at`):

* `phase_c/drawer_vase`: the seeded synthetic generator of `datapack build --generate-synthetic` on the
  three engines (pybullet 300 packs seed 7, isaac 150 seed 8, ue5 150 seed 9) and, when pybullet is
  installed (`make run` installs it), 16 episodes of the PyBullet simulator of `datapack sim` (seed 7,
  narrated), whose raw frames and pose tracks go to `<ROOT>/../raw/phase_c` so that
  `datapack export-portable` has something to embed;
* `portable/drawer_vase`: 200 synthetic packs (seed 11) with small raw episodes under
  `<ROOT>/../raw/portable`, exported to `2.1-portable`, so slice queries
  (`is_occluded=True, motion_bucket="high"`) find packs;
* `<ROOT>/../episodes/drawer_vase_episodes.json`: 20 episode results of the generator (seed 5) in the
  file format `datapack build --data-dir` reads, so that command has something to build.

The simulator runs in this process with a fixed `created_at`, so its packs are byte-identical from run
to run, like the generator's. A store folder that already exists is left as it is (nothing is
overwritten or appended to), so a re-run is a no-op. Each store is built under `<ROOT>/.seeding/`
(hidden: not a store) and renamed into place once complete, so an interrupted run leaves no half store.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import pathlib
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TextIO

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
TASK = "drawer_vase"
STAGING = ".seeding"
SIM_CREATED_AT = datetime(2025, 2, 1, tzinfo=timezone.utc)

# The earlier library's files that `make run` used to copy here: recognised, so the note below can say
# that such a store breaks the store's invariants and how to replace it.
EARLIER_COPIES = {
    "phase_c/drawer_vase_datapacks.jsonl": "tests/fixtures/reference/drawer_vase_datapacks.jsonl",
    "phase_b/dishwashing_datapacks.jsonl": "tests/fixtures/reference/dishwashing_datapacks.jsonl",
}


@dataclass(frozen=True)
class SyntheticPart:
    """One run of the seeded synthetic generator."""

    episodes: int
    seed: int
    engine: str
    raw: bool = False


@dataclass(frozen=True)
class StorePlan:
    synthetic: tuple[SyntheticPart, ...]
    sim_episodes: int = 0
    sim_seed: int = 7
    export_portable: bool = False


STORES: dict[str, StorePlan] = {
    "phase_c": StorePlan(synthetic=(SyntheticPart(300, 7, "pybullet"), SyntheticPart(150, 8, "isaac"),
                                    SyntheticPart(150, 9, "ue5")), sim_episodes=16),
    "portable": StorePlan(synthetic=(SyntheticPart(200, 11, "pybullet", raw=True),), export_portable=True),
}


def synthetic_packs(part: SyntheticPart, raw_dir: pathlib.Path) -> list:
    """The packs `datapack build --generate-synthetic N --seed S --engine E` builds (same generator,
    same builder, baseline `synthetic_nominal`); with `part.raw`, a small raw episode per pack (every
    third one still, every fourth a single .npz) and its raw_data_path."""
    from datapack_server.portable.synthetic_raw import write_raw_episode
    from datapack_server.synthetic.episodes import (
        build_pack,
        episode_to_builder_args,
        generate_synthetic_episodes,
        resolve_baseline,
    )

    baseline = resolve_baseline("synthetic_nominal")
    episodes = generate_synthetic_episodes(part.episodes, seed=part.seed)
    packs = [build_pack(episode_to_builder_args(e, i, TASK, part.engine), baseline) for i, e in enumerate(episodes)]
    if part.raw:
        for i, pack in enumerate(packs):
            occlusion = pack.condition.occlusion_level
            pack.raw_data_path = write_raw_episode(
                raw_dir, pack.pack_id, seed=part.seed * 1_000_003 + i,
                occlusion_level=occlusion if type(occlusion) is float else 0.0,
                moving=i % 3 != 0, layout="npz" if i % 4 == 3 else "dir")
    return packs


def write_episode_file(folder: pathlib.Path, episodes: int = 20, seed: int = 5) -> pathlib.Path | None:
    """The sample episode file of `datapack build --data-dir`; None when it exists already."""
    from datapack_server.synthetic.episodes import generate_synthetic_episodes

    path = folder / f"{TASK}_episodes.json"
    if path.exists():
        return None
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(generate_synthetic_episodes(episodes, seed=seed), indent=1) + "\n",
                       encoding="utf-8")
    os.replace(partial, path)
    return path


def simulator_available() -> bool:
    # Looked up, not imported: importing pybullet prints a banner.
    return importlib.util.find_spec("pybullet") is not None


def simulated_packs(episodes: int, seed: int, raw_dir: pathlib.Path) -> list:
    """Episodes 0..episodes-1 of `datapack sim --seed S --narrate --raw-dir DIR`, run in this process
    with created_at fixed per episode (the command stamps the time of the run)."""
    from datapack_server.sim.env import DrawerVaseWorld
    from datapack_server.sim.episode import EpisodeSettings, build_pack_from_run, run_episode

    settings = EpisodeSettings(task=TASK, seed=seed, narrate=True, raw_dir=str(raw_dir))
    packs = []
    with DrawerVaseWorld() as world:
        for i in range(episodes):
            stamp = (SIM_CREATED_AT + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
            packs.append(build_pack_from_run(run_episode(world, i, settings, created_at=stamp)))
    return packs


def build_store(folder: pathlib.Path, plan: StorePlan, raw_dir: pathlib.Path, with_sim: bool) -> dict[str, int]:
    """Build one sample store in `folder`; returns the packs appended per source. A portable store is
    exported from a source store built beside it (then dropped), so its lines are the exported
    records themselves, with no revision stamped with the time of the run."""
    from datapack_server.repo import DataPackRepo

    counts: dict[str, int] = {}
    source = folder.with_name(folder.name + ".source") if plan.export_portable else folder
    source.mkdir(parents=True)
    repo = DataPackRepo(str(source))
    try:
        for part in plan.synthetic:
            results = repo.append_batch(synthetic_packs(part, raw_dir))
            counts[f"synthetic {part.engine}"] = counts.get(f"synthetic {part.engine}", 0) + len(results)
        if plan.sim_episodes and with_sim:
            counts["simulated pybullet"] = len(repo.append_batch(simulated_packs(plan.sim_episodes, plan.sim_seed,
                                                                                 raw_dir)))
        if plan.export_portable:
            folder.mkdir()
            summary = repo.export_portable(TASK, output_store=str(folder))
            counts["exported to 2.1-portable"] = summary["exported"]
    finally:
        repo.close()
    if source != folder:
        shutil.rmtree(source)
    return counts


def earlier_copy_note(root: pathlib.Path) -> list[str]:
    """Notes for task files that are unchanged copies of the earlier library's files."""
    notes = []
    for rel, src in EARLIER_COPIES.items():
        path = root / rel
        reference = REPO_ROOT / src
        if (path.is_file() and reference.is_file() and path.stat().st_size == reference.stat().st_size
                and _sha256(path) == _sha256(reference)):
            notes.append(f"note: {path} is the earlier library's file that older versions copied here; it breaks "
                         f"the store's invariants (`datapack validate`). Remove {path.parent} and re-run to get "
                         f"this version's sample store.")
    return notes


def _sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def seed(root: pathlib.Path, out: TextIO | None = None) -> int:
    """Seed every missing sample store below `root`; returns the number of stores built."""
    out = out or sys.stdout
    root.mkdir(parents=True, exist_ok=True)
    staging = root / STAGING
    shutil.rmtree(staging, ignore_errors=True)  # what an interrupted run left
    built = 0
    for name, plan in STORES.items():
        dest = root / name
        if dest.exists() and any(dest.iterdir()):
            print(f"{dest}: present, left as it is", file=out)
            continue
        started = time.perf_counter()
        raw_dir = (root.parent / "raw" / name).resolve()
        with_sim = plan.sim_episodes > 0 and simulator_available()
        counts = build_store(staging / name, plan, raw_dir, with_sim)
        if dest.exists():
            dest.rmdir()  # empty
        os.replace(staging / name, dest)
        built += 1
        parts = ", ".join(f"{n} {what}" for what, n in counts.items())
        print(f"seeded {dest} ({TASK}: {parts}) in {time.perf_counter() - started:.1f} s", file=out)
        if plan.sim_episodes and not with_sim:
            print(f"  pybullet is not installed: {dest} holds no simulated episodes "
                  f"(pip install '.[sim]', remove {dest} and re-run to add them)", file=out)
    shutil.rmtree(staging, ignore_errors=True)
    episode_file = write_episode_file(root.parent / "episodes")
    if episode_file is not None:
        print(f"wrote {episode_file} (20 episode results for `datapack build --data-dir`)", file=out)
    for note in earlier_copy_note(root):
        print(note, file=out)
    return built


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and args[0].startswith("-")):
        print("usage: python tools/seed_sample_data.py [ROOT]   (default data/datapacks)", file=sys.stderr)
        return 2
    seed(pathlib.Path(args[0] if args else "data/datapacks"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
