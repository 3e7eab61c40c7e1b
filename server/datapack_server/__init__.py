"""DataPack server: the storage engine, the embedded repository and the gRPC service."""

__all__ = ["DataPackRepo"]


def __getattr__(name: str):
    # Imported on first use, so that `datapack_server.launcher` (the console
    # script) loads without numpy and can name the missing `server` extra.
    if name == "DataPackRepo":
        from datapack_server.repo import DataPackRepo
        return DataPackRepo
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
