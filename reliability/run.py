"""`make reliability`: every long reliability check, one after the other.

    python -m reliability.run [--quick] [--only kill9,soak,...] [--soak-minutes M]

Each check is a module of this package (`python -m reliability.<name>`) that
prints its table and, as its last line, a JSON object of figures. This runner
collects those objects into reliability/out/results.json and prints a summary;
its exit status is non-zero when a check fails.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
# Shortest first, the soak last (30 minutes by default).
ORDER = ("power_loss", "kill9", "backpressure", "shutdown", "fuzz", "soak")


def available() -> list[str]:
    present = {p.stem for p in HERE.glob("*.py")} - {"__init__", "run"}
    return [n for n in ORDER if n in present] + sorted(present - set(ORDER))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m reliability.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="the quick variant of every check")
    p.add_argument("--only", default=None, help="comma-separated check names")
    p.add_argument("--soak-minutes", type=float, default=None, help="override the soak duration")
    args = p.parse_args(argv)
    names = available() if args.only is None else [n.strip() for n in args.only.split(",") if n.strip()]
    out_dir = HERE / "out"
    out_dir.mkdir(exist_ok=True)
    results: dict = {}
    failed = []
    for name in names:
        cmd = [sys.executable, "-m", f"reliability.{name}"]
        if args.quick:
            cmd.append("--quick")
        if name == "soak" and args.soak_minutes is not None:
            cmd += ["--minutes", str(args.soak_minutes)]
        print(f"== {name}: {' '.join(cmd[1:])}", flush=True)
        t0 = time.monotonic()
        proc = subprocess.run(cmd, cwd=HERE.parent, capture_output=True, text=True)
        elapsed = time.monotonic() - t0
        sys.stdout.write(proc.stdout)
        if proc.returncode != 0:
            sys.stdout.write(proc.stderr[-4000:])
        lines = [ln for ln in proc.stdout.strip().splitlines() if ln.startswith("{")]
        try:
            figures = json.loads(lines[-1]) if lines else {}
        except json.JSONDecodeError:
            figures = {}
        figures["_exit_status"] = proc.returncode
        figures["_seconds"] = round(elapsed, 1)
        results[name] = figures
        if proc.returncode != 0:
            failed.append(name)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2))
    print("\n== summary")
    for name, f in results.items():
        state = "ok" if f["_exit_status"] == 0 else f"FAILED (exit {f['_exit_status']})"
        print(f"{name:<14} {state:<18} {f['_seconds']:>8.1f} s")
    print(f"figures: {out_dir / 'results.json'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
