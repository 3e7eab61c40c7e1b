"""DataPack server: the storage engine, the embedded repository and the gRPC service."""
from .repo import DataPackRepo

__all__ = ["DataPackRepo"]
