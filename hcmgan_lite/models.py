"""Networks of HC-MGAN (supplement, Table 2), written as *groups*.

Every module here holds ``k`` independent copies of the same network and runs
them as one computation: a tensor of shape ``(k, B, ...)`` goes in, and copy
``j`` only ever sees slice ``j``.  With ``k = 1`` these are plain networks; the
raw split uses a generator group of two (``G_alpha``, ``G_beta``) and one
discriminator/classifier, the refinement uses two of each (groups *l* and *m*)
and trains them together instead of one after the other.

The copies are packed along the channel axis and run with grouped
convolutions, so they never exchange information: the gradient of copy ``j``'s
loss reaches copy ``j``'s parameters only.

Two execution options change how a group runs, never what it computes (the
parameters and the results are the same):

* ``loop_copies``: run the copies one after the other, each with its slice of
  the grouped weights, instead of as one grouped convolution;
* ``channels_last``: lay the convolutions' activations and weights out
  channels-last (``torch.channels_last``) instead of the default layout;
* ``dense_first``: run the critics' first convolution (one input channel per
  copy for grayscale images) as one dense convolution with a block-diagonal
  weight built from the grouped one, instead of a grouped convolution. A
  grouped convolution with one input channel per group runs on PyTorch's
  depthwise kernels on CUDA (about a fifth of a refinement step's GPU time on
  an H200); the dense one runs on cuDNN's. The zeros off the diagonal add
  nothing, and no gradient reaches them (the weight is built from the grouped
  parameter at every call).

:class:`~hcmgan_lite.training.SplitGAN` picks them per device.

Imports nothing from the rest of the package.
"""
from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F


class GroupLinear(nn.Module):
    """``k`` independent fully connected layers: ``(k, B, in) -> (k, B, out)``."""

    def __init__(self, k: int, d_in: int, d_out: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(k, d_in, d_out))
        self.bias = nn.Parameter(torch.empty(k, 1, d_out))
        bound = 1.0 / math.sqrt(d_in)  # the initialisation of nn.Linear
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class GroupLayerNorm(nn.Module):
    """LayerNorm over (C, H, W) of each image, with a separate affine map per copy."""

    def __init__(self, k: int, c: int, h: int, w: int):
        super().__init__()
        self.k, self.shape = k, (c, h, w)
        self.weight = nn.Parameter(torch.ones(k, c, h, w))
        self.bias = nn.Parameter(torch.zeros(k, c, h, w))

    def forward(self, x: torch.Tensor, copy: int | None = None) -> torch.Tensor:
        """x: (B, k*c, h, w); with ``copy=j``, x is (B, c, h, w) and only copy ``j`` runs."""
        if copy is not None:
            return F.layer_norm(x, self.shape, self.weight[copy], self.bias[copy])
        b = x.shape[0]
        x = x.reshape(b, self.k, *self.shape)
        x = F.layer_norm(x, self.shape) * self.weight + self.bias
        return x.reshape(b, -1, *self.shape[1:])


def _pack(x: torch.Tensor) -> torch.Tensor:
    """(k, B, C, H, W) -> (B, k*C, H, W): the copies side by side as channels."""
    k, b, c, h, w = x.shape
    return x.transpose(0, 1).reshape(b, k * c, h, w)


