"""The asyncio client: `connect_async` on grpc.aio, with the synchronous
client's methods, arguments, results and errors as coroutines and async
iterators, its streamed appender (a future per record) and the skill analyses.

    from datapack_client import connect_async

    async with connect_async("localhost:50051", store="phase_c") as repo:
        await repo.append(dp)
        best = await repo.query("drawer_vase", bucket="positive", sort_by="delta_j", limit=10)
        async for dp in repo.iter_all("drawer_vase"):
            ...
"""
from datapack_client.aio.adapter import AsyncSkillDataPackAdapter
from datapack_client.aio.appender import AsyncStreamAppender
from datapack_client.aio.client import AsyncDataPackClient, QueryStream, connect_async

__all__ = ["connect_async", "AsyncDataPackClient", "AsyncStreamAppender", "AsyncSkillDataPackAdapter", "QueryStream"]
