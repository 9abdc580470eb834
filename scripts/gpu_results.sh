#!/usr/bin/env bash
# Grow the GPU reference results in one run (see benchmarks/gpu_results.py for the jobs and the budget):
#   bash scripts/gpu_results.sh [MINUTES] [extra options of benchmarks/gpu_results.py]
# On a machine with a GPU and torch (no Jupyter packages needed). The state (run dirs, results, job log)
# goes to .gpu-state/ (git-ignored) and is resumed by the next run; with $OUT set (a lent GPU machine),
# it is also packed into $OUT as state.tar.gz.NN files of at most 15 MiB. Afterwards, where the book is:
#   python benchmarks/gpu_results.py --unpack FOLDER_OF_THE_FILES --collect book/results/gpu
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
minutes=${1:-11}; shift || true
if [ -z "${HCMGAN_DATA:-}" ]; then
  for d in "$ROOT/.device-data" "$ROOT/../shared/data"; do
    [ -d "$d" ] && { export HCMGAN_DATA="$d"; break; }
  done
fi
echo "[gpu_results] data: ${HCMGAN_DATA:-<unset>}; $(python3 -c 'import torch; print("torch", torch.__version__, "cuda" if torch.cuda.is_available() else "no cuda", torch.cuda.get_device_name() if torch.cuda.is_available() else "")')"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
exec python3 benchmarks/gpu_results.py --state "$ROOT/.gpu-state" --minutes "$minutes" ${OUT:+--out "$OUT"} "$@"
