"""Grow the reference tree that tests/test_layout.py compares today's code with.

Run from the repository root: ``python tests/data/make_reference_tree.py`` (one thread, CPU). The file was
made before the library's files were reorganised; the same call must grow the same tree after.
"""
import os
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from hcmgan_lite import get_settings, grow_tree, load_fashion_mnist  # noqa: E402

SETTINGS = dict(collapse_spread=0, g_width=8, d_widths=(8, 16, 32), batch_size=16, gen_batch_size=16, max_steps=16,
                min_steps=16, log_every=4, refinements=1, n_samples=4, seed=3)


def grow():
    torch.set_num_threads(1)
    root = os.environ.get("HCMGAN_DATA") or REPO.parent / "shared" / "data"
    data = load_fashion_mnist(root).subset(classes=[0, 1, 8, 5], per_class=30)
    return grow_tree(data, 4, get_settings("quick", **SETTINGS), "cpu", progress=False)


if __name__ == "__main__":
    out = Path(__file__).with_name("reference-tree.pt")
    grow().save(out)
    print("wrote", out, out.stat().st_size, "bytes")
