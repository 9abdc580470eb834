"""The GAN game shared by the raw split and the refinement.

Both phases train two generators against one or two critics
(discriminator + classifier on a shared trunk); they differ only in who plays
whom:

* raw split (Algorithm 2, ``mode="mgan"``): one critic.  ``D`` sees real
  images drawn from ``P_{s_k}`` and the samples of both generators; ``C``
  learns which generator made a sample.
* refinement (Algorithms 3-4, ``mode="pair"``): two critics, one per group.
  ``D_j`` sees real images drawn from ``P_{s_j}`` and the samples of ``G_j``
  only; both classifiers learn to tell ``G_l`` from ``G_m``, and each
  generator minimises its own ``D``'s loss plus gamma times the classification
  loss under both classifiers (eq. 6).  The two groups are trained in one
  batched computation.

Everything the step touches lives on the training device: the images, the
membership weights, the latent codes and the loss accumulators.  Losses are
read back to the host only every ``log_every`` steps.

Imports: settings, models, progress, data (the checks of the images).
"""
from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .data import check_images
from .models import Critic, Generator
from .settings import Settings, amp_dtype
from .progress import progress_bar

log = logging.getLogger(__name__)


class CollapseError(RuntimeError):
    """A GAN training failed and should be thrown away.

    ``kind`` says how: ``"collapse_loss"`` (D's loss on a generator's samples
    fell to ~0), ``"collapse_spread"`` (a generator's samples vary much less
    than the real images it is trained against),
    ``"non_finite"`` (the losses became NaN or infinite), or, when raised by the
    tree after every retry failed, the kind of the last failure.
    """

    def __init__(self, message: str, kind: str = "collapse_loss"):
        super().__init__(message)
        self.kind = kind
        self.progress: float | None = None        # share of the planned steps done when it was detected
        self.log: "TrainLog | None" = None        # the training's log up to then
        self.result: "SplitResult | None" = None  # the split the classifier gave at that moment (not for NaN)


def steps_for(mass: float, s: Settings) -> int:
    """Steps of one GAN: epochs x (sum(s_k) / batch size), within [min_steps, max_steps]."""
    n = math.ceil(s.epochs * mass / s.batch_size)
    n = max(n, s.min_steps, 1)
    return min(n, s.max_steps) if s.max_steps else n


