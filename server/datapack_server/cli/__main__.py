"""`python -m datapack_server.cli ...`: the `datapack` command."""
import sys

from datapack_server.cli.main import main

if __name__ == "__main__":  # worker processes re-import this module
    sys.exit(main())
