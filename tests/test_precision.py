"""bf16 on the CPU: the capability probe, the dtype a step trains in, a step under autocast, the benchmark."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import hcmgan_lite.settings as settings_mod
from hcmgan_lite import get_settings
from hcmgan_lite.settings import amp_dtype, cpu_has_bf16
from hcmgan_lite.training import SplitGAN

ROOT = Path(__file__).resolve().parents[1]
CPU = torch.device("cpu")
TINY = dict(g_width=8, d_widths=(8, 16, 32), batch_size=8, gen_batch_size=8, collapse_spread=0, collapse_loss=0)


@pytest.mark.parametrize("amx,avx512_bf16,want", [(True, False, True), (False, True, True), (False, False, False)])
def test_the_probe_reads_torchs_capability_checks(monkeypatch, amx, avx512_bf16, want):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16, raising=False)
    assert cpu_has_bf16() is want


@pytest.mark.parametrize("flags,want", [("fpu sse avx512f avx512_bf16", True), ("fpu amx_bf16 amx_tile", True),
                                        ("fpu sse avx2 avx512f", False)])
def test_without_torchs_checks_the_probe_reads_cpuinfo(monkeypatch, tmp_path, flags, want):
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported", raising=False)
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported", raising=False)
    info = tmp_path / "cpuinfo"
    info.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    real_open = open
    monkeypatch.setattr("builtins.open", lambda f, *a, **k: real_open(info if f == "/proc/cpuinfo" else f, *a, **k))
    assert cpu_has_bf16() is want


@pytest.mark.parametrize("native", [True, False])
def test_amp_trains_in_bf16_only_where_the_cpu_has_it(monkeypatch, native):
    monkeypatch.setattr(settings_mod, "cpu_has_bf16", lambda: native)
    assert amp_dtype(get_settings("quick", amp=True), CPU) == (torch.bfloat16 if native else None)
    assert amp_dtype(get_settings("quick", amp=False), CPU) is None
    assert amp_dtype(get_settings("quick", amp=True), torch.device("cuda")) == torch.bfloat16
    assert SplitGAN("mgan", (1, 28, 28), get_settings("quick", **TINY, amp=True), CPU).amp is native


@pytest.mark.parametrize("mode", ["mgan", "pair"])
def test_a_bf16_step_keeps_losses_weights_and_memberships_fp32(monkeypatch, mode):
    monkeypatch.setattr(settings_mod, "cpu_has_bf16", lambda: True)
    torch.manual_seed(0)
    gan = SplitGAN(mode, (1, 28, 28), get_settings("quick", **TINY, amp=True), CPU)
    X = torch.rand(64, 1, 28, 28) * 2 - 1
    w = torch.ones(1, 64) if mode == "mgan" else torch.full((2, 64), 0.5)
    acc = torch.zeros(6)
    before = [p.detach().clone() for p in gan.D.parameters()]
    gan.step(X, w, 0.5, acc)
    assert acc.dtype == torch.float32 and bool(torch.isfinite(acc).all())
    assert all(p.dtype == torch.float32 for p in list(gan.D.parameters()) + list(gan.G.parameters()))
    assert any(not torch.equal(a, p) for a, p in zip(before, gan.D.parameters()))
    q = gan.predict(X)
    assert q.dtype == torch.float32 and bool(((q >= 0) & (q <= 1)).all())
    # the re-estimation on a CPU runs in fp32: the same numbers as without autocast
    gan.amp = False
    assert torch.equal(q, gan.predict(X))


def test_precision_benchmark_small_writes_its_table(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--precision", "--small",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    res = json.loads(next(tmp_path.glob("precision-*-small.json")).read_text())
    assert {r["mode"] for r in res["rows"]} == {"fp32", "bf16 autocast", "oneDNN bf16 math"}
    assert all(r["gflop_per_step"] > 0 and r["ms_per_step"] > 0 for r in res["rows"])
    assert "not a measurement" in next(tmp_path.glob("precision-*-small.md")).read_text()
