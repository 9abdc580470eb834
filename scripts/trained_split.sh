#!/usr/bin/env bash
# The running example trained long enough to work on a CPU, its networks kept for the raw-split chapter:
#   bash scripts/trained_split.sh [OUT_FOLDER] [SEED...]   (default: book/results/trained-split, seeds 0 1 2)
# Each seed: all threes and fives of MNIST-10k, a raw split at the quick profile's width (generator 32,
# critic 32/64/128) with 6,400 steps per GAN (--set min_steps=6400 --set max_steps=6400), fp32, one thread;
# OUT_FOLDER/running-example-w32-steps06400-s<S>.json (the measurements) and .pt (the generators and the
# critic, checksummed; hcmgan_lite.networks.load_split_networks reads it). Two seeds at a time
# (TRAINED_JOBS=N: N); a result that exists is not run again.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 HCMGAN_PROGRESS=0
out=${1:-$ROOT/book/results/trained-split}; shift || true
seeds=("$@"); [ ${#seeds[@]} -gt 0 ] || seeds=(0 1 2)
mkdir -p "$out"
run_one() {
  s=$1; out=$2
  f="$out/running-example-w32-steps06400-s$s"
  [ -f "$f.json" ] && { echo "[trained] exists: $f.json"; return 0; }
  if python -m hcmgan_lite split mnist --classes 3,5 --seed "$s" --set min_steps=6400 --set max_steps=6400 \
       --variant "width 32, 6,400 steps" --save-nets "$f.pt" --out "$f.json" > "$f.log" 2>&1; then
    rm -f "$f.log"; echo "[trained] done: $f.json"
  else
    echo "[trained] FAILED: $f (see $f.log)"
  fi
}
export -f run_one
printf '%s\0' "${seeds[@]}" | xargs -0 -P "${TRAINED_JOBS:-2}" -I{} bash -c 'run_one "$@"' _ {} "$out"
