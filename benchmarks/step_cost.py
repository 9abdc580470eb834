"""What one raw-split training step costs at each width of the compute curve, on this machine.

The compute curve (``scripts/compute_curve.sh``) gives a split's quality against its steps per GAN;
the seconds recorded with each of its points come from different days and loads, so they cannot say
which width buys the most per CPU second.  This script times the steps themselves, in one run: the
quick profile's raw split (batch 64 real + 2 x 64 generated) at generator width w and critic widths
w, 2w, 4w, one thread, the widths interleaved within every repeat so that a change in the machine's
load hits all of them alike; medians over the repeats.  Speed does not depend on the pixels, so the
images are random.

    python benchmarks/step_cost.py                              # widths 16 32 64 -> the curve's folder
    python benchmarks/step_cost.py --widths 16 32 --repeats 3 --out /tmp/cost.json
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench import device_name, load  # noqa: E402
from hcmgan_lite.settings import get_settings  # noqa: E402
from hcmgan_lite.training import SplitGAN  # noqa: E402

DEFAULT_OUT = HERE.parent / "book" / "results" / "compute" / "step-seconds.json"


def measure(widths, steps: int = 50, repeats: int = 5, warmup: int = 20, images: int = 2000, seed: int = 0) -> dict:
    """Median seconds per raw-split step of the quick profile at each generator width (one thread, CPU)."""
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    X = torch.rand(images, 1, 28, 28) * 2 - 1
    w = torch.ones(1, images)
    # SplitGAN.step, not .train: on random images train's collapse checks would stop the run; the step is what
    # a split repeats (train adds one host sync per 50 steps). acc: step's six running losses.
    gans = {}
    for width in widths:
        s = get_settings("quick", g_width=width, d_widths=(width, 2 * width, 4 * width))
        gans[width] = (SplitGAN("mgan", tuple(X.shape[1:]), s, torch.device("cpu")), torch.zeros(6))
        for _ in range(warmup):
            gans[width][0].step(X, w, 0.5, gans[width][1])
    runs = {width: [] for width in widths}
    load_before = load()
    for r in range(repeats):
        order = list(widths) if r % 2 == 0 else list(widths)[::-1]
        for width in order:
            gan, acc = gans[width]
            t = time.perf_counter()
            for _ in range(steps):
                gan.step(X, w, 0.5, acc)
            runs[width].append((time.perf_counter() - t) / steps)
    return {"machine": device_name(torch.device("cpu")), "torch": torch.__version__, "threads": 1,
            "batch_size": 64, "steps": steps, "repeats": repeats, "load_before": load_before, "load_after": load(),
            "seconds_per_step": {str(width): statistics.median(runs[width]) for width in widths},
            "runs": {str(width): runs[width] for width in widths}}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--widths", type=int, nargs="+", default=[16, 32, 64])
    p.add_argument("--steps", type=int, default=50, help="steps per timed run")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", default=str(DEFAULT_OUT))
    a = p.parse_args(argv)
    if any(w < 2 or w % 2 for w in a.widths):
        p.error(f"widths must be even integers >= 2, got {a.widths}")
    if a.steps < 1 or a.repeats < 1:
        p.error("--steps and --repeats must be >= 1")
    res = measure(a.widths, a.steps, a.repeats)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n")
    base = res["seconds_per_step"].get("32")
    for width, sec in res["seconds_per_step"].items():
        rel = f" ({sec / base:.2f}x width 32)" if base else ""
        print(f"width {width}: {sec:.4f} s per step{rel}")
    print(f"-> {out}")


if __name__ == "__main__":
    main()
