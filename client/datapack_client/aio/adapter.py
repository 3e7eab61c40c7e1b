"""AsyncSkillDataPackAdapter: the skill analyses (docs/adapter.md) over the asyncio client.

    adapter = AsyncSkillDataPackAdapter(repo)          # repo from connect_async
    stats = await adapter.get_skill_statistics("drawer_vase", skill_id=4)

Every method is SkillDataPackAdapter's, as a coroutine: the arguments are
checked and defaulted by SkillDataPackAdapter itself, run over the asyncio
client (whose `_analyze` and `_query` answer with awaitables), so the results
and errors are the synchronous adapter's.
"""
from __future__ import annotations

import asyncio
import functools
import inspect

from datapack_client.adapter import SkillDataPackAdapter, check_output_path, check_slice, write_json_atomic
from datapack_client.aio.client import AsyncDataPackClient
from datapack_client.records.query import check_task_name

# The analyses: every public method of SkillDataPackAdapter but the one that also writes a file.
ANALYSES = tuple(name for name, value in vars(SkillDataPackAdapter).items()
                 if callable(value) and not name.startswith("_") and name != "export_skill_report")


class AsyncSkillDataPackAdapter:
    """Skill ↔ DataPack analytics over an AsyncDataPackClient: each method of
    SkillDataPackAdapter (ANALYSES), awaited, and export_skill_report."""

    def __init__(self, repo: AsyncDataPackClient):
        self.repo = repo
        self._checked = SkillDataPackAdapter(repo)  # checks arguments; its answers are awaitables

    async def export_skill_report(self, task_name: str, output_path, *, slice=None) -> dict:
        """SkillDataPackAdapter.export_skill_report: the report, also written
        (atomically, in a worker thread) to output_path."""
        path = check_output_path(output_path)
        check_task_name(task_name)
        report = await self.repo._analyze("skill_report", task_name, check_slice(slice))
        await asyncio.to_thread(write_json_atomic, path, report)
        return report


def _awaited(name: str):
    analysis = getattr(SkillDataPackAdapter, name)

    @functools.wraps(analysis)
    async def method(self: AsyncSkillDataPackAdapter, *args, **kwargs):
        answer = analysis(self._checked, *args, **kwargs)
        # query_by_source_type answers [] without a call when its slice excludes the source type.
        return await answer if inspect.isawaitable(answer) else answer

    return method


for _name in ANALYSES:
    setattr(AsyncSkillDataPackAdapter, _name, _awaited(_name))
