"""The headless PyBullet drawer + vase simulator (`datapack sim`, README "Simulator").

env.py (the world), policy.py (the six scripted skills), energy.py (accounting),
episode.py (one episode -> builder arguments + raw artifacts), runner.py (worker
processes streaming packs), cli.py (the command). Only env.py imports pybullet
(the `sim` extra); this package and cli.py import without it.
"""
