#!/usr/bin/env bash
# What more training buys: the running example's raw-split ACC and the Fashion-MNIST-10k root split's
# purity against the number of steps per GAN, with the command line (one thread per run, two at a time):
#   bash scripts/compute_curve.sh [OUT_FOLDER] [SEEDS] [STEPS] [WIDTHS]
#   defaults: book/results/compute "0 1" "200 400 800 1600 3200 6400" "32"
# Width w means generator width w and critic widths w, 2w, 4w (the quick profile is w = 32).
# OUT_FOLDER/{running-example,fmnist-root}/w<W>-steps<NNNNN>-s<S>.json, one `split` result each; the
# cheapest points run first, and a result that exists is not run again (delete it to redo it), so an
# interrupted run resumes. On 2 CPU cores a point costs about 0.25 s per step.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 HCMGAN_PROGRESS=0
out=${1:-$ROOT/book/results/compute}
read -r -a seeds <<<"${2:-0 1}"
read -r -a steps <<<"${3:-200 400 800 1600 3200 6400}"
read -r -a widths <<<"${4:-32}"
mkdir -p "$out/running-example" "$out/fmnist-root"
jobs=()
for n in "${steps[@]}"; do
  for w in "${widths[@]}"; do
    for s in "${seeds[@]}"; do
      sets="--set min_steps=$n --set max_steps=$n --set g_width=$w --set d_widths=($w,$((2 * w)),$((4 * w)))"
      name=$(printf 'w%d-steps%05d-s%d.json' "$w" "$n" "$s")
      jobs+=("$out/running-example/$name|mnist --classes 3,5 --seed $s $sets")
      jobs+=("$out/fmnist-root/$name|fashion-mnist --per-class 1000 --seed $s $sets")
    done
  done
done
run_one() {
  IFS='|' read -r file args <<<"$1"
  [ -f "$file" ] && { echo "[compute] exists: $file"; return 0; }
  # shellcheck disable=SC2086
  if python -m hcmgan_lite split $args --variant "$(basename "$file" .json)" --out "$file" > "$file.log" 2>&1; then
    rm -f "$file.log"; echo "[compute] done: $file"
  else
    echo "[compute] FAILED: $file (see $file.log)"
  fi
}
export -f run_one
printf '%s\0' "${jobs[@]}" | xargs -0 -P 2 -I{} bash -c 'run_one "$@"' _ {}
