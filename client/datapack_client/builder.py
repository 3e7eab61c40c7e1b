"""Kept import path: the builder lives in `datapack_client.building.builder`."""
from datapack_client.building.builder import *  # noqa: F401,F403
from datapack_client.building.builder import __all__  # noqa: F401
