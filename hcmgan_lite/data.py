"""Image data sets for HC-MGAN: loading, validation and subsets.

Every loader returns an :class:`ImageData`: float32 images of shape N×C×H×W with
values in [-1, 1] (the range of the generators' ``tanh`` output), integer labels
and class names. Labels are never used for clustering, only for evaluation.

The data root is, in order: the ``root`` argument, the environment variable
``HCMGAN_DATA``, or :func:`default_data_root` (the ``data/`` folder of the checkout the package
runs from, else ``~/.cache/hcmgan_lite/data``), whatever the current folder: a chapter run in a
kernel started in ``book/`` finds the same data as the command line. ``fetch.fetch_data`` (the
``hcmgan data fetch`` command) fills it.

Imports: progress.
"""
from __future__ import annotations

import dataclasses
import gzip
import zlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger(__name__)

MNIST_CLASSES = [str(d) for d in range(10)]
FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
SOP_DROPPED = ("kettle", "lamp")
SUPPORTED_SIZES = ((28, 28), (32, 32))
AMBIGUOUS_MAX = 32.0   # float images above 1 but with no pixel at 32 or more: [0, 255] is a guess, refused
_IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
_HOW_TO_GET = ("To get the data: run `hcmgan data fetch` (downloads with torchvision; needs internet) or "
               "`hcmgan data fetch --from FOLDER` (copies the IDX files of a folder), set the environment "
               "variable HCMGAN_DATA to the folder that holds it, pass root=..., or call with download=True "
               "(needs internet).")
# The folders under the data root each loader reads, first found first (torchvision's layout included).
_SUBDIRS = {"fashion-mnist": ("fashion-mnist", "FashionMNIST/raw", "."),
            "mnist": ("mnist-10k", "mnist", "MNIST/raw", ".")}


