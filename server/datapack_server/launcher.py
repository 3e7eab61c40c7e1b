"""The `datapack` console script: runs cli.main, or, when a dependency of the
`server` extra is missing (a thin-client install: `pip install datapack`),
says which extra to install instead of showing an import traceback.

The thin client (`datapack_client`) needs only the base dependencies (grpcio,
protobuf, grpcio-status, orjson); the command, the embedded repository and the
server also need numpy and the gRPC health and reflection services.
"""
from __future__ import annotations

import sys

# Top-level modules that only the `server` extra installs (pyproject.toml).
SERVER_EXTRA_MODULES = frozenset({"numpy", "grpc_health", "grpc_reflection"})

MISSING_SERVER_EXTRA = ("datapack: this command needs the server dependencies ({module} is missing); "
                        "install them with: pip install 'datapack[server]'")


def main(argv: list[str] | None = None) -> int:
    try:
        # Imported here, not at module level: cli pulls in the engine (numpy).
        from datapack_server.cli.main import main as cli_main

        return cli_main(argv)
    except ModuleNotFoundError as exc:
        module = (exc.name or "").split(".")[0]
        if module not in SERVER_EXTRA_MODULES:
            raise
        print(MISSING_SERVER_EXTRA.format(module=module), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