def watch_start(s: Settings, steps: int) -> int:
    """The step from which collapse is watched for: epoch ``collapse_epoch`` of the schedule (the authors'
    code: 40) when set, else ``collapse_after`` of the training."""
    if s.collapse_epoch is not None:
        return int(steps * min(1.0, s.collapse_epoch / s.epochs))
    return int(s.collapse_after * steps)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] -> uint8 on the CPU (for keeping samples small)."""
    return ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()


CPU_PREDICT_CHUNK = 128  # images per forward pass of the re-estimation on the CPU (benchmarks/)


class _Compiled:
    """``torch.compile(fn)``, falling back to ``fn`` for good if compiling or running it fails."""

    def __init__(self, fn, what: str):
        self.fn, self.what = fn, what
        try:
            self.compiled = torch.compile(fn)
        except Exception as exc:  # pragma: no cover - depends on the platform
            log.warning("torch.compile unavailable for %s (%s); running eagerly", what, exc)
            self.compiled = None

    def __call__(self, *args, **kw):
        if self.compiled is not None:
            try:
                return self.compiled(*args, **kw)
            except Exception as exc:  # compilation happens at the first call (needs a C++ compiler on the CPU)
                log.warning("torch.compile failed for %s (%s: %s); running eagerly", self.what,
                            type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
                self.compiled = None
        return self.fn(*args, **kw)


def _adam(params, **kw) -> torch.optim.Adam:
    """Adam, with the fused (one kernel for all parameters) implementation where torch has one."""
    try:
        return torch.optim.Adam(params, fused=True, **kw)
    except (RuntimeError, TypeError, ValueError):  # pragma: no cover - older torch or another device
        return torch.optim.Adam(params, **kw)


def noise_level(t: int, steps: int, s: Settings) -> float:
    """The instance noise's strength at step ``t`` of ``steps``.

    ``noise="multiplicative"`` (the authors' code): the multiplier
    ``noise_var * (1 - e / E)``, constant within each of ``E = ceil(epochs)``
    equal stages of the training (``e = 1..E``), so the last stage is
    noise-free.  ``noise="additive"`` (the paper's text): the standard
    deviation ``sqrt(noise_var * (1 - t / steps))``, i.e. a variance that decays
    linearly to 0.
    """
    if s.noise == "multiplicative":
        stages = max(1, math.ceil(s.epochs))
        e = min(stages, t * stages // max(steps, 1) + 1)
        return s.noise_var * (1 - e / stages)
    return math.sqrt(s.noise_var * (1 - t / steps))


def _noisy(x: torch.Tensor, level: float, multiplicative: bool) -> torch.Tensor:
    """x + x*eps*level (multiplicative) or x + eps*level (additive), eps ~ N(0, 1) per pixel."""
    if level <= 0:
        return x
    eps = torch.randn_like(x)
    return torch.addcmul(x, x, eps, value=level) if multiplicative else torch.add(x, eps, alpha=level)


def spread(x: torch.Tensor) -> torch.Tensor:
    """How much a batch of images varies: per-pixel std across the batch, averaged over pixels.

    ``x``: (..., B, C, H, W) -> (...,).  Real Fashion-MNIST batches score about
    0.55 and MNIST about 0.36 (images in [-1, 1]); a generator that draws one
    image for every latent code scores about 0.
    """
    return x.float().flatten(-3).std(-2, correction=0).mean(-1)


def execution_for(device: torch.device) -> dict:
    """How the groups of networks run on ``device`` (the results are the same either way).

    On the CPU the copies of a group run one after the other: two plain
    convolutions beat one grouped convolution there (``benchmarks/``).  On CUDA
    they run as one grouped computation, with the critics' first convolution
    dense (``dense_first``: no depthwise kernels, which took about a fifth of a
    refinement step's kernel time on an H200).
    """
    cuda = device.type == "cuda"
    return {"loop_copies": not cuda, "channels_last": False, "dense_first": cuda}


@dataclass
class TrainLog:
    """What one GAN training produced besides the networks."""
    steps: int = 0
    history: dict = field(default_factory=lambda: {"step": [], "d_real": [], "d_fake": [], "g_adv": [], "c_loss": [], "c_acc": []})
    snapshots: list = field(default_factory=list)  # [(step, uint8 (k, n, C, H, W))]
    seconds: float = 0.0


class SplitGAN:
    """Two sides (alpha/beta, or groups l/m) of generators and one (``mgan``) or two (``pair``) critics.

    ``mgan``: two generators, one per side, and one critic.  ``pair``:
    ``refine_gens`` generators per group and one critic per group; a group's
    discriminator sees its generators' samples mixed, and the classifiers tell
    the groups apart (the authors' code uses two generators per group).
    """

    def __init__(self, mode: str, image_shape, settings: Settings, device: torch.device):
        if mode not in ("mgan", "pair"):
            raise ValueError(f"mode must be 'mgan' or 'pair', got {mode!r}")
        c, h, w = image_shape
        if h != w:
            raise ValueError(f"square images expected, got {h}x{w}")
        self.mode, self.s, self.device = mode, settings, device
        self.kd = 1 if mode == "mgan" else 2
        self.per_side = 1 if mode == "mgan" else settings.refine_gens   # generators per side
        self.kg = 2 * self.per_side
        # side of each generator (the classifiers' label), and which critic each generator plays against
        self.side = torch.arange(2, device=device).repeat_interleave(self.per_side)       # (kg,)
        self.critic_of = torch.zeros(self.kg, dtype=torch.long, device=device) if mode == "mgan" else self.side
        self.multiplicative = settings.noise == "multiplicative"
        self.G = Generator(self.kg, c, h, settings.g_width, settings.latent_dim, settings.g_layout,
                           settings.latent).to(device)
        self.D = Critic(self.kd, c, h, settings.d_widths, settings.slope,
                        shared_trunk=settings.shared_trunk and mode == "pair").to(device)
        self.execution = execution_for(device)
        for net in (self.G, self.D):
            net.set_execution(**self.execution)
        betas = tuple(settings.betas)
        self.opt_g = _adam(list(self.G.parameters()), lr=settings.lr_g, betas=betas)
        self.opt_dc = _adam([
            {"params": self.D.trunk_parameters(), "lr": settings.lr_d},
            {"params": list(self.D.c_head.parameters()),
             "lr": settings.lr_c_refine if mode == "pair" and settings.lr_c_refine else settings.lr_c},
        ], betas=betas)
        # a shared trunk (refinements under shared_trunk, as the authors' code does for SOP): group l's D
        # loss steps it through opt_dc, group m's through an optimiser of its own (its own Adam state)
        self.opt_trunk_m = (_adam(self.D.shared_parameters(), lr=settings.lr_d, betas=betas)
                            if self.D.shared_trunk else None)
        # which generator's samples each discriminator plays against: (kd, kg)
        self.d_mask = (self.critic_of[None] == torch.arange(self.kd, device=device)[:, None]).float()
        self._g, self._features = self.G, self.D.features
        if settings.compile:
            self._g = _Compiled(self.G, "the generators")
            self._features = _Compiled(self.D.features, "the critics' trunk")
        self.amp = amp_dtype(settings, device) is not None   # bf16 autocast of the steps (CUDA, bf16 CPUs)
        # the weight of the generators' classification term: the authors' code applies gamma twice in the
        # raw split's loss (gamma_raw="squared"; the same for gamma = 1) and once in a refinement's
        self.gamma_g = settings.gamma ** 2 if mode == "mgan" and settings.gamma_raw == "squared" else settings.gamma

    def _shared_trunk_step(self, d_logit, d_fake_own, B: int, total) -> None:
        """D/C update with one trunk for both groups: each group's D loss steps the trunk with its own Adam."""
        trunk = self.D.shared_parameters()
        d_each = F.binary_cross_entropy_with_logits(
            d_logit[:, :B], torch.ones_like(d_logit[:, :B]), reduction="none").mean(1) + d_fake_own.mean(1)
        g_l = torch.autograd.grad(d_each[0], trunk, retain_graph=True)
        g_m = torch.autograd.grad(d_each[1], trunk, retain_graph=True)
        heads = [p for p in self.D.parameters() if all(p is not q for q in trunk)]
        total.backward(inputs=heads)
        for p, g in zip(trunk, g_l):
            p.grad = g
        self.opt_dc.step()
        for p, g in zip(trunk, g_m):
            p.grad = g
        self.opt_trunk_m.step()

    def start_from(self, nets: dict, side: int) -> None:
        """Warm start (``Settings.warm_start``, not in the paper): both generators from the parent's
        generator ``side``, the critic's trunk and D head from the parent's critic; C's head stays fresh.

        ``nets``: :func:`networks` of the parent's raw split (an ``mgan`` with two generators, one critic).
        """
        if self.mode != "mgan":
            raise ValueError("only a raw split (mode 'mgan') starts from its parent's networks")
        if side not in (0, 1):
            raise ValueError(f"side must be 0 or 1, got {side!r}")
        with torch.no_grad():
            for name, p in self.G.named_parameters():
                src = nets["G"][name].to(p.device, p.dtype).chunk(2, 0)[side]
                for dst in p.chunk(self.kg, 0):
                    dst.copy_(src.reshape(dst.shape))
            for name, p in self.D.named_parameters():
                if not name.startswith("c_head."):
                    p.copy_(nets["D"][name].to(p.device, p.dtype).reshape(p.shape))

    def networks(self) -> dict:
        """The generators' and the critic's weights, on the CPU (what a child's warm start reads)."""
        return {name: {k: v.detach().cpu().clone().contiguous() for k, v in net.state_dict().items()}
                for name, net in (("G", self.G), ("D", self.D))}

    def _autocast(self, predict: bool = False):
        # the re-estimation on a CPU stays fp32 (on CUDA it runs under autocast, as the steps)
        if self.amp and not (predict and self.device.type == "cpu"):
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def step(self, X: torch.Tensor, weights: torch.Tensor, level: float, acc: torch.Tensor):
        """One update of D and C, then of the generators.  No host sync.

        ``weights`` (kd, N) are the (unnormalised) memberships the critics draw
        real images from; ``level`` is the instance noise's strength
        (:func:`noise_level`); ``acc`` (6,) accumulates the losses on the device.
        """
        real, z = self.draw(X, weights)
        self.update(real, z, level, acc)

    def draw(self, X: torch.Tensor, weights: torch.Tensor):
        """A real batch per critic drawn from ``P_weights`` (kd, B, C, H, W) and latent codes (kg, Bg, latent)."""
        idx = torch.multinomial(weights, self.s.batch_size, replacement=True)  # (kd, B)
        return X[idx], self.G.sample_latent(self.s.gen_batch_size, self.device, shared=self.s.shared_z)

    def _noise(self, x: torch.Tensor, level: float) -> torch.Tensor:
        return _noisy(x, level, self.multiplicative)

    def update(self, real: torch.Tensor, z: torch.Tensor, level: float, acc: torch.Tensor):
        """The step proper, on given real images and latent codes."""
        kd, g = self.kd, self.per_side
        B, Bg = real.shape[1], z.shape[1]
        side_target = self.side.repeat_interleave(Bg)              # (kg*Bg,): each sample's side
        mask = self.d_mask

        with self._autocast():
            fake = self._g(z)                                       # (kg, Bg, C, H, W)
            fakes = fake.reshape(1, -1, *fake.shape[2:])            # every generator's, side by side
            # --- discriminator and classifier (Alg. 2 lines 4-8, Alg. 4 lines 1-5)
            if self.mode == "mgan":
                # D plays against both generators: one pass over [real, G_alpha's, G_beta's]
                feats = self._features(self._noise(torch.cat([real, fakes.detach()], 1), level))  # (1, B+2Bg, F)
                c_feats, c_target = feats[:, B:], side_target[None]
            else:
                # D_j plays against its own group's generators only: back-propagate through
                # [real_j, G_j's]; the other group's samples only feed C_j, which never trains the
                # trunk, so their features need no gradient (the same result as one pass over all)
                own = fake.detach().reshape(2, g * Bg, *fake.shape[2:])    # group l's for D_l, m's for D_m
                feats = self._features(self._noise(torch.cat([real, own], 1), level))   # (2, B + g*Bg, F)
                with torch.no_grad():
                    other = self._features(self._noise(own.flip(0), level))              # (2, g*Bg, F)
                c_feats = torch.cat([feats[:, B:], other], 1)      # C_j sees [own, other]
                c_target = torch.stack([side_target, side_target.roll(g * Bg)])   # labels: l = 0, m = 1
            d_logit = self.D.discriminate(feats).float()
            # each D's loss on the samples of each generator it plays against: (kd, generators per critic)
            d_fake_own = F.binary_cross_entropy_with_logits(
                d_logit[:, B:], torch.zeros_like(d_logit[:, B:]), reduction="none").reshape(kd, -1, Bg).mean(-1)
            d_real = F.binary_cross_entropy_with_logits(d_logit[:, :B], torch.ones_like(d_logit[:, :B]))
            d_fake = d_fake_own.mean(1).sum()
            c_logit = self.D.classify(c_feats).float()             # (kd, n, 2)
            c_loss = F.cross_entropy(c_logit.reshape(-1, 2), c_target.reshape(-1)) * kd
        self.opt_dc.zero_grad(set_to_none=True)
        if self.opt_trunk_m is None:
            (d_real * kd + d_fake + c_loss).backward()
            self.opt_dc.step()
        else:
            self._shared_trunk_step(d_logit, d_fake_own, B, d_real * kd + d_fake + c_loss)

        # --- generators (Alg. 2 lines 9-11, Alg. 4 lines 6-8)
        with self._autocast():
            feats = self._features(self._noise(fakes.expand(kd, -1, -1, -1, -1), level))
            g_logit = self.D.discriminate(feats).float()
            g_adv_each = F.binary_cross_entropy_with_logits(
                g_logit, torch.ones_like(g_logit), reduction="none").reshape(kd, self.kg, Bg).mean(-1)
            g_adv = ((g_adv_each * mask).sum(1) / mask.sum(1)).sum()
            # classifier loss through the classifier head but not into the trunk's weights
            g_cls = F.cross_entropy(self.D.c_head(feats).float().reshape(-1, 2), side_target.repeat(kd)) * kd
        self.opt_g.zero_grad(set_to_none=True)
        (g_adv + self.gamma_g * g_cls).backward(inputs=list(self.G.parameters()))
        self.opt_g.step()

        with torch.no_grad():
            c_acc = (c_logit.argmax(-1) == c_target).float().mean()
            # per-generator D loss on its samples, worst (lowest) over generators, for collapse watch
            d_fake_min = d_fake_own.min()
            acc += torch.stack([d_real.detach(), d_fake.detach() / kd, g_adv.detach() / kd,
                                c_loss.detach() / kd, c_acc, d_fake_min.detach()])
        self._last_fake, self._last_real = fake.detach(), real  # for the sample-variety check at the next log point

    def spread_ratio(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Each generator's spread, its critic's real batch's spread, and their ratio (from the last step)."""
        g, r = spread(self._last_fake), spread(self._last_real)            # (kg,), (kd,)
        return g, r, g / r[self.critic_of].clamp_min(1e-6)

    def train(self, X: torch.Tensor, weights: torch.Tensor, steps: int, desc: str = "GAN",
              snapshot_every: int | None = None, n_snapshot: int = 16, progress: bool = True) -> TrainLog:
        """Train for ``steps`` steps; raise :class:`CollapseError` if a generator collapses."""
        import time
        s = self.s
        weights = weights.to(self.device, torch.float32).reshape(self.kd, -1)
        tlog = TrainLog(steps=steps)
        acc = torch.zeros(6, device=self.device)
        z_fixed = self.G.sample_latent(n_snapshot, self.device, shared=s.shared_z) if snapshot_every else None
        watch_from = watch_start(s, steps)
        t0, since = time.perf_counter(), 0
        bar = progress_bar(range(steps), desc=desc, disable=not progress, leave=False)
        for t in bar:
            self.step(X, weights, noise_level(t, steps, s), acc)
            since += 1
            if snapshot_every and (t % snapshot_every == 0 or t == steps - 1):
                tlog.snapshots.append((t + 1, self.sample(z=z_fixed)))
            if since == s.log_every or t == steps - 1:
                # variety of each generator's last batch against its critic's last real batch; the least varied
                g_sp, r_sp, ratio = self.spread_ratio()
                vals = torch.cat([acc / since, torch.stack([g_sp.min(), r_sp.mean(), ratio.min()]), ratio]).tolist()
                acc.zero_()                                                 # (the line above: the one host sync)
                h = tlog.history
                for key, v in zip(("step", "d_real", "d_fake", "g_adv", "c_loss", "c_acc"), [t + 1] + vals[:5]):
                    h[key].append(v)
                for key, v in zip(("g_std", "real_std", "spread_ratio"), vals[6:9]):
                    h.setdefault(key, []).append(v)
                h.setdefault("spread_ratio_each", []).append(vals[9:])     # one ratio per generator
                bar.set_postfix(d=f"{vals[0] + vals[1]:.2f}", g=f"{vals[2]:.2f}", c_acc=f"{vals[4]:.2f}")
                err = None
                if not all(math.isfinite(v) for v in vals[:6]):
                    err = CollapseError(f"{desc}: the losses became NaN/inf at step {t + 1}/{steps} "
                                        f"(diverged; a smaller learning rate may help)", kind="non_finite")
                elif t >= watch_from and vals[5] < s.collapse_loss:
                    err = CollapseError(f"{desc}: D's loss on a generator's samples fell to {vals[5]:.4f} "
                                        f"(< collapse_loss={s.collapse_loss}) at step {t + 1}/{steps}",
                                        kind="collapse_loss")
                elif t >= watch_from and s.gen_batch_size > 1 and vals[8] < s.collapse_spread:
                    err = CollapseError(f"{desc}: a generator's samples stopped varying (their spread is "
                                        f"{vals[8]:.3f} of the real images', < collapse_spread={s.collapse_spread}) "
                                        f"at step {t + 1}/{steps}", kind="collapse_spread")
                if err is not None:
                    tlog.seconds = time.perf_counter() - t0
                    err.progress, err.log = (t + 1) / steps, tlog
                    raise err
                since = 0
        tlog.seconds = time.perf_counter() - t0
        return tlog

    @torch.no_grad()
    def sample(self, n: int = 16, z: torch.Tensor | None = None) -> torch.Tensor:
        """uint8 samples of both sides, (2, n, C, H, W), on the CPU.

        A side with several generators (a refinement group) shows theirs in turn.
        """
        if z is None:
            z = self.G.sample_latent(n, self.device, shared=self.s.shared_z)
        with self._autocast():
            x = to_uint8(self._g(z))                                   # (kg, n, C, H, W)
        g, n = self.per_side, x.shape[1]
        return x.reshape(2, g, n, *x.shape[2:]).transpose(1, 2).reshape(2, g * n, *x.shape[2:])[:, :n]

    @torch.no_grad()
    def predict(self, X: torch.Tensor) -> torch.Tensor:
        """p(first generator | x) for every image, averaged over the classifiers: (N,) float32.

        Runs in chunks of ``predict_batch`` images; on the CPU at most
        ``CPU_PREDICT_CHUNK``, which keeps a chunk's activations in cache
        (2-3x faster there than chunks of thousands).
        """
        out = torch.empty(len(X), device=self.device)
        chunk = self.s.predict_batch if self.device.type != "cpu" else min(self.s.predict_batch, CPU_PREDICT_CHUNK)
        for i in range(0, len(X), chunk):
            xb = X[i:i + chunk].unsqueeze(0).expand(self.kd, -1, -1, -1, -1)
            with self._autocast(predict=True):
                p = self.D.c_head(self._features(xb)).float().softmax(-1)[..., 0]
            out[i:i + len(xb[0])] = p.mean(0)
        return out


@dataclass
class SplitResult:
    """The two children of a node after one raw split or one refinement."""
    s_l: torch.Tensor
    s_m: torch.Tensor
    log: TrainLog
    fake: torch.Tensor  # uint8 (2, n, C, H, W): samples of G_alpha/G_l and G_beta/G_m
    nets: dict | None = None  # the trained weights (SplitGAN.networks), kept for a warm start only
    classifier: dict | None = None  # what routes a new image (classifier_state), unless keep_classifiers=False


def _cpu_state(net) -> dict:   # a network's weights, copied to the CPU
    return {k: v.detach().cpu().clone().contiguous() for k, v in net.state_dict().items()}


def _check_inputs(X, settings) -> None:
    """What a split trains on, checked before any training: images as from_tensor makes them, real Settings."""
    if not isinstance(settings, Settings):
        raise TypeError(f"settings must be a Settings (from get_settings), got {type(settings).__name__}")
    check_images(X, "X (the images)")


def check_membership(w, n_images: int, name: str = "membership") -> None:
    """A membership must be a vector of finite weights >= 0, one per image, with positive total mass."""
    if not isinstance(w, torch.Tensor) or w.ndim != 1 or w.shape[0] != n_images:
        shape = tuple(w.shape) if isinstance(w, torch.Tensor) else type(w).__name__
        raise ValueError(f"{name} must be a 1-D tensor with one weight per image ({n_images}), got {shape}")
    w = w.detach().float()
    if not bool(torch.isfinite(w).all()):
        raise ValueError(f"{name} contains NaN/inf values; memberships must be finite weights >= 0")
    if bool((w < 0).any()):
        raise ValueError(f"{name} has negative weights (min {float(w.min()):g}); memberships must be >= 0")
    if not float(w.sum()) > 0:
        raise ValueError(f"{name} has no mass (every weight is 0); a split needs a positive weight on some image")


def _children(q: torch.Tensor, s_k: torch.Tensor):
    """s_l = q * s_k and s_m = s_k - s_l: the children sum to the parent exactly."""
    s_l = q * s_k
    return s_l, s_k - s_l


def _train_and_split(gan: "SplitGAN", X: torch.Tensor, w: torch.Tensor, steps: int, desc: str,
                     **train_kw) -> SplitResult:
    """Train ``gan`` on the memberships ``w`` (kd, N), then split their sum with its classifiers.
    ``keep_nets=True`` (a keyword of ``raw_split`` and ``refine``): return the trained networks in ``nets``.
    A collapse is re-raised carrying the split the classifiers make at that
    moment (``exc.result``; not after NaN/inf losses), a last resort for the tree.
    """
    s_k = w.sum(0)
    keep_nets = train_kw.pop("keep_nets", False)   # the trained weights, also without a warm start

    def result(log):
        nets = gan.networks() if keep_nets or (gan.s.warm_start and gan.mode == "mgan") else None
        clf = {"mode": gan.mode, "D": _cpu_state(gan.D)} if gan.s.keep_classifiers else None
        return SplitResult(*_children(gan.predict(X), s_k), log, gan.sample(gan.s.n_samples), nets, clf)
    try:
        tlog = gan.train(X, w, steps, desc=desc, **train_kw)
    except CollapseError as exc:
        if exc.kind != "non_finite":
            exc.result = result(exc.log)
        raise
    return result(tlog)


def raw_split(X: torch.Tensor, s_k: torch.Tensor, settings: Settings, device: torch.device | None = None,
              desc: str = "raw split", init: dict | None = None, **train_kw) -> SplitResult:
    """Algorithm 2: train an MGAN on ``P_{s_k}`` and split ``s_k`` with its classifier.

    ``init``: ``{"nets": the parent's raw-split networks, "side": 0 or 1}`` to warm-start from them
    (:meth:`SplitGAN.start_from`; ``Settings.warm_start``); None: from scratch, as in the paper.
    """
    _check_inputs(X, settings)
    check_membership(s_k, len(X), "s_k")
    device = device or X.device
    gan = SplitGAN("mgan", X.shape[1:], settings, device)
    if init is not None:
        gan.start_from(init["nets"], init["side"])
    s_k = s_k.to(device, torch.float32)
    return _train_and_split(gan, X, s_k[None], steps_for(float(s_k.sum()), settings), desc, **train_kw)


def refine(X: torch.Tensor, s_l: torch.Tensor, s_m: torch.Tensor, settings: Settings,
           device: torch.device | None = None, desc: str = "refinement", **train_kw) -> SplitResult:
    """One refinement (Algorithms 3-4): fresh groups l and m, then re-estimation."""
    _check_inputs(X, settings)
    check_membership(s_l, len(X), "s_l")
    check_membership(s_m, len(X), "s_m")
    device = device or X.device
    gan = SplitGAN("pair", X.shape[1:], settings, device)
    w = torch.stack([s_l, s_m]).to(device, torch.float32)
    return _train_and_split(gan, X, w, steps_for(refine_mass(w.sum(1), settings), settings), desc, **train_kw)


def refine_mass(masses, s: Settings) -> float:
    """The mass a refinement's steps are counted from: the mean of the two groups' masses (the authors'
    code: (mass_l + mass_m) // (2 * batch) minibatches per epoch), or the larger (``refine_steps="max"``)."""
    masses = [float(m) for m in masses]
    return sum(masses) / len(masses) if s.refine_steps == "mean" else max(masses)
