"""Progress bars that fit the place they run in (terminal or notebook).

Imports nothing from the rest of the package.
"""
from __future__ import annotations

import os
import threading

from tqdm.auto import tqdm


def progress_bar(iterable=None, **kw):
    """A tqdm bar; ``HCMGAN_PROGRESS=0`` turns every bar off (for logs and CI).

    tqdm's default lock holds a named semaphore (``/dev/shm/sem.*``) that a SIGKILL leaves behind; our bars
    are drawn by one process, so unless a lock was set already, tqdm gets a thread lock instead.
    """
    if not hasattr(tqdm, "_lock"):
        tqdm.set_lock(threading.RLock())
    if os.environ.get("HCMGAN_PROGRESS", "1") == "0":
        kw["disable"] = True
    kw.setdefault("dynamic_ncols", True)
    kw.setdefault("mininterval", 1.0)
    return tqdm(iterable, **kw)
