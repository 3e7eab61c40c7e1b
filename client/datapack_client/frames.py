"""Kept import path: Arrow / pandas frames of records live in `datapack_client.records.frames`."""
from datapack_client.records.frames import *  # noqa: F401,F403
from datapack_client.records.frames import __all__  # noqa: F401
