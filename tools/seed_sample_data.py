"""Give an empty data root the sample stores `make run` serves.

    python tools/seed_sample_data.py data/datapacks

Copies the reference files of the earlier library (tests/fixtures/reference)
into <root>/phase_c (drawer_vase) and <root>/phase_b (dishwashing), only when
the target task file does not exist yet. Never overwrites data.
"""
from __future__ import annotations

import pathlib
import shutil
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SAMPLES = {
    "phase_c/drawer_vase_datapacks.jsonl": "tests/fixtures/reference/drawer_vase_datapacks.jsonl",
    "phase_b/dishwashing_datapacks.jsonl": "tests/fixtures/reference/dishwashing_datapacks.jsonl",
}


def main(root: str) -> int:
    base = pathlib.Path(root)
    for rel, src in SAMPLES.items():
        dest = base / rel
        if dest.exists():
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / src, dest)
        print(f"seeded {dest} from {src}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "data/datapacks"))
