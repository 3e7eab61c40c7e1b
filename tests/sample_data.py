"""The sample data `make run` serves, for the tests of it, of the README and of the workflows.

`seeded_data_dir(tmp_path_factory)` runs tools/seed_sample_data.py once per test session (in a
subprocess, as `make run` does) into `<session tmp>/sample/data/datapacks` and returns that
`data/` folder (datapacks/, raw/, episodes/); tests work on copies (`copy_sample_data`), never on it.
"""
from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys
import threading

ROOT = pathlib.Path(__file__).resolve().parent.parent
SEED_TOOL = ROOT / "tools" / "seed_sample_data.py"
TASK = "drawer_vase"
SEED_TIMEOUT_S = 600  # seconds; ~6 s on an idle 2-core machine, generous for a loaded one

_seeded: dict[pathlib.Path, pathlib.Path] = {}
_lock = threading.Lock()


def run_seed_tool(datapacks: pathlib.Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SEED_TOOL), str(datapacks)], capture_output=True, text=True,
                          timeout=SEED_TIMEOUT_S, cwd=ROOT)


def seeded_data_dir(tmp_path_factory) -> pathlib.Path:
    """The session's seeded `data/` folder (seeded on first use)."""
    base = tmp_path_factory.getbasetemp()
    with _lock:
        if base not in _seeded:
            data = base / "sample" / "data"
            done = run_seed_tool(data / "datapacks")
            assert done.returncode == 0, done.stderr
            _seeded[base] = data
        return _seeded[base]


def copy_sample_data(tmp_path_factory, dest: pathlib.Path, *, with_raw: bool = False) -> pathlib.Path:
    """A copy of the seeded `data/` folder at `dest` (datapacks/ and episodes/; raw/ only when asked:
    the records' raw_data_path names the session's raw/ files, which are read, never written)."""
    source = seeded_data_dir(tmp_path_factory)
    dest.mkdir(parents=True, exist_ok=True)
    for part in ("datapacks", "episodes") + (("raw",) if with_raw else ()):
        shutil.copytree(source / part, dest / part)
    return dest
