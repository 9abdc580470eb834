"""Progress bars that fit the place they run in (terminal or notebook)."""
from __future__ import annotations

import os

from tqdm.auto import tqdm


def progress_bar(iterable=None, **kw):
    """A tqdm bar; ``HCMGAN_PROGRESS=0`` turns every bar off (for logs and CI)."""
    if os.environ.get("HCMGAN_PROGRESS", "1") == "0":
        kw["disable"] = True
    kw.setdefault("dynamic_ncols", True)
    kw.setdefault("mininterval", 1.0)
    return tqdm(iterable, **kw)