@dataclass
class ImageData:
    """Images (float32, N×C×H×W, in [-1, 1]) with optional int64 labels."""

    images: torch.Tensor
    labels: torch.Tensor | None = None
    class_names: list[str] | None = None
    name: str = "custom"
    source: str = ""                 # where the images were read from (a folder), if from files

    def __len__(self) -> int:
        return self.images.shape[0]

    def __repr__(self) -> str:
        return f"ImageData(name={self.name!r}, n={len(self)}, shape={self.shape}, n_classes={self.n_classes})"

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape of one image, (C, H, W)."""
        return tuple(self.images.shape[1:])

    @property
    def n_classes(self) -> int:
        """Number of classes (0 for unlabelled data)."""
        if self.class_names is not None:
            return len(self.class_names)
        return 0 if self.labels is None or len(self.labels) == 0 else int(self.labels.max()) + 1

    def to(self, device) -> "ImageData":
        """A new ImageData whose images and labels live on ``device``."""
        labels = None if self.labels is None else self.labels.to(device)
        return dataclasses.replace(self, images=self.images.to(device), labels=labels)

    def subset(self, classes=None, per_class: int | None = None, seed: int = 0) -> "ImageData":
        """Keep some classes and/or at most ``per_class`` images of each class.

        ``classes`` lists class indices or names; the kept classes are relabelled
        0..k-1 in the order given. ``per_class`` keeps the first images of each
        class after a random permutation drawn from ``seed`` (deterministic); a
        class with fewer images keeps them all. Images keep their original order.
        :meth:`subset_indices` says which images are kept, :meth:`unseen` gives the others.
        """
        if classes is None and per_class is None:
            return dataclasses.replace(self)
        idx, mapped, names = self._select(classes, per_class, seed)
        return self._take(idx, mapped, names)

    def subset_indices(self, classes=None, per_class: int | None = None, seed: int = 0) -> torch.Tensor:
        """The indices (into this data set, ascending) of the images ``subset`` with the same arguments keeps."""
        if classes is None and per_class is None:
            return torch.arange(len(self))
        return self._select(classes, per_class, seed)[0]

    def unseen(self, classes=None, per_class: int | None = None, seed: int = 0) -> "ImageData":
        """The images of the kept classes that ``subset`` with the same arguments leaves out, labelled as it
        labels them (the held-out images of a tree grown on that subset)."""
        if self.labels is None:
            raise ValueError("unseen(...) needs labels, but this data set has none")
        classes_kept = list(range(self.n_classes)) if classes is None else classes
        idx, mapped, names = self._select(classes_kept, per_class, seed)
        out = mapped >= 0
        out[idx] = False
        return self._take(torch.nonzero(out).flatten(), mapped, names)

    def _take(self, idx, mapped, names) -> "ImageData":
        dev = self.images.device
        return ImageData(self.images[idx.to(dev)], mapped[idx].to(self.labels.device), names, self.name, self.source)

    def _select(self, classes, per_class, seed):
        """(indices kept, every image's new label or -1, the kept class names)."""
        if self.labels is None:
            raise ValueError("subset(classes=..., per_class=...) needs labels, but this data set has none")
        labels = self.labels.cpu()
        keep = list(range(self.n_classes)) if classes is None else self._class_indices(classes)
        new_label = torch.full((max(self.n_classes, int(labels.max()) + 1),), -1, dtype=torch.int64)
        new_label[keep] = torch.arange(len(keep))
        mapped = new_label[labels]
        if per_class is None:
            idx = torch.nonzero(mapped >= 0).flatten()
        else:
            if int(per_class) < 1:
                raise ValueError(f"per_class must be at least 1, got {per_class}")
            perm = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
            chosen = []
            for k in range(len(keep)):
                members = perm[mapped[perm] == k]
                if len(members) < per_class:
                    name = self.class_names[keep[k]] if self.class_names else keep[k]
                    log.warning("class %r has only %d images (< per_class=%d)", name, len(members), per_class)
                chosen.append(members[:per_class])
            idx = torch.sort(torch.cat(chosen)).values
        names = None if self.class_names is None else [self.class_names[c] for c in keep]
        return idx, mapped, names

    def _class_indices(self, classes) -> list[int]:
        if isinstance(classes, (str, int)):
            classes = [classes]
        out = []
        for c in classes:
            if isinstance(c, str):
                if self.class_names is None or c not in self.class_names:
                    raise ValueError(f"unknown class name {c!r}; known classes: {self.class_names}")
                out.append(self.class_names.index(c))
            else:
                if not 0 <= int(c) < self.n_classes:
                    raise ValueError(f"class index {c} out of range 0..{self.n_classes - 1}")
                out.append(int(c))
        if not out or len(set(out)) != len(out):
            raise ValueError(f"classes must be a non-empty list without repeats, got {list(classes)}")
        return out


def default_data_root() -> Path:
    """Where the loaders look when neither ``root=`` nor ``$HCMGAN_DATA`` says: the ``data/`` folder
    of the source checkout this package was imported from (an editable install), else
    ``~/.cache/hcmgan_lite/data`` (an installed package). The same whatever the current folder."""
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file() and (checkout / "hcmgan_lite").is_dir():
        return checkout / "data"
    return Path.home() / ".cache" / "hcmgan_lite" / "data"


def find_data_root(root=None) -> Path:
    """The data folder: ``root`` if given, else ``$HCMGAN_DATA``, else :func:`default_data_root`
    (may not exist)."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("HCMGAN_DATA")
    return Path(env).expanduser() if env else default_data_root()


def _read_idx(path: Path) -> np.ndarray:
    """Parse one IDX file of unsigned bytes (optionally gzip-compressed)."""
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as e:  # bad or truncated gzip stream, a broken compressed block
        raise ValueError(f"cannot read IDX file {path} (in {path.parent}): {e} (corrupt or truncated file? "
                         "replace it with a good copy)") from e
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08" or raw[3] == 0:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes "
                         f"(magic number {raw[:4].hex() or 'missing'}; expected 000008xx)")
    header = 4 + 4 * raw[3]
    if len(raw) < header:
        raise ValueError(f"IDX file {path} is truncated: its header is incomplete")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=raw[3], offset=4))
    if len(raw) - header != int(np.prod(dims)):
        raise ValueError(f"IDX file {path} is corrupt or truncated: its header promises "
                         f"{int(np.prod(dims))} values of shape {dims}, it holds {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _find_file(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _read_idx_folder(folder: Path):
    """(images, labels) of all splits found in ``folder`` (train first), or None."""
    parts = []
    for img_stem, lab_stem in _IDX_FILES.values():
        img, lab = _find_file(folder, img_stem), _find_file(folder, lab_stem)
        if img is None and lab is None:
            continue
        if img is None or lab is None:
            raise FileNotFoundError(f"found {img or lab} but not its partner "
                                    f"{img_stem if img is None else lab_stem}[.gz] in {folder}")
        x, y = _read_idx(img), _read_idx(lab)
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(f"{img} (shape {x.shape}) and {lab} (shape {y.shape}) do not match")
        parts.append((x, y))
    if not parts:
        return None
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _uint8_to_data(x, y, class_names, name) -> ImageData:
    images = torch.from_numpy(np.require(x, np.uint8, ["W"])).float().div_(127.5).sub_(1.0).unsqueeze(1)
    labels = torch.as_tensor(np.asarray(y)).to(torch.int64)
    if len(labels) and (labels.min() < 0 or labels.max() >= len(class_names)):
        raise ValueError(f"{name}: labels outside 0..{len(class_names) - 1}")
    return ImageData(images.contiguous(), labels, list(class_names), name)


def _load_idx_dataset(root, download, subdirs, tv_name, class_names, name) -> ImageData:
    root = find_data_root(root)
    if not root.is_dir():
        if not download:
            raise FileNotFoundError(f"data root {root} does not exist (or is not a folder). {_HOW_TO_GET}")
        root.mkdir(parents=True, exist_ok=True)
    searched = []
    for sub in subdirs:
        folder = root / sub
        searched.append(folder)
        found = _read_idx_folder(folder) if folder.is_dir() else None
        if found is not None:
            data = _uint8_to_data(*found, class_names, "mnist-10k" if sub == "mnist-10k" else name)
            data.source = str(folder)
            log.info("loaded %d images from %s", len(data), folder)
            return data
    files = ", ".join(f + "[.gz]" for pair in _IDX_FILES.values() for f in pair)
    msg = (f"no {tv_name} IDX files ({files}) found; looked in:\n"
           + "\n".join(f"  - {f}" for f in searched) + f"\n{_HOW_TO_GET}")
    if download:
        try:
            import torchvision.datasets as tvd
            splits = [getattr(tvd, tv_name)(str(root), train=t, download=True) for t in (True, False)]
        except Exception as e:  # no internet, mirror down, ...
            raise FileNotFoundError(f"{msg}\nThe download failed: {e}") from e
        x = np.concatenate([s.data.numpy() for s in splits])
        y = np.concatenate([np.asarray(s.targets) for s in splits])
        log.info("downloaded %d %s images to %s", len(x), name, root)
        return _uint8_to_data(x, y, class_names, name)
    raise FileNotFoundError(msg)


def load_mnist(root=None, download: bool = False) -> ImageData:
    """MNIST (train + test merged, 70,000 images; 10,000 from a ``mnist-10k`` folder).

    A ``mnist-10k`` folder is preferred when it exists (``name`` is then ``"mnist-10k"``, and
    :func:`describe` says so): the paper's MNIST results are on all 70,000 images.
    """
    return _load_idx_dataset(root, download, _SUBDIRS["mnist"],
                             "MNIST", MNIST_CLASSES, "mnist")


def describe(data: ImageData) -> str:
    """One line on which images were loaded: how many, of what, from where (and, for the first
    10,000 of MNIST, that the paper's MNIST results use all 70,000)."""
    what = {"mnist-10k": "MNIST (the first 10,000 of its 70,000: the mnist-10k folder, preferred when it "
                         "exists; the paper's MNIST row is on all 70,000)",
            "mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "sop": "Stanford Online Products"}
    return (f"{len(data):,} images of {what.get(data.name, data.name)}, {'x'.join(map(str, data.shape))}"
            + (f", from {data.source}" if data.source else ""))


def load_fashion_mnist(root=None, download: bool = False) -> ImageData:
    """Fashion-MNIST (train + test merged, 70,000 images, 7,000 per class)."""
    return _load_idx_dataset(root, download, _SUBDIRS["fashion-mnist"],
                             "FashionMNIST", FASHION_MNIST_CLASSES, "fashion-mnist")


def load_sop(root=None, size: int = 32, max_per_class: int | None = None,
             progress: bool = True) -> ImageData:
    """Stanford Online Products as in the paper: grayscale, size×size, without kettle and lamp.

    Expects ``<root>/Stanford_Online_Products/<class>_final/**/*.JPG`` (``root``
    may also be the ``Stanford_Online_Products`` folder itself). Files are read
    in sorted order; ``max_per_class`` keeps the first ones of each class.
    """
    from PIL import Image

    from .progress import progress_bar

    if int(size) < 1 or (max_per_class is not None and int(max_per_class) < 1):
        raise ValueError(f"size and max_per_class must be at least 1, got {size} and {max_per_class}")
    base = find_data_root(root)
    if not base.is_dir():
        raise FileNotFoundError(f"data root {base} does not exist (or is not a folder); set HCMGAN_DATA "
                                "or pass root= to the folder that holds Stanford_Online_Products/")
    if (base / "Stanford_Online_Products").is_dir():
        base = base / "Stanford_Online_Products"
    class_dirs = sorted(d for d in base.iterdir() if d.is_dir() and d.name.endswith("_final"))
    if not class_dirs:
        raise FileNotFoundError(f"no class folders '<class>_final' in {base}; expected the layout "
                                "<root>/Stanford_Online_Products/<class>_final/**/*.JPG "
                                "(e.g. bicycle_final/111085122871_0.JPG)")
    names, files = [], []
    for d in class_dirs:
        cls = d.name[: -len("_final")]
        if cls in SOP_DROPPED:
            continue
        found = sorted(p for p in d.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png") and p.is_file())
        if not found:
            log.warning("class folder %s holds no images; skipped", d)
            continue
        names.append(cls)
        files += [(p, len(names) - 1) for p in found[:max_per_class]]
    if not files:
        raise FileNotFoundError(f"no .jpg/.jpeg/.png images in the class folders of {base}")
    x = np.empty((len(files), size, size), dtype=np.uint8)
    for i, (path, _) in enumerate(progress_bar(files, desc="Loading SOP", disable=not progress)):
        try:
            with Image.open(path) as im:
                im.draft("L", (2 * size, 2 * size))  # fast reduced JPEG decoding; no-op for others
                x[i] = np.asarray(im.convert("L").resize((size, size), Image.Resampling.BILINEAR))
        except OSError as e:
            raise ValueError(f"cannot read image {path}: {e}") from e
    data = _uint8_to_data(x, [c for _, c in files], names, "sop")
    data.source = str(base)
    log.info("loaded %d images of %d classes from %s", len(data), len(names), base)
    return data


def write_sop_layout(data: ImageData, folder, tint=(1.0, 0.6, 0.3), size: int = 64, decoys: bool = True) -> Path:
    """Write ``data`` as a folder in Stanford Online Products' layout; return the folder.

    ``folder/Stanford_Online_Products/<class>_final/<i>.JPG``: each image as a
    ``size``×``size`` colour JPEG (the grayscale image times ``tint``), and, with
    ``decoys``, the folders ``kettle_final`` and ``lamp_final`` that
    :func:`load_sop` must drop. For trying the SOP pipeline on data at hand.
    """
    from PIL import Image
    base = Path(folder) / "Stanford_Online_Products"
    rgb = np.asarray(tint, dtype=np.float32)[None, None]
    gray = data.images.float().mean(1)                                    # (N, H, W) in [-1, 1]
    gray = ((gray.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()

    def dir_of(name):
        d = base / f"{str(name).lower().replace(' ', '_').replace('/', '-')}_final"
        d.mkdir(parents=True, exist_ok=True)
        return d
    names = data.class_names or [str(c) for c in range(data.n_classes)]
    labels = data.labels.tolist() if data.labels is not None else [0] * len(data)
    for i, (g, y) in enumerate(zip(gray, labels)):
        colour = (g[..., None] * rgb).clip(0, 255).astype(np.uint8)
        Image.fromarray(colour).resize((size, size)).save(dir_of(names[y]) / f"{i}.JPG")
    if decoys:
        for decoy in sorted(SOP_DROPPED):
            Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(dir_of(decoy) / "0.JPG")
    return base


def _to_nchw(images) -> torch.Tensor:
    if isinstance(images, torch.Tensor):
        x = images.detach()
        if x.is_complex():
            raise TypeError(f"images must be real numbers, got a complex tensor ({x.dtype})")
    else:
        try:
            a = np.asarray(images)
        except (ValueError, TypeError) as exc:
            raise TypeError(f"images must be an array of numbers: {exc}") from None
        if a.dtype.kind == "c":
            raise TypeError(f"images must be real numbers, got complex values ({a.dtype})")
        if a.dtype.kind not in "biuf":
            raise TypeError(f"images must be an array of numbers, got dtype {a.dtype}")
        if a.dtype.kind == "f" and a.dtype.itemsize > 8:   # float128: torch has no such type
            a = a.astype(np.float64)
        x = torch.as_tensor(np.ascontiguousarray(a))       # a copy where numpy's strides are negative
    if x.ndim == 3:
        return x.unsqueeze(1)
    if x.ndim == 4 and x.shape[1] in (1, 3):
        return x
    if x.ndim == 4 and x.shape[-1] in (1, 3):
        return x.permute(0, 3, 1, 2)
    if x.ndim == 4 and min(x.shape[1], x.shape[-1]) <= 4:
        c = x.shape[1] if x.shape[1] <= 4 else x.shape[-1]
        raise ValueError(f"images have {c} channels (shape {tuple(x.shape)}); supported are 1 (grayscale) "
                         "or 3 (RGB) channels, as N×C×H×W or N×H×W×C (convert RGBA to RGB first)")
    raise ValueError(f"images must be N×H×W, N×C×H×W or N×H×W×C with C in {{1, 3}}; got shape {tuple(x.shape)}")


def check_images(images: torch.Tensor, what: str = "images") -> None:
    """Check a float N×C×H×W tensor is ready for training: C in {1, 3}, 28×28 or 32×32, finite, in [-1, 1].

    :func:`from_tensor` and the loaders produce such tensors; this catches an
    :class:`ImageData` built by hand (or edited) before any training starts.
    """
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"{what} must be a float tensor of shape N×C×H×W, got {shape} "
                         "(from_tensor converts other layouts)")
    n, c, h, w = images.shape
    if c not in (1, 3):
        raise ValueError(f"{what} have {c} channels; supported are 1 (grayscale) or 3 (RGB)")
    if (h, w) not in SUPPORTED_SIZES:
        raise ValueError(f"{what} are {h}x{w}; the architecture supports 28x28 and 32x32 (resize them first)")
    if not images.is_floating_point():
        raise ValueError(f"{what} have dtype {images.dtype}; expected floats in [-1, 1] "
                         "(from_tensor converts uint8 images)")
    if n == 0:
        return
    bad = int((~torch.isfinite(images)).sum())
    if bad:
        raise ValueError(f"{what} contain {bad} NaN/inf values; every pixel must be a finite number")
    lo, hi = float(images.min()), float(images.max())
    if lo < -1 - 1e-4 or hi > 1 + 1e-4:
        raise ValueError(f"{what} span [{lo:g}, {hi:g}]; training expects values in [-1, 1] "
                         "(from_tensor rescales [0, 1] and [0, 255] images)")


def from_tensor(images, labels=None, class_names=None, name: str = "custom",
                value_range: tuple[float, float] | None = None) -> ImageData:
    """Wrap your own images (torch tensor or numpy array) as an ImageData.

    uint8 images are read as [0, 255]. Float images use ``value_range`` if given,
    otherwise the range is inferred: within [0, 1], [-1, 1] or [0, 255] (checked in
    that order, so an all-non-negative [-1, 1] image needs ``value_range=(-1, 1)``);
    floats above 1 whose maximum is under 32 are refused as ambiguous (pass ``value_range``).
    Labels may be any integers; they are remapped to 0..k-1 and, unless
    ``class_names`` is given, the original values become the class names.
    ``class_names`` may list one name per distinct label, or one per value 0..max.
    """
    x = _to_nchw(images)
    is_uint8 = x.dtype == torch.uint8
    x = x.to(torch.float32)
    bad = int((~torch.isfinite(x)).sum())
    if bad:
        raise ValueError(f"images contain {bad} NaN/inf values; every pixel must be a finite number")
    if tuple(x.shape[2:]) not in SUPPORTED_SIZES:
        raise ValueError(f"images are {x.shape[2]}x{x.shape[3]}; the architecture supports 28x28 and 32x32 "
                         "(resize them first)")
    lo, hi = (float(x.min()), float(x.max())) if x.numel() else (0.0, 1.0)
    if is_uint8:
        rng = (0.0, 255.0)
    elif value_range is not None:
        rng = (float(value_range[0]), float(value_range[1]))
        if not rng[0] < rng[1] or lo < rng[0] or hi > rng[1]:
            raise ValueError(f"image values span [{lo:g}, {hi:g}], outside value_range={value_range}")
    else:
        rng = next((r for r in ((0.0, 1.0), (-1.0, 1.0), (0.0, 255.0)) if r[0] <= lo and hi <= r[1]), None)
        if rng is None:
            raise ValueError(f"image values span [{lo:g}, {hi:g}]; accepted ranges are [0, 1], [-1, 1] "
                             "and [0, 255] (or pass value_range=(low, high))")
        if rng == (0.0, 255.0) and hi < AMBIGUOUS_MAX:   # e.g. [0, 2]: as [0, 255] every image would be black
            raise ValueError(f"image values span [{lo:g}, {hi:g}]: above 1, so not [0, 1] or [-1, 1], but far "
                             f"below 255; which range is meant is ambiguous. Pass value_range=(low, high), e.g. "
                             f"value_range=(0, 255) for dark 8-bit images")
        log.info("from_tensor: float images in [%g, %g] read as the range %s", lo, hi, rng)
    if rng != (-1.0, 1.0):
        x = ((x - rng[0]) * (2.0 / (rng[1] - rng[0])) - 1.0).contiguous()
    else:  # images already in [-1, 1] are kept bit for bit (in a copy)
        x = x.clone(memory_format=torch.contiguous_format)
    if labels is None:
        return ImageData(x, None, None if class_names is None else list(class_names), name)
    y = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(f"got {len(x)} images but {y.size} labels (shape {y.shape}); need one label per image")
    numeric = y.dtype.kind in "biuf"
    if numeric and y.dtype.kind == "f":
        if not np.all(np.isfinite(y) & (np.mod(y, 1) == 0)):
            raise ValueError("labels must be integers (or strings)")
        y = y.astype(np.int64)
    values, y = np.unique(y, return_inverse=True)
    if class_names is None:
        names = [str(v) for v in values]
    elif len(class_names) == len(values):
        names = list(class_names)
    elif numeric and len(values) and values.min() >= 0 and len(class_names) > values.max():
        names = [class_names[int(v)] for v in values]
    else:
        raise ValueError(f"{len(class_names)} class names for {len(values)} distinct labels {values.tolist()}")
    return ImageData(x, torch.as_tensor(y.reshape(-1), dtype=torch.int64).to(x.device), names, name)


_LOADERS = {"mnist": load_mnist, "fashion-mnist": load_fashion_mnist, "fmnist": load_fashion_mnist,
            "fashion_mnist": load_fashion_mnist, "sop": load_sop}


def load_dataset(name: str, root=None, **kw) -> ImageData:
    """Load a data set by name: "mnist", "fashion-mnist" ("fmnist", "fashion_mnist") or "sop"."""
    loader = _LOADERS.get(str(name).lower())
    if loader is None:
        raise ValueError(f"unknown data set {name!r}; accepted names: {', '.join(_LOADERS)}")
    return loader(root=root, **kw)
