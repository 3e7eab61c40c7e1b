"""pybullet without its banner: the C extension prints "pybullet build time:
..." straight to the process's stderr (fd 2, not sys.stderr) on import, once
per worker process, which `--quiet` must not show."""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager


@contextmanager
def quiet_stderr():
    """fd 2 goes to /dev/null for the duration (C-level writes included)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_pybullet():
    with quiet_stderr():
        import pybullet
    return pybullet
