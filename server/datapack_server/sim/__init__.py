"""The headless PyBullet drawer + vase simulator (`datapack sim`, README "Simulator").

env.py (the world), policy.py (the six scripted skills), energy.py (accounting),
episode.py (one episode -> builder arguments + raw artifacts), runner.py (worker
processes streaming packs); the command is cli/sim.py. Only env.py imports
pybullet (the `sim` extra); this package imports without it.

May import: repo.py, synthetic/, portable/ and the client package.
"""
