"""The reference loop: HC-MGAN's GAN training written the plain way.

Same networks (:mod:`hcmgan_lite.models`), batch sizes, learning rates and
losses as :class:`hcmgan_lite.training.SplitGAN`, trained the way the
authors' public code trains them:

* each real batch comes from a ``DataLoader`` over a ``TensorDataset`` with a
  ``WeightedRandomSampler(weights=s_k)``, through a new iterator per batch
  (``next(iter(loader))``);
* every loss is read back with ``.item()`` at every step;
* a refinement holds two separate groups (a ``k = 1`` generator and critic
  each, with their own optimisers), updated one after the other; each group's
  classifier still sees both generators' samples (Algorithm 4);
* the generators' update back-propagates into every weight (``loss.backward()``);
* the membership re-estimation runs in batches of 100 images.

The order of the updates is the library's: both critics, then both
generators.  (Algorithm 3 lists group l's whole update before group m's; the
work is the same, and this order lets ``tests/test_benchmark.py`` check that
one step of each computes the same losses.)  ``benchmarks/bench.py`` times
this loop against the library.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset, WeightedRandomSampler

from hcmgan_lite.models import Critic, Generator

# What this loop implements of the settings that name a choice: one generator per refinement group and
# additive Gaussian instance noise (the paper's text); ``benchmarks/bench.py`` times the library with these.
PLAIN_LOOP_SETTINGS = dict(refine_gens=1, noise="additive")


class PlainGroup:
    """One critic (D and C on a shared trunk), its optimiser, and the generators it trains with."""

    def __init__(self, n_gen: int, image_shape, s, device, lr_c: float):
        c, h, _ = image_shape
        self.G = [Generator(1, c, h, s.g_width, s.latent_dim, s.g_layout, s.latent).to(device) for _ in range(n_gen)]
        self.D = Critic(1, c, h, s.d_widths, s.slope).to(device)
        self.opt_g = torch.optim.Adam([p for g in self.G for p in g.parameters()], lr=s.lr_g, betas=s.betas)
        self.opt_dc = torch.optim.Adam([
            {"params": self.D.trunk_parameters(), "lr": s.lr_d},
            {"params": self.D.c_head.parameters(), "lr": lr_c},
        ], betas=s.betas)

    def heads(self, x, sigma):
        """D's logits (B,) and C's logits (B, 2) on noisy images x (B, C, H, W)."""
        if sigma > 0:
            x = x + sigma * torch.randn_like(x)
        feats = self.D.features(x[None])
        return self.D.discriminate(feats)[0], feats


class PlainSplit:
    """``mode="mgan"``: one critic, two generators.  ``mode="pair"``: two groups l and m."""

    def __init__(self, mode, X, weights, settings, device):
        for name, value in PLAIN_LOOP_SETTINGS.items():
            if getattr(settings, name) != value:
                raise ValueError(f"the plain loop implements {name}={value!r}, got {getattr(settings, name)!r}")
        self.mode, self.s, self.device = mode, settings, torch.device(device)
        shape = tuple(X.shape[1:])
        if mode == "mgan":
            self.groups = [PlainGroup(2, shape, settings, device, settings.lr_c)]
        else:
            lr_c = settings.lr_c_refine or settings.lr_c
            self.groups = [PlainGroup(1, shape, settings, device, lr_c) for _ in range(2)]
        data = TensorDataset(X.cpu())
        self.loaders = [DataLoader(data, batch_size=settings.batch_size,
                                   sampler=WeightedRandomSampler(w.cpu().double(), len(X), replacement=True))
                        for w in weights.reshape(len(self.groups), -1)]

    @property
    def generators(self):
        return [g for grp in self.groups for g in grp.G]

    def draw(self):
        """One real batch per group and one latent batch per generator."""
        real = [next(iter(loader))[0].to(self.device) for loader in self.loaders]
        z = [g.sample_latent(self.s.gen_batch_size, self.device)[0] for g in self.generators]
        return real, z

    def update(self, real, z, sigma):
        """One update of the critics, then of the generators; returns the losses as floats."""
        s, B, Bg = self.s, self.s.batch_size, self.s.gen_batch_size
        target = torch.arange(2, device=self.device).repeat_interleave(Bg)
        fakes = [g(zj[None])[0] for g, zj in zip(self.generators, z)]
        both = torch.cat(fakes)
        logs = {"d_real": 0.0, "d_fake": 0.0, "c_loss": 0.0, "g_adv": 0.0, "g_cls": 0.0}
        n = len(self.groups)
        for j, grp in enumerate(self.groups):          # critics, one after the other
            d, feats = grp.heads(torch.cat([real[j], both.detach()]), sigma)
            d_real = F.binary_cross_entropy_with_logits(d[:B], torch.ones(B, device=self.device))
            d_own = d[B:] if self.mode == "mgan" else d[B + j * Bg: B + (j + 1) * Bg]
            d_fake = F.binary_cross_entropy_with_logits(d_own, torch.zeros_like(d_own))
            c_loss = F.cross_entropy(grp.D.classify(feats[:, B:])[0], target)
            grp.opt_dc.zero_grad()
            (d_real + d_fake + c_loss).backward()
            grp.opt_dc.step()
            for key, v in (("d_real", d_real), ("d_fake", d_fake), ("c_loss", c_loss)):
                logs[key] += v.item() / n
        if self.mode == "mgan":                         # both generators against the one critic
            grp = self.groups[0]
            d, feats = grp.heads(both, sigma)
            g_adv = F.binary_cross_entropy_with_logits(d, torch.ones_like(d))
            g_cls = F.cross_entropy(grp.D.c_head(feats)[0], target)
            grp.opt_g.zero_grad()
            (g_adv + s.gamma * g_cls).backward()
            grp.opt_g.step()
            logs["g_adv"], logs["g_cls"] = g_adv.item(), g_cls.item()
        else:                                           # generators, one after the other
            for j, grp in enumerate(self.groups):
                own = torch.full((Bg,), j, device=self.device)
                other = self.groups[1 - j]
                d, feats = grp.heads(fakes[j], sigma)
                g_adv = F.binary_cross_entropy_with_logits(d, torch.ones_like(d))
                # eq. 6: G_j's samples classified as j by its own and by the other classifier
                # (half weight each: each classifier's loss is a mean over both generators' samples)
                g_cls = (F.cross_entropy(grp.D.c_head(feats)[0], own) +
                         F.cross_entropy(other.D.c_head(other.heads(fakes[j], sigma)[1])[0], own)) / 2
                grp.opt_g.zero_grad()
                (g_adv + s.gamma * g_cls).backward()
                grp.opt_g.step()
                logs["g_adv"] += g_adv.item() / n
                logs["g_cls"] += g_cls.item() / n
        return logs

    def train(self, steps: int):
        """``steps`` steps with the library's noise schedule; returns the per-step losses."""
        history = []
        for t in range(steps):
            sigma = math.sqrt(self.s.noise_var * (1 - t / steps))
            history.append(self.update(*self.draw(), sigma))
        return history

    @torch.no_grad()
    def predict(self, X, batch_size: int = 100):
        """p(first generator | x), averaged over the classifiers, in batches of ``batch_size``."""
        out = []
        for i in range(0, len(X), batch_size):
            xb = X[i:i + batch_size].to(self.device)
            p = [grp.D.c_head(grp.D.features(xb[None]))[0].softmax(-1)[:, 0] for grp in self.groups]
            out.append(sum(p).cpu() / len(p))
        return torch.cat(out)


def load_copy(single, group, j: int):
    """Load copy ``j`` of a grouped module (``k`` copies) into the same module built with ``k = 1``."""
    k = group.k
    single.load_state_dict({name: p.reshape(k, -1, *p.shape[1:])[j].clone()
                            for name, p in group.state_dict().items()})


def from_library(gan, X, weights):
    """A :class:`PlainSplit` holding the same weights as a library ``SplitGAN``."""
    plain = PlainSplit(gan.mode, X, weights, gan.s, gan.device)
    for j, g in enumerate(plain.generators):
        load_copy(g, gan.G, j)
    for j, grp in enumerate(plain.groups):
        load_copy(grp.D, gan.D, j)
    return plain
