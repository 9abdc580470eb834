"""Training-step speed by precision on this CPU: fp32, bf16 autocast (``amp``), and oneDNN's bf16 math
for fp32 tensors, per step kind and width, with GFLOP per step and the share of this CPU's roofs.

    python benchmarks/precision.py              # quick and paper widths -> results/precision-<device>.json, .md
    python benchmarks/precision.py --small      # a few seconds: checks that everything runs (not a measurement)
    python benchmarks/precision.py --compile --quick-only   # also torch.compile of the step (compile time kept)

GFLOP per step are counted by ``torch.utils.flop_counter`` over one full step (D/C and G updates,
forward and backward). The roofs are measured here too: a 4096 x 4096 matmul in fp32 and in bf16.
``bench.py --precision`` runs this table.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from hcmgan_lite.settings import cpu_has_bf16, get_settings  # noqa: E402
from hcmgan_lite.training import SplitGAN  # noqa: E402

MODES = ("fp32", "bf16 autocast", "oneDNN bf16 math")
COMPILED = ("fp32 + torch.compile", "bf16 autocast + torch.compile")   # with --compile


@contextlib.contextmanager
def onednn_bf16():
    """fp32 tensors, with oneDNN's convolutions and matmuls computed in bf16 (``fp32_precision``)."""
    mk = torch.backends.mkldnn
    old = (mk.conv.fp32_precision, mk.matmul.fp32_precision)
    mk.conv.fp32_precision = mk.matmul.fp32_precision = "bf16"
    try:
        yield
    finally:
        mk.conv.fp32_precision, mk.matmul.fp32_precision = old


def roof(dtype, n: int = 4096, repeats: int = 5) -> float:
    """GFLOP/s of an n x n matmul in ``dtype`` (median of ``repeats``)."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    a @ b
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    return 2 * n ** 3 / statistics.median(times) / 1e9


def step_flops(gan: SplitGAN, X, w) -> float:
    from torch.utils.flop_counter import FlopCounterMode
    acc = torch.zeros(6)
    with FlopCounterMode(display=False) as fc:
        gan.step(X, w, 0.5, acc)
    return fc.get_total_flops() / 1e9


def row(kind: str, width: str, mode: str, X, steps: int, repeats: int, small: bool) -> dict:
    s = get_settings(width, collapse_spread=0, collapse_loss=0, amp=mode.startswith("bf16 autocast"),   # no check ends
                     compile=mode.endswith("torch.compile"))                                            # a run
    if small:
        s = s.replace(g_width=s.g_width // 4, d_widths=tuple(v // 4 for v in s.d_widths), batch_size=8,
                      gen_batch_size=8)
    torch.manual_seed(0)
    gan = SplitGAN(kind, tuple(X.shape[1:]), s, torch.device("cpu"))
    w = torch.ones(1, len(X)) if kind == "mgan" else torch.stack([torch.full((len(X),), .5)] * 2)
    ctx = onednn_bf16 if mode == "oneDNN bf16 math" else contextlib.nullcontext
    compile_s = None
    with ctx():
        gflop = step_flops(gan, X, w)
        if s.compile:   # Settings.compile: the generators and the critics' trunk under torch.compile
            t = time.perf_counter()
            gan.train(X, w, 2, progress=False)   # the first steps compile (forward and backward)
            compile_s = time.perf_counter() - t
        gan.train(X, w, max(2, steps // 4), progress=False)   # warm-up
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            gan.train(X, w, steps, progress=False)
            times.append((time.perf_counter() - t) / steps)
    sec = statistics.median(times)
    return {"kind": kind, "width": width, "mode": mode, "g_width": s.g_width, "d_widths": list(s.d_widths),
            "batch_size": s.batch_size, "autocast": gan.amp, "steps": steps, "repeats": repeats,
            "ms_per_step": 1000 * sec, "steps_s": 1 / sec, "gflop_per_step": gflop, "gflop_s": gflop / sec,
            "compile_seconds": compile_s}


def markdown(res) -> str:
    lines = [f"# Step speed by precision on {res['device']}", "",
             f"torch {res['torch']}, {res['threads']} thread{'s' * (res['threads'] != 1)}; native bf16: {res['native_bf16']}; measured roofs "
             f"(4096^2 matmul): fp32 {res['roof_fp32']:.0f} GFLOP/s, bf16 {res['roof_bf16']:.0f} GFLOP/s; "
             f"medians of {res['repeats']} timed runs."
             + (" **--small run: tiny networks, not a measurement.**" if res["small"] else ""), "",
             "| step | width | precision | ms/step | steps/s | speed-up | GFLOP/step | GFLOP/s | "
             "of fp32 roof | of bf16 roof | compile time |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    base = {(r["kind"], r["width"]): r["ms_per_step"] for r in res["rows"] if r["mode"] == "fp32"}
    for r in res["rows"]:
        step = "raw split (mgan)" if r["kind"] == "mgan" else "refinement (pair)"
        lines.append(f"| {step} | {r['width']} | {r['mode']} | {r['ms_per_step']:.0f} | {r['steps_s']:.2f} | "
                     f"{base[(r['kind'], r['width'])] / r['ms_per_step']:.2f}x | {r['gflop_per_step']:.1f} | "
                     f"{r['gflop_s']:.0f} | {r['gflop_s'] / res['roof_fp32']:.0%} | "
                     f"{r['gflop_s'] / res['roof_bf16']:.0%} | "
                     + (f"{r['compile_seconds']:.0f} s |" if r.get("compile_seconds") is not None else " |"))
    return "\n".join(lines) + "\n"


def run(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--small", action="store_true", help="tiny networks and steps (seconds; not a measurement)")
    p.add_argument("--quick-only", action="store_true")
    p.add_argument("--compile", action="store_true", help="also the step under torch.compile (fp32 and bf16)")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    args = p.parse_args(argv)
    sys.path.insert(0, str(HERE))
    from bench import device_name, device_slug   # noqa: E402 (the same names as bench.py's tables)
    cpu = torch.device("cpu")
    torch.manual_seed(0)
    X = torch.rand(10000 if not args.small else 500, 1, 28, 28) * 2 - 1
    repeats = args.repeats or (2 if args.small else 5)
    res = {"device": device_name(cpu), "torch": torch.__version__, "threads": torch.get_num_threads(),
           "native_bf16": cpu_has_bf16(), "small": args.small, "repeats": repeats,
           "roof_fp32": roof(torch.float32, 512 if args.small else 4096),
           "roof_bf16": roof(torch.bfloat16, 512 if args.small else 4096), "rows": []}
    for width in ["quick"] if args.quick_only or args.small else ["quick", "paper"]:
        steps = args.steps or (2 if args.small else 20 if width == "quick" else 4)
        for kind in ("mgan", "pair"):
            for mode in MODES + (COMPILED if args.compile else ()):
                r = row(kind, width, mode, X, steps, repeats, args.small)
                res["rows"].append(r)
                print(f"{kind} {width} {mode:18s} {r['ms_per_step']:8.1f} ms/step {r['gflop_s']:7.0f} GFLOP/s",
                      flush=True)
    out = Path(args.out) if args.out else HERE / "results"
    out.mkdir(parents=True, exist_ok=True)
    stem = f"precision-{device_slug(cpu)}" + ("-small" if args.small else "") + ("-compile" if args.compile else "")
    (out / f"{stem}.json").write_text(json.dumps(res, indent=2))
    (out / f"{stem}.md").write_text(markdown(res))
    print(markdown(res))
    return res


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    run()
