"""The export script of docs/portable.md §7:

    python -m scripts.export_portable_datapacks --datapack-dir data/datapacks/phase_c --task drawer_vase

`datapack export-portable` with the output store defaulting to
`<datapack-dir>_portable` (the source store is not modified)."""
import sys

from datapack_server.cli.export_portable import SPEC_OUTPUT, main

if __name__ == "__main__":
    sys.exit(main(default_output=SPEC_OUTPUT))