def _unpack(x: torch.Tensor, k: int) -> torch.Tensor:
    """(B, k*C, H, W) -> (k, B, C, H, W)."""
    b, kc, h, w = x.shape
    return x.reshape(b, k, kc // k, h, w).transpose(0, 1)


def _run_copy(conv: nn.Module, x: torch.Tensor, j: int) -> torch.Tensor:
    """Copy ``j`` of a grouped (transposed) convolution on its own input (B, C, H, W)."""
    w, b = conv.weight.chunk(conv.groups)[j], conv.bias.chunk(conv.groups)[j]
    if isinstance(conv, nn.ConvTranspose2d):
        return F.conv_transpose2d(x, w, b, conv.stride, conv.padding, conv.output_padding)
    return F.conv2d(x, w, b, conv.stride, conv.padding)


def block_diagonal(weight: torch.Tensor, groups: int) -> torch.Tensor:
    """A grouped convolution's weight (k*out, in, kh, kw) as the dense weight (k*out, k*in, kh, kw) of the
    same convolution: copy ``j``'s filters on its own input channels, zeros elsewhere."""
    ko, c, kh, kw = weight.shape
    o = ko // groups
    eye = torch.eye(groups, dtype=weight.dtype, device=weight.device)
    w = weight.reshape(groups, o, 1, c, kh, kw) * eye.reshape(groups, 1, groups, 1, 1, 1)
    return w.reshape(ko, groups * c, kh, kw)


def _dense_grouped(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """A grouped convolution computed as one dense convolution (see ``dense_first``)."""
    if conv.groups == 1:
        return conv(x)
    w = block_diagonal(conv.weight, conv.groups)
    if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        w = w.contiguous(memory_format=torch.channels_last)
    return F.conv2d(x, w, conv.bias, conv.stride, conv.padding)


class _Group(nn.Module):
    """What :class:`Generator` and :class:`Critic` share: the execution options."""

    loop_copies: bool = False
    dense_first: bool = False
    memory_format: torch.memory_format = torch.contiguous_format

    def set_execution(self, loop_copies: bool | None = None, channels_last: bool | None = None,
                      dense_first: bool | None = None):
        """Run the copies in a loop or grouped; lay convolutions out channels-last or not; run a critic's
        first convolution as a dense one with a block-diagonal weight or as a grouped one."""
        if loop_copies is not None:
            self.loop_copies = bool(loop_copies)
        if dense_first is not None:
            self.dense_first = bool(dense_first)
        if channels_last is not None:
            memory_format = torch.channels_last if channels_last else torch.contiguous_format
            self.memory_format = memory_format
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                    m.to(memory_format=memory_format)
        return self

    def _layout(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=self.memory_format)


class Generator(_Group):
    """``k`` generators: z -> FC -> (c1, s, s) -> 2 transposed convs -> tanh.

    ``s`` is ``image_size / 4`` (7 for 28x28, 8 for 32x32).  Two layouts:

    * ``"wide"`` (the authors' code): FC to ``2*width`` maps, a 4x4 stride-2
      transposed convolution to ``width``, then to the image channels;
    * ``"narrow"`` (Table 2 of the supplement as written): FC to ``width`` maps,
      then ``width / 2``, then the image channels.

    ReLU between, tanh at the end.  ``latent`` picks the prior of z:
    ``"symmetric"`` is U(-1, 1) (the authors' code), ``"positive"`` is U[0, 1]
    (Table 2's text; with it the generators learn to ignore z).
    """

    LATENTS = ("symmetric", "positive")
    LAYOUTS = ("wide", "narrow")

    def __init__(self, k: int = 2, channels: int = 1, image_size: int = 28,
                 width: int = 128, latent_dim: int = 100, layout: str = "wide", latent: str = "symmetric"):
        super().__init__()
        if image_size % 4:
            raise ValueError(f"image_size must be a multiple of 4, got {image_size}")
        if layout not in self.LAYOUTS:
            raise ValueError(f"layout must be one of {self.LAYOUTS}, got {layout!r}")
        if latent not in self.LATENTS:
            raise ValueError(f"latent must be one of {self.LATENTS}, got {latent!r}")
        self.k, self.latent_dim, self.latent = k, latent_dim, latent
        c1, c2 = (2 * width, width) if layout == "wide" else (width, width // 2)
        self.width = c1
        self.s = image_size // 4
        self.fc = GroupLinear(k, latent_dim, c1 * self.s * self.s)
        self.up1 = nn.ConvTranspose2d(k * c1, k * c2, 4, 2, 1, groups=k)
        self.up2 = nn.ConvTranspose2d(k * c2, k * channels, 4, 2, 1, groups=k)

    def sample_latent(self, n: int, device=None, generator: torch.Generator | None = None, shared: bool = False):
        """Latent codes (k, n, latent_dim): one draw per generator, or with ``shared`` one draw that every
        generator maps (the authors' code feeds all generators of a step the same z)."""
        z = torch.rand(1 if shared else self.k, n, self.latent_dim, device=device, generator=generator)
        z = z * 2 - 1 if self.latent == "symmetric" else z
        return z.expand(self.k, -1, -1) if shared else z

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # z: (k, B, latent) -> (k, B, C, H, W)
        b = z.shape[1]
        h = F.relu(self.fc(z))                                   # (k, B, width*s*s)
        h = h.reshape(self.k, b, self.width, self.s, self.s)
        if self.loop_copies and self.k > 1:
            return torch.stack([torch.tanh(_run_copy(self.up2, F.relu(_run_copy(self.up1, self._layout(h[j]), j)), j))
                                for j in range(self.k)])
        h = F.relu(self.up1(self._layout(_pack(h))))
        return _unpack(torch.tanh(self.up2(h)), self.k)


class Critic(_Group):
    """``k`` discriminator/classifier pairs sharing a convolutional trunk each.

    Trunk: three 5x5 stride-2 convolutions with LayerNorm and LeakyReLU(0.2)
    (Table 2).  Heads: D, one logit; C, two logits (which generator made the
    sample).  :meth:`classify` detaches the trunk's features, so only D's loss
    ever updates the trunk, as in the supplement.
    """

    def __init__(self, k: int = 1, channels: int = 1, image_size: int = 28,
                 widths: tuple[int, int, int] = (128, 256, 512), slope: float = 0.2,
                 n_classes: int = 2, shared_trunk: bool = False):
        super().__init__()
        self.k, self.slope = k, slope
        self.shared_trunk = bool(shared_trunk) and k > 1   # one trunk for every copy's heads
        kt = 1 if self.shared_trunk else k
        layers, c, s = [], channels, image_size
        for w in widths:
            s = (s - 1) // 2 + 1  # kernel 5, stride 2, padding 2
            layers += [nn.Conv2d(kt * c, kt * w, 5, 2, 2, groups=kt), GroupLayerNorm(kt, w, s, s)]
            c = w
        self.trunk = nn.ModuleList(layers)
        self.n_features = c * s * s
        self.d_head = GroupLinear(k, self.n_features, 1)
        self.c_head = GroupLinear(k, self.n_features, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:  # (k, B, C, H, W) -> (k, B, F)
        if self.shared_trunk:   # every copy's batch through the one trunk
            k, b = x.shape[:2]
            return self._trunk(x.reshape(1, k * b, *x.shape[2:]), 1).reshape(k, b, -1)
        return self._trunk(x, self.k)

    def _trunk(self, x: torch.Tensor, k: int) -> torch.Tensor:
        b = x.shape[1]
        layers = list(zip(self.trunk[0::2], self.trunk[1::2]))
        if self.loop_copies or k == 1:  # copy by copy: plain convolutions, LayerNorm with its affine map
            out = []
            for j in range(k):
                h = self._layout(x[j])
                for conv, norm in layers:
                    h = F.leaky_relu(norm(_run_copy(conv, h, j), j), self.slope)
                out.append(h.reshape(b, -1))
            return out[0][None] if k == 1 else torch.stack(out)
        h = self._layout(_pack(x))
        for i, (conv, norm) in enumerate(layers):
            h = _dense_grouped(conv, h) if i == 0 and self.dense_first else conv(h)
            h = F.leaky_relu(norm(h), self.slope)
        return h.reshape(b, k, -1).transpose(0, 1)

    def discriminate(self, feats: torch.Tensor) -> torch.Tensor:  # (k, B, F) -> (k, B)
        return self.d_head(feats).squeeze(-1)

    def classify(self, feats: torch.Tensor) -> torch.Tensor:  # (k, B, F) -> (k, B, 2)
        return self.c_head(feats.detach())

    def trunk_parameters(self):
        return list(self.trunk.parameters()) + list(self.d_head.parameters())

    def shared_parameters(self):
        """The trunk's parameters (updated by every copy's D loss under ``shared_trunk``)."""
        return list(self.trunk.parameters())


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
