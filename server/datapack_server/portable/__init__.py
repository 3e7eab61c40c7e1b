"""Portable datapack artifacts (shared/spec/portable.md): deterministic RGB
features, scene tracks, slice labels. Work in progress for the portable issue:
only the RGB feature encoder exists so far."""
