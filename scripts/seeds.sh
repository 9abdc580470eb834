#!/usr/bin/env bash
# Grow a quick-profile tree per seed with the command line, report it, and keep the reports:
#   bash scripts/seeds.sh OUT_FOLDER DATASET "FIT ARGUMENTS" SEED...
# e.g. bash scripts/seeds.sh book/results/quick-cpu fashion-mnist "--per-class 1000" 0 1 2
# Runs go to runs/seeds/<OUT_FOLDER name>/<dataset>-s<seed> (resumable); OUT_FOLDER/<dataset>-s<seed>.json gets each report.
# 10 leaves unless the arguments say otherwise (--clusters 4). Each report also runs k-means (with the
# run's seed) and Ward on the same images. One thread per run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ $# -ge 4 ] || { echo "usage: bash scripts/seeds.sh OUT_FOLDER DATASET \"FIT ARGUMENTS\" SEED..." >&2; exit 2; }
source "$ROOT/scripts/setup.sh"
out=$1 ds=$2 args=$3; shift 3
mkdir -p "$out"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1} HCMGAN_PROGRESS=${HCMGAN_PROGRESS:-0}
for s in "$@"; do
  run="$ROOT/runs/seeds/$(basename "$out")/$ds-s$s"
  # shellcheck disable=SC2086
  python -m hcmgan_lite fit "$ds" --clusters 10 $args --seed "$s" --device cpu --run-dir "$run" --no-report
  python -m hcmgan_lite report "$run" --baselines > /dev/null
  cp "$run/report.json" "$out/$ds-s$s.json"
done
