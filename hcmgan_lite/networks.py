"""Trained networks outside their training: a split's kept classifiers applied to new images, and a trained
raw split's networks saved to a file and loaded back (to draw samples and split images without training).

Imports: settings, storage, training.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import torch

from .settings import Settings
from .storage import checksum_problem, save_checked
from .training import SplitGAN, _cpu_state

NETS_FORMAT = "hcmgan-lite-split-networks"


def classifier_state(gan: "SplitGAN") -> dict:
    """What routes an image through a trained split: the critics (trunk and C head; the D head comes along,
    a few hundred numbers) and how they were built. A raw split has one classifier, a refinement two (one
    per group), averaged as in Algorithm 3, line 7."""
    return {"mode": gan.mode, "D": _cpu_state(gan.D)}


def apply_classifier(clf: dict, X: torch.Tensor, settings: Settings, device=None) -> torch.Tensor:
    """p(first child | x) for every image of ``X`` (N, C, H, W in [-1, 1]) from a kept classifier: (N,) float32.

    The same computation as the split's own re-estimation (:meth:`SplitGAN.predict`), so on the images a
    split was trained on it gives the same numbers (bit for bit on the same device and threads)."""
    device = torch.device(device) if device is not None else X.device
    gan = SplitGAN(clf["mode"], tuple(X.shape[1:]), settings, device)
    gan.D.load_state_dict({k: v.to(device) for k, v in clf["D"].items()})
    gan.D.eval()
    return gan.predict(X.to(device, torch.float32))


def save_split_networks(path, gan: SplitGAN, **about) -> Path:
    """Write a trained split's generators and critic (and its settings, and ``about``) with a checksum."""
    return save_checked(path, {"format": NETS_FORMAT, "mode": gan.mode, "settings": gan.s.to_dict(),
                               "G": _cpu_state(gan.G), "D": _cpu_state(gan.D), **about})


def load_split_networks(path, device="cpu") -> tuple[SplitGAN, dict]:
    """A saved trained split as a :class:`~hcmgan_lite.training.SplitGAN` (its networks loaded), and the
    file's other entries (``about``: the data it was trained on, its log). Refuses damaged files."""
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            d = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:   # noqa: BLE001 - our words only
        raise ValueError(f"{path} is not a readable file of trained networks") from None
    if not isinstance(d, dict) or d.get("format") != NETS_FORMAT:
        raise ValueError(f"{path} is not a file of trained split networks (format {NETS_FORMAT!r})")
    problem = checksum_problem(d)
    if problem is not None:
        raise ValueError(f"{path} is damaged: {problem}")
    s = Settings.from_dict(d["settings"])
    shape = tuple(d.get("image_shape", (1, 28, 28)))
    gan = SplitGAN(d["mode"], shape, s, torch.device(device))
    gan.G.load_state_dict(d["G"])   # (weights stored as float16 are copied into the fp32 networks)
    gan.D.load_state_dict(d["D"])
    return gan, {k: v for k, v in d.items() if k not in ("G", "D", "sha256")}
