"""Generate the Python wire code from protos/ into the client package.

    python tools/gen_protos.py           regenerate
    python tools/gen_protos.py --check   exit 1 if the committed code is stale

Imports are rewritten to be package-absolute (datapack_client.proto...), so the
generated modules work wherever the package is installed.
"""
from __future__ import annotations

import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
OUT = ROOT / "client" / "datapack_client" / "proto"
PKG = "datapack_client.proto"


def generate(dest: pathlib.Path) -> None:
    files = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    cmd = [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTOS}",
           f"--python_out={dest}", f"--pyi_out={dest}", f"--grpc_python_out={dest}", *files]
    subprocess.run(cmd, check=True)
    for path in dest.rglob("*.py*"):
        text = path.read_text()
        text = re.sub(r"^from datapack\.v1 import", f"from {PKG}.datapack.v1 import", text, flags=re.M)
        text = re.sub(r"^import datapack\.v1\.", f"import {PKG}.datapack.v1.", text, flags=re.M)
        path.write_text(text)
    for d in [dest / "datapack", dest / "datapack" / "v1"]:
        (d / "__init__.py").write_text("")


def snapshot(root: pathlib.Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes()
            for p in sorted((root / "datapack").rglob("*")) if p.is_file() and p.suffix in (".py", ".pyi")}


def main() -> int:
    check = "--check" in sys.argv[1:]
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = pathlib.Path(tmp)
        generate(tmp_path)
        fresh = snapshot(tmp_path)
        if check:
            current = snapshot(OUT) if (OUT / "datapack").exists() else {}
            if current != fresh:
                stale = sorted(set(current) ^ set(fresh) | {k for k in fresh if current.get(k) != fresh[k]})
                print("generated code is stale; run `make proto`: " + ", ".join(stale), file=sys.stderr)
                return 1
            return 0
        if (OUT / "datapack").exists():
            shutil.rmtree(OUT / "datapack")
        shutil.copytree(tmp_path / "datapack", OUT / "datapack")
    return 0


if __name__ == "__main__":
    sys.exit(main())
