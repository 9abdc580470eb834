"""Getting the data: where MNIST and Fashion-MNIST are, and putting them where the loaders look.

``hcmgan data fetch`` (:func:`fetch_data`) downloads them with torchvision, or copies the IDX files of a
folder, into the data folder (``data.find_data_root()``: ``$HCMGAN_DATA``, else the checkout's ``data/``)
in the layout below; ``hcmgan data where`` says what is there (:func:`has_data` for one data set).

    data/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]     (all 70,000)
    data/mnist/...            (all 70,000; torchvision's download lands in data/MNIST/raw/, also read)
    data/mnist-10k/train-...  (the first 10,000 training images: read in place of mnist/ when present)

Imports: data.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from . import data

# The folders fetch_data writes (and the loaders read first): data set -> (sub-folder, torchvision class).
DATA_LAYOUT = {"fashion-mnist": ("fashion-mnist", "FashionMNIST"), "mnist": ("mnist", "MNIST")}


def has_data(dataset: str, root=None) -> bool:
    """Whether the IDX files of ``dataset`` ("fashion-mnist" or "mnist") are in the data folder (in any
    layout the loaders read); a cheap check that opens no file."""
    d = {"fmnist": "fashion-mnist", "fashion_mnist": "fashion-mnist", "mnist-10k": "mnist"}.get(dataset, dataset)
    subdirs = data._SUBDIRS.get(d)
    if subdirs is None:
        raise ValueError(f"unknown data set {dataset!r}; accepted: fashion-mnist, mnist")
    base = data.find_data_root(root)
    return any(data._find_file(base / sub, data._IDX_FILES["train"][0]) is not None for sub in subdirs)


def fetch_data(datasets=("fashion-mnist", "mnist"), source=None, to=None, announce=print) -> dict:
    """Put MNIST and Fashion-MNIST where the loaders look (``to``, default ``data.find_data_root()``).

    With ``source`` (a folder), the IDX files of each data set found there (in any layout the loaders
    read: ``fashion-mnist/``, ``FashionMNIST/raw/``, ``mnist-10k/``, ``mnist/``, ``MNIST/raw/``) are
    checked by reading them and copied unchanged into ``to/<sub-folder>``; a data set ``source`` lacks
    is an error. Without it, torchvision downloads each data set into ``to`` (needs internet). A data
    set already readable at ``to`` is left as it is. Returns {data set: folder it is read from}.
    """
    names = [str(d).lower() for d in ([datasets] if isinstance(datasets, str) else datasets)]
    aliases = {"fmnist": "fashion-mnist", "fashion_mnist": "fashion-mnist", "mnist-10k": "mnist"}
    names = [aliases.get(n, n) for n in names]
    bad = [n for n in names if n not in DATA_LAYOUT]
    if bad:
        raise ValueError(f"unknown data set {bad[0]!r} for fetch; accepted: {', '.join(DATA_LAYOUT)}")
    dest = data.find_data_root(to)
    if source is not None:
        source = Path(source).expanduser()
        if not source.is_dir():
            raise FileNotFoundError(f"--from {source}: no such folder")
        if source.resolve() == dest.resolve():
            raise ValueError(f"the source and the destination are the same folder ({dest})")
    loaders = {"fashion-mnist": data.load_fashion_mnist, "mnist": data.load_mnist}
    out = {}
    for name in names:
        try:
            have = loaders[name](dest)
            announce(f"{name}: {len(have):,} images already in {have.source}")
            out[name] = have.source
            continue
        except FileNotFoundError:
            pass
        if source is None:
            images = loaders[name](dest, download=True)
            announce(f"{name}: downloaded {len(images):,} images into {dest}")
            out[name] = str(dest)
            continue
        images = loaders[name](source)           # reads (and so checks) every file before copying any
        folder = Path(images.source)
        sub = "mnist-10k" if images.name == "mnist-10k" else DATA_LAYOUT[name][0]
        target = dest / sub
        target.mkdir(parents=True, exist_ok=True)
        n = 0
        for f in sorted(folder.iterdir()):
            if f.is_file() and f.name.split(".")[0] in {x for pair in data._IDX_FILES.values() for x in pair}:
                part = target / (f.name + ".part")          # a copy cut short never looks like a data file
                shutil.copyfile(f, part)
                os.replace(part, target / f.name)
                n += 1
        announce(f"{name}: {len(images):,} images, {n} files copied from {folder} to {target}")
        out[name] = str(target)
    return out
