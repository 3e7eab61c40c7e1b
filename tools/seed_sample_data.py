"""Give an empty data root the sample stores `make run` serves.

    python tools/seed_sample_data.py data/datapacks

Copies the reference files of the earlier library (tests/fixtures/reference)
into <root>/phase_c (drawer_vase) and <root>/phase_b (dishwashing), and builds
<root>/portable (drawer_vase): 60 seeded synthetic packs with small raw
episodes (under <root>/../raw/portable), exported in place to 2.1-portable so
slice queries have something to find. Only when the target task file does not
exist yet; never overwrites data.
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
    portable = base / "portable"
    if not (portable / "drawer_vase_datapacks.jsonl").exists():
        from datapack_server.cli.build import main as build
        from datapack_server.cli.export_portable import main as export

        raw = base.parent / "raw" / "portable"
        rc = build(["--generate-synthetic", "60", "--seed", "11", "--output-dir", str(portable),
                    "--raw-dir", str(raw), "--quiet"])
        rc = rc or export(["--datapack-dir", str(portable), "--task", "drawer_vase", "--workers", "0", "--quiet"])
        if rc:
            return rc
        print(f"seeded {portable} (60 portable drawer_vase packs, raw episodes in {raw})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "data/datapacks"))
