"""The skill analyses of SkillDataPackAdapter, computed on a task index, by family.

May import: query/, engine/, storage/, datapack_client.records. Never grpc."""
