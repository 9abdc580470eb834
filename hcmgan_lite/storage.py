"""Files that cannot lie: atomic writes and a SHA-256 checksum over what a file holds.

Tree files and partial-split files are dicts of tensors, numbers, strings,
lists and dicts (``torch.load(..., weights_only=True)`` reads them without
running code). :func:`save_checked` adds the entry ``"sha256"``: a digest of
every other entry (each tensor's dtype, shape and bytes; every other value's
type and exact text), and writes the file atomically (a temporary file, flushed
to disk, then renamed). :func:`checksum_problem` recomputes the digest of a
loaded dict: a changed byte anywhere in a tensor or a setting is found.

Imports nothing from the rest of the package.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

KEY = "sha256"


def _feed(h, x) -> None:
    if isinstance(x, torch.Tensor):
        t = x.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(x, dict):
        h.update(f"D{len(x)}".encode())
        for k in sorted(x, key=repr):
            _feed(h, k)
            _feed(h, x[k])
    elif isinstance(x, (list, tuple)):
        h.update(f"{'L' if isinstance(x, list) else 'U'}{len(x)}".encode())
        for v in x:
            _feed(h, v)
    elif x is None or isinstance(x, (bool, int, float, str)):
        s = repr(x)
        h.update(f"{type(x).__name__}{len(s)}:{s}".encode())
    else:
        raise TypeError(f"cannot checksum a {type(x).__name__}")


def digest(d: dict) -> str:
    """``"sha256:<hex>"`` of every entry of ``d`` but the checksum itself."""
    h = hashlib.sha256()
    _feed(h, {k: v for k, v in d.items() if k != KEY})
    return "sha256:" + h.hexdigest()


def checksum_problem(d: dict) -> str | None:
    """None when ``d``'s checksum matches its contents; else what is wrong, in a few words."""
    want = d.get(KEY)
    if want is None:
        return "it has no checksum"
    try:
        got = digest(d)
    except TypeError as exc:
        return str(exc)
    return None if got == want else "its checksum does not match its contents (changed after it was written)"


def save_checked(path, d: dict, durable: bool = True) -> Path:
    """Write ``d`` with its checksum to ``path`` atomically.

    A reader (or a resumed run) sees the previous file or the new one, never a
    half-written file, even if the process is killed mid-save. ``durable``:
    also flush the file and the rename to disk (a power cut keeps one of the two).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    d = {**{k: v for k, v in d.items() if k != KEY}, KEY: digest(d)}
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save(d, f)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        try:  # make the rename itself durable (POSIX; not possible on every platform)
            fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:
            pass
    return path
